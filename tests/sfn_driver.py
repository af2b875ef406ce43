"""A small Step Functions interpreter for tests: walks a generated ASL definition the way the
service does, calling the Lambda handlers in this process.

It covers what medflow's generator emits (the Amazon States Language spec, states-language.net):
``Task`` states on ``arn:aws:states:::lambda:invoke`` with ``Parameters`` (``.$`` paths into the
input and the context object, and the ``States.Format`` intrinsic), ``ResultPath`` (``null`` or
a path), ``Retry`` (``ErrorEquals``, ``MaxAttempts``, ``IntervalSeconds``, ``BackoffRate``,
``MaxDelaySeconds``) and ``Catch``; ``Fail``, ``Succeed`` and ``Pass``. A handler's exception
becomes the error Lambda reports: ``Error`` = the exception's class name, ``Cause`` = Lambda's
JSON envelope. Delays are recorded, not slept.

``Task`` states on ``arn:aws:states:::ecs:runTask.waitForTaskToken`` (a Fargate task) call the
``container`` function with the container's environment (the overrides, resolved, with the
task token in ``$$.Task.Token``) and a :class:`TaskTokens` client; the task ends as the
container reports it with ``send_task_success`` / ``send_task_failure``, whose ``error`` and
``cause`` become the state's error, as the service does.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Handler = Callable[[dict[str, Any], Any], Any]
FARGATE_TASK = "arn:aws:states:::ecs:runTask.waitForTaskToken"
_FORMAT = re.compile(r"^States\.Format\('((?:[^'\\]|\\.)*)'((?:\s*,\s*[^,]+)*)\)$")


class TaskTokens:
    """The two Step Functions calls a task that holds a token makes (boto3's names)."""

    def __init__(self) -> None:
        self.results: dict[str, tuple[str, Any, str]] = {}

    def send_task_success(self, taskToken: str, output: str) -> None:
        self.results[taskToken] = ("success", json.loads(output), "")

    def send_task_failure(self, taskToken: str, error: str, cause: str) -> None:
        self.results[taskToken] = ("failure", error, cause)


Container = Callable[[dict[str, str], TaskTokens], Any]


class TaskError(Exception):
    """An error as Step Functions sees it: a name and a cause."""

    def __init__(self, name: str, cause: str) -> None:
        super().__init__(name)
        self.name = name
        self.cause = cause


@dataclass
class Outcome:
    """How an execution ended."""

    status: str  # SUCCEEDED or FAILED
    states: list[str] = field(default_factory=list)  # every state entered, in order
    tries: dict[str, int] = field(default_factory=dict)
    delays: list[float] = field(default_factory=list)
    error: str | None = None
    output: Any = None


def _path(data: Any, path: str) -> Any:
    if path == "$":
        return data
    cur = data
    for part in path[2:].split("."):
        cur = cur[part]
    return cur


def _set_path(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    if path == "$":
        return value  # type: ignore[no-any-return]
    out = copy.deepcopy(data)
    parts = path[2:].split(".")
    cur = out
    for part in parts[:-1]:
        cur = cur.setdefault(part, {})
    cur[parts[-1]] = value
    return out


def _resolve(value: str, data: Any, context: Mapping[str, Any]) -> Any:
    fmt = _FORMAT.match(value)
    if fmt is not None:  # States.Format('...{}...', path, ...)
        args = [a.strip() for a in fmt.group(2).split(",") if a.strip()]
        text = fmt.group(1)
        for arg in args:
            text = text.replace("{}", str(_resolve(arg, data, context)), 1)
        return text
    if value.startswith("$$."):
        return _path(context, value[1:])
    return _path(data, value)


def _parameters(template: Any, data: Any, context: Mapping[str, Any]) -> Any:
    if isinstance(template, dict):
        out: dict[str, Any] = {}
        for key, value in template.items():
            if key.endswith(".$"):
                out[key[:-2]] = _resolve(value, data, context)
            else:
                out[key] = _parameters(value, data, context)
        return out
    if isinstance(template, list):
        return [_parameters(v, data, context) for v in template]
    return template


def _matches(names: list[str], error: str) -> bool:
    if "States.ALL" in names:
        return True
    return error in names


class LocalStateMachine:
    """Runs one ASL definition.

    Args:
        definition: the ASL (placeholders already substituted).
        functions: Lambda function name or ARN -> handler ``(event, context)``.
        container: runs a Fargate task: ``(environment, token client)``.
    """

    def __init__(
        self,
        definition: Mapping[str, Any],
        functions: Mapping[str, Handler],
        container: Container | None = None,
    ) -> None:
        self.definition = definition
        self.functions = dict(functions)
        self.container = container
        self.tokens = TaskTokens()
        self.ran_as: dict[str, str] = {}  # state name -> "lambda" or "fargate"

    def _run_container(self, name: str, payload: Any, token: str) -> Any:
        if self.container is None:
            raise NotImplementedError(f"{name}: no container runner given for Fargate tasks")
        [override] = payload["Overrides"]["ContainerOverrides"]
        env = {e["Name"]: str(e["Value"]) for e in override["Environment"]}
        self.ran_as[name] = "fargate"
        self.container(env, self.tokens)
        if token not in self.tokens.results:
            raise TaskError("States.Timeout", f"{name}: the task never reported its token")
        kind, value, cause = self.tokens.results.pop(token)
        if kind == "failure":
            raise TaskError(value, cause)
        return value

    def _invoke(self, name: str, state: Mapping[str, Any], payload: Any, token: str) -> Any:
        if state["Resource"] == FARGATE_TASK:
            return self._run_container(name, payload, token)
        if state["Resource"] != "arn:aws:states:::lambda:invoke":
            raise NotImplementedError(f"resource {state['Resource']} is not emulated")
        self.ran_as[name] = "lambda"
        name = state["Parameters"]["FunctionName"]
        handler = self.functions[name]
        try:
            result = handler(json.loads(json.dumps(payload["Payload"])), None)
        except Exception as exc:  # Lambda reports any exception as the function's error
            envelope = {"errorMessage": str(exc), "errorType": type(exc).__name__}
            raise TaskError(type(exc).__name__, json.dumps(envelope)) from exc
        return {"Payload": json.loads(json.dumps(result)), "StatusCode": 200}

    def run(self, execution_input: Mapping[str, Any], execution_arn: str) -> Outcome:
        """Run from ``StartAt`` to a terminal state."""
        states = self.definition["States"]
        name = self.definition["StartAt"]
        data: Any = dict(execution_input)
        outcome = Outcome(status="RUNNING")
        while True:
            state = states[name]
            outcome.states.append(name)
            kind = state["Type"]
            if kind == "Fail":
                outcome.status, outcome.error = "FAILED", state.get("Error")
                return outcome
            if kind == "Succeed":
                outcome.status, outcome.output = "SUCCEEDED", data
                return outcome
            if kind == "Pass":
                pass
            elif kind == "Task":
                caught = self._task(name, state, data, execution_arn, outcome)
                if caught is not None:
                    data, name = caught
                    continue
                if "ResultPath" in state and state["ResultPath"] is None:
                    pass
                else:
                    data = _set_path(data, state.get("ResultPath", "$"), outcome.output)
            else:
                raise NotImplementedError(f"state type {kind}")
            if state.get("End"):
                outcome.status, outcome.output = "SUCCEEDED", data
                return outcome
            name = state["Next"]

    def _task(
        self,
        name: str,
        state: Mapping[str, Any],
        data: Any,
        execution_arn: str,
        outcome: Outcome,
    ) -> tuple[Any, str] | None:
        """Run a Task with its retriers; returns ``(data, next state)`` when a Catch took it."""
        retriers = state.get("Retry", [])
        used = [0] * len(retriers)
        while True:
            token = f"{execution_arn}/{name}/{sum(used)}"
            context = {
                "Execution": {"Id": execution_arn},
                "State": {"Name": name, "RetryCount": sum(used)},
                "Task": {"Token": token},
            }
            payload = _parameters(state.get("Parameters", {}), data, context)
            outcome.tries[name] = outcome.tries.get(name, 0) + 1
            try:
                outcome.output = self._invoke(name, state, payload, token)
                return None
            except TaskError as err:
                # The spec: the first retrier whose ErrorEquals matches decides alone.
                i = next(
                    (i for i, r in enumerate(retriers) if _matches(r["ErrorEquals"], err.name)),
                    None,
                )
                if i is not None and used[i] < retriers[i].get("MaxAttempts", 3):
                    r = retriers[i]
                    delay = r.get("IntervalSeconds", 1) * r.get("BackoffRate", 2.0) ** used[i]
                    outcome.delays.append(min(delay, r.get("MaxDelaySeconds", delay)))
                    used[i] += 1
                    continue
                for catcher in state.get("Catch", []):
                    if _matches(catcher["ErrorEquals"], err.name):
                        caught = {"Error": err.name, "Cause": err.cause}
                        return _set_path(data, catcher["ResultPath"], caught), catcher["Next"]
                raise
