"""Running one step of one execution for a Step Functions task (Lambda or Fargate).

Step Functions decides what runs next; these functions do the step and keep the database
exactly as the threads runner does (``executions`` and ``step_runs``: the same statuses, the
state merged after each step, the cursor moved in the same transaction), so ``medflow status``,
the portal and the API cannot tell which runner ran a pipeline.

The Step Functions execution's ARN holds the medflow execution's lease (``owner``) from first
step to last. A task that runs twice (Step Functions delivers at least once; a Lambda that
crashed after recording its step is retried) finds the cursor already past its step and does
nothing. Errors leave as :class:`RetryableStepError` (a :class:`~medflow.errors.TransientError`
or a step timeout: the state's ``Retry`` matches it) or :class:`PermanentStepError` (anything
else: the state's ``Catch`` routes it to the failure state). Their message is JSON
``{"step", "type", "message"}``: the failure task reads it back from the ``Catch`` output.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from medflow.aws.asl import PERMANENT_ERROR, RETRYABLE_ERROR
from medflow.errors import PipelineError, StepTimeoutError, TransientError
from medflow.platform.db import ExecutionRecord, LeaseLostError, RecordNotFoundError
from medflow.platform.runner.context import Services
from medflow.platform.runner.registry import PipelineRegistry
from medflow.platform.runner.steps import (
    call_with_timeout,
    merge_state,
    step_context,
)
from medflow.platform.runner.steps import (
    describe as describe_error,
)

log = logging.getLogger(__name__)

_RETRYABLE = (TransientError, StepTimeoutError)
_MESSAGE_LIMIT = 2000


class RetryableStepError(PipelineError):
    """A try failed in a way worth repeating; the state's Retry block decides when."""


class PermanentStepError(PipelineError):
    """A step failed for good; the state's Catch sends the execution to its failure state."""


assert RetryableStepError.__name__ == RETRYABLE_ERROR
assert PermanentStepError.__name__ == PERMANENT_ERROR


def _error_json(step: str, exc: BaseException) -> str:
    return json.dumps(
        {"step": step, "type": type(exc).__name__, "message": str(exc)[:_MESSAGE_LIMIT]}
    )


