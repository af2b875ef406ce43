"""State machines generated from pipeline declarations: ASL rules, Retry from each RetryPolicy,
a Catch on every Task, and a declaration change showing up in the machine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cfnlint
import jsonschema
import pytest

from medflow.aws.app import declared_pipelines
from medflow.aws.asl import (
    LAMBDA_MAX_TIMEOUT_S,
    QUARANTINED_STATE,
    RETRYABLE_ERROR,
    compute_for,
    placeholders,
    retry_block,
    state_machine,
    substitute,
)
from medflow.errors import PipelineDeclarationError
from medflow.pipelines.labs import build_pipeline as labs_pipeline
from medflow.pipelines.records import records_pipeline
from medflow.platform.runner import NO_RETRY, Pipeline, RetryPolicy, Step

SCHEMA = Path(cfnlint.__file__).parent / "data/schemas/other/step_functions/statemachine.json"


def asl_problems(definition: dict[str, Any]) -> list[str]:
    """Violations of the Amazon States Language rules: cfn-lint's ASL JSON schema (what its
    rule E3601 applies to a template), plus the rules a schema cannot express (spec sections
    "States", "Transitions", "Retrying after error", "Fallback states")."""
    schema = json.loads(SCHEMA.read_text())
    problems = [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(definition)]
    states = definition["States"]
    if definition["StartAt"] not in states:
        problems.append("StartAt names no state")
    reached, todo = set(), [definition["StartAt"]]
    while todo:
        name = todo.pop()
        if name in reached:
            continue
        reached.add(name)
        state = states[name]
        nexts = [state["Next"]] if "Next" in state else []
        nexts += [c["Next"] for c in state.get("Catch", [])]
        for n in nexts:
            if n not in states:
                problems.append(f"{name}: Next {n!r} names no state")
            else:
                todo.append(n)
        terminal = state["Type"] in ("Fail", "Succeed") or state.get("End") is True
        if terminal == ("Next" in state):
            problems.append(f"{name}: needs exactly one of Next / End")
    for name, state in states.items():
        for r in state.get("Retry", []):
            if r["MaxAttempts"] < 0 or r["IntervalSeconds"] < 1 or r["BackoffRate"] < 1:
                problems.append(f"{name}: bad retrier {r}")
        for c in state.get("Catch", []):
            if "States.ALL" in c["ErrorEquals"] and c is not state["Catch"][-1]:
                problems.append(f"{name}: States.ALL must be the last catcher")
    problems += [f"{n}: unreachable" for n in states if n not in reached]
    if not any(s["Type"] in ("Fail", "Succeed") or s.get("End") for s in states.values()):
        problems.append("no terminal state")
    return problems


PIPELINES = {p.name: p for p in declared_pipelines()}


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_every_pipeline_gives_a_valid_state_machine(name: str) -> None:
    definition = state_machine(PIPELINES[name])
    assert asl_problems(definition) == []
    # Placeholders are CloudFormation DefinitionSubstitutions; filled in, still valid.
    values = {
        p: f"arn:aws:lambda:us-east-1:123456789012:function:{p}" for p in placeholders(definition)
    }
    assert asl_problems(substitute(definition, values)) == []


def test_the_checker_catches_what_the_rules_forbid() -> None:
    definition = state_machine(labs_pipeline())
    definition["States"]["read"]["Next"] = "nowhere"
    definition["States"]["notify"]["Retry"][1]["IntervalSeconds"] = 0
    definition["States"]["extra"] = {"Type": "Pass", "End": True}
    definition["States"]["publish"]["Type"] = "Taks"
    problems = asl_problems(definition)
    assert any("'Taks' is not one of" in p for p in problems)  # the schema's part
    assert any("nowhere" in p for p in problems)
    assert any("extra: unreachable" in p for p in problems)
    assert any("IntervalSeconds" in p or "bad retrier" in p for p in problems)


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_steps_become_tasks_in_order_with_retry_from_their_policy(name: str) -> None:
    pipeline = PIPELINES[name]
    definition = state_machine(pipeline)
    states = definition["States"]
    assert definition["StartAt"] == pipeline.steps[0].name
    for i, step in enumerate(pipeline.steps):
        state = states[step.name]
        assert state["Type"] == "Task"
        if i + 1 < len(pipeline.steps):
            assert state["Next"] == pipeline.steps[i + 1].name
        else:
            assert state["End"] is True
        own = [r for r in state["Retry"] if RETRYABLE_ERROR in r["ErrorEquals"]]
        assert len(own) == 1
        r, policy = own[0], step.retry
        assert r["MaxAttempts"] == policy.max_attempts - 1
        assert r["IntervalSeconds"] == max(1, -(-policy.base_delay_s // 1))
        assert r["BackoffRate"] == 2.0
        assert r["MaxDelaySeconds"] == max(1, -(-policy.max_delay_s // 1))
        assert r["JitterStrategy"] == ("FULL" if policy.jitter > 0 else "NONE")


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_every_task_catches_everything_into_the_failure_path(name: str) -> None:
    pipeline = PIPELINES[name]
    states = state_machine(pipeline)["States"]
    failure = pipeline.on_failure.name if pipeline.on_failure else "RecordFailure"
    tasks = {n: s for n, s in states.items() if s["Type"] == "Task"}
    assert failure in tasks
    for n, s in tasks.items():
        assert s["Catch"][-1]["ErrorEquals"] == ["States.ALL"], n
        assert s["Catch"][-1]["Next"] == (failure if n != failure else "Failed")
    assert states[failure]["Next"] == (QUARANTINED_STATE if pipeline.on_failure else "Failed")
    assert states[QUARANTINED_STATE if pipeline.on_failure else "Failed"]["Type"] == "Fail"


def _noop(ctx: Any) -> None:
    return None


def test_adding_a_step_to_a_declaration_changes_the_state_machine() -> None:
    base = labs_pipeline()
    extra = Step("archive", _noop, RetryPolicy(max_attempts=4, base_delay_s=3.0, max_delay_s=40))
    grown = Pipeline(base.name, "2", (*base.steps, extra), base.on_failure)
    before, after = state_machine(base)["States"], state_machine(grown)["States"]
    assert "archive" not in before
    assert before["notify"]["End"] is True
    assert after["notify"]["Next"] == "archive"
    assert after["archive"]["End"] is True
    own = after["archive"]["Retry"][-1]
    assert (own["MaxAttempts"], own["IntervalSeconds"], own["MaxDelaySeconds"]) == (3, 3, 40)
    assert after["archive"]["Catch"][0]["Next"] == "quarantine"
    assert asl_problems(state_machine(grown)) == []


def test_a_step_too_long_for_lambda_runs_as_a_fargate_task_reporting_with_its_token() -> None:
    long = Step("check", _noop, RetryPolicy(max_attempts=3, timeout_s=3600.0))
    short = Step("tidy", _noop, RetryPolicy(timeout_s=60.0))
    pipeline = Pipeline("records", "1", (long, short), Step("quarantine", _noop, NO_RETRY))
    states = state_machine(pipeline)["States"]
    assert compute_for(long) == "fargate" and compute_for(short) == "lambda"
    assert states["check"]["Resource"] == "arn:aws:states:::ecs:runTask.waitForTaskToken"
    assert states["check"]["TimeoutSeconds"] > 3600
    env = states["check"]["Parameters"]["Overrides"]["ContainerOverrides"][0]["Environment"]
    assert {"Name": "MEDFLOW_TASK_TOKEN", "Value.$": "$$.Task.Token"} in env
    assert states["tidy"]["Resource"] == "arn:aws:states:::lambda:invoke"
    assert states["tidy"]["TimeoutSeconds"] <= LAMBDA_MAX_TIMEOUT_S + 10


def test_the_records_machine_is_initiator_transformer_analyzer_mover() -> None:
    pipeline = records_pipeline()
    definition = state_machine(pipeline)
    states = definition["States"]
    tasks = [n for n, s in states.items() if s["Type"] == "Task" and n != "quarantine"]
    assert tasks == ["initiate", "transform", "analyze", "move"]
    assert definition["StartAt"] == "initiate"
    assert [states[n].get("Next") for n in tasks] == ["transform", "analyze", "move", None]
    assert states["move"]["End"] is True
    fargate = "arn:aws:states:::ecs:runTask.waitForTaskToken"
    for name in tasks:
        step, state = pipeline.step(name), states[name]
        own = [r for r in state["Retry"] if RETRYABLE_ERROR in r["ErrorEquals"]]
        assert own == [retry_block(step.retry)]
        assert state["Catch"] == [
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "quarantine"}
        ]
        # Whole-file steps outlast Lambda's 15 minutes; moving objects does not.
        on_fargate = state["Resource"] == fargate
        assert on_fargate == (compute_for(step) == "fargate") == (name != "move")
        if on_fargate:
            [container] = state["Parameters"]["Overrides"]["ContainerOverrides"]
            assert {"Name": "MEDFLOW_TASK_STEP", "Value": name} in container["Environment"]
    assert states["move"]["Parameters"]["Payload"]["step"] == "move"
    assert states["quarantine"]["Next"] == QUARANTINED_STATE
    assert asl_problems(definition) == []


def test_no_retry_policy_means_no_retry_of_the_step_itself() -> None:
    assert retry_block(NO_RETRY)["MaxAttempts"] == 0


def test_a_step_named_like_a_generated_state_is_refused() -> None:
    pipeline = Pipeline("labs", "1", (Step("Quarantined", _noop),))
    with pytest.raises(PipelineDeclarationError, match="reserved"):
        state_machine(pipeline)