@dataclass(frozen=True)
class StepTask:
    """What a task of the state machine asks for (the ``Payload`` the generator writes).

    Attributes:
        execution_id: the medflow execution.
        pipeline: its pipeline.
        step: the step's name ("" on the failure task of a pipeline without ``on_failure``).
        owner: the Step Functions execution ARN (the lease owner).
        retry_count: ``$$.State.RetryCount``; the try's number is one more.
        error: on the failure task, the ``Catch`` output (``{"Error", "Cause"}``).
    """

    execution_id: str
    pipeline: str
    step: str
    owner: str
    retry_count: int = 0
    error: Mapping[str, Any] | None = None

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> StepTask:
        """Read a task payload.

        Raises:
            PermanentStepError: a field is missing or of the wrong type (a deployment bug).
        """
        try:
            error = payload.get("error")
            return cls(
                execution_id=str(payload["execution_id"]),
                pipeline=str(payload["pipeline"]),
                step=str(payload.get("step") or ""),
                owner=str(payload["owner"]),
                retry_count=int(payload.get("retry_count") or 0),
                error=error if isinstance(error, Mapping) else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise PermanentStepError(
                json.dumps({"step": "", "type": "BadTaskPayload", "message": repr(exc)})
            ) from exc

    @property
    def attempt(self) -> int:
        """The try's number, 1-based."""
        return self.retry_count + 1


def _acquire(services: Services, task: StepTask) -> ExecutionRecord:
    """The execution, held by this Step Functions run. Another run holding it (a retry
    started while this one still ran) is permanent for this run and changes nothing."""
    try:
        return services.db.executions.acquire(task.execution_id, task.owner)
    except (LeaseLostError, RecordNotFoundError) as exc:
        raise PermanentStepError(_error_json(task.step, exc)) from exc


def run_step(services: Services, registry: PipelineRegistry, task: StepTask) -> dict[str, Any]:
    """Run ``task.step`` of the execution, record it, and move the cursor on.

    Returns:
        ``{"execution_id", "step", "status"}``: ``succeeded`` (this step), ``skipped`` (done
        before: a repeated task), or the execution's final status when it was already over.

    Raises:
        RetryableStepError: a transient failure or the step's timeout.
        PermanentStepError: any other failure (recorded on the step run).
    """
    try:
        pipeline = registry.get(task.pipeline)
        idx = [s.name for s in pipeline.steps].index(task.step)
    except (LookupError, ValueError) as exc:
        raise PermanentStepError(_error_json(task.step, exc)) from exc
    executions = services.db.executions
    rec = _acquire(services, task)
    out = {"execution_id": rec.id, "step": task.step}
    if rec.done:
        return {**out, "status": rec.status}
    if rec.next_step > idx:
        log.info("execution %s: step %s already done; nothing to do", rec.id, task.step)
        return {**out, "status": "skipped"}
    if rec.next_step < idx:
        behind = PipelineError(f"execution {rec.id} is at step {rec.next_step}, not {idx}")
        raise PermanentStepError(_error_json(task.step, behind))
    step = pipeline.steps[idx]
    run_id = executions.start_step(rec.id, task.owner, step.name, task.attempt)
    began = time.monotonic()
    try:
        ctx = step_context(services, pipeline, rec, step, idx, rec.state, task.attempt)
        state = merge_state(rec.state, call_with_timeout(step, ctx), step.name)
    except _RETRYABLE as exc:
        executions.end_step(
            rec.id, task.owner, run_id, "retrying", describe_error(exc), time.monotonic() - began
        )
        log.info(
            "execution %s: step %s try %d failed (%s)",
            rec.id,
            step.name,
            task.attempt,
            type(exc).__name__,
        )
        raise RetryableStepError(_error_json(step.name, exc)) from exc
    except Exception as exc:
        executions.fail_step(rec.id, task.owner, run_id, describe_error(exc))
        log.warning(
            "execution %s: step %s failed permanently (%s)", rec.id, step.name, type(exc).__name__
        )
        raise PermanentStepError(_error_json(step.name, exc)) from exc
    n = len(pipeline.steps)
    executions.advance(
        rec.id, task.owner, run_id, idx + 1, state, (idx + 1) / n, time.monotonic() - began, None
    )
    if idx + 1 == n:
        executions.finish(
            rec.id,
            task.owner,
            "succeeded",
            state=state,
            document_status="processed",
            document_id=rec.document_id,
        )
        log.info("execution %s succeeded", rec.id)
    return {**out, "status": "succeeded"}


def error_from_catch(caught: Mapping[str, Any] | None, default_step: str) -> dict[str, str]:
    """``{"step", "type", "message"}`` from a ``Catch`` output (``{"Error", "Cause"}``).

    A handler's own errors carry that JSON as their message (inside Lambda's ``Cause``
    envelope, or as the ``Cause`` a Fargate task sends); anything else (a Lambda timeout, an
    out-of-memory exit, ``States.Timeout``) is described by its error name and cause.
    """
    caught = caught or {}
    name = str(caught.get("Error") or "UnknownError")
    cause = str(caught.get("Cause") or "")
    for text in (cause, _lambda_message(cause)):
        try:
            data = json.loads(text) if text else None
        except ValueError:
            data = None
        if isinstance(data, dict) and {"step", "type", "message"} <= set(data):
            return {k: str(data[k]) for k in ("step", "type", "message")}
    return {"step": default_step, "type": name, "message": cause[:_MESSAGE_LIMIT]}


def _lambda_message(cause: str) -> str:
    try:
        envelope = json.loads(cause)
    except ValueError:
        return ""
    return str(envelope.get("errorMessage", "")) if isinstance(envelope, dict) else ""


def run_failure(services: Services, registry: PipelineRegistry, task: StepTask) -> dict[str, Any]:
    """Handle a failed execution: run the pipeline's ``on_failure`` step (quarantine) with
    ``state["error"]``, then close the execution ``quarantined``; or ``failed`` when the
    pipeline has no such step.

    Returns:
        ``{"execution_id", "status"}``.

    Raises:
        RetryableStepError: the failure step failed transiently (the state retries it).
        PermanentStepError: it failed for good; the execution is closed ``failed``.
    """
    try:
        pipeline = registry.get(task.pipeline)
    except LookupError as exc:
        raise PermanentStepError(_error_json(task.step, exc)) from exc
    executions = services.db.executions
    rec = _acquire(services, task)
    if rec.done:
        return {"execution_id": rec.id, "status": rec.status}
    n = len(pipeline.steps)
    failed_step = pipeline.steps[min(rec.next_step, n - 1)].name
    error = error_from_catch(task.error, failed_step)
    text = f"{error['type']}: {error['message']}"[:_MESSAGE_LIMIT]
    failed_state = {**rec.state, "error": error}
    fstep = pipeline.on_failure
    status, final_error, final_state = "failed", text, failed_state
    if fstep is not None:
        run_id = executions.start_step(rec.id, task.owner, fstep.name, task.attempt)
        try:
            ctx = step_context(
                services, pipeline, rec, fstep, rec.next_step, failed_state, task.attempt
            )
            final_state = merge_state(failed_state, call_with_timeout(fstep, ctx), fstep.name)
        except _RETRYABLE as exc:
            executions.end_step(rec.id, task.owner, run_id, "retrying", describe_error(exc))
            if task.attempt < fstep.retry.max_attempts:
                raise RetryableStepError(_error_json(fstep.name, exc)) from exc
            final_error = f"{text}; {fstep.name} failed too: {describe_error(exc)}"
            _close(services, rec, task.owner, "failed", final_error, failed_state, error)
            raise PermanentStepError(_error_json(fstep.name, exc)) from exc
        except Exception as exc:
            executions.fail_step(rec.id, task.owner, run_id, describe_error(exc))
            final_error = f"{text}; {fstep.name} failed too: {describe_error(exc)}"
            _close(services, rec, task.owner, "failed", final_error, failed_state, error)
            raise PermanentStepError(_error_json(fstep.name, exc)) from exc
        executions.complete_step(
            rec.id, task.owner, run_id, rec.next_step, final_state, rec.progress
        )
        status = "quarantined"
    _close(services, rec, task.owner, status, final_error, final_state, error)
    return {"execution_id": rec.id, "status": status}


def _close(
    services: Services,
    rec: ExecutionRecord,
    owner: str,
    status: str,
    error_text: str,
    state: Mapping[str, Any],
    error: Mapping[str, str],
) -> None:
    services.db.executions.finish(
        rec.id,
        owner,
        status,
        error=error_text,
        state=state,
        document_status=status,
        document_id=rec.document_id,
    )
    if rec.document_id is not None:
        services.db.audit.record(
            "runner",
            status,
            "document",
            rec.document_id,
            {"execution": rec.id, "step": error.get("step"), "error_type": error.get("type")},
        )
    log.warning(
        "execution %s %s after step %s failed (%s)",
        rec.id,
        status,
        error.get("step"),
        error.get("type"),
    )
