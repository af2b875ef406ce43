"""The step and failure handlers' logic, driven through a generated state machine by the local
interpreter (tests/sfn_driver.py): the database ends as the threads runner leaves it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.sfn_driver import LocalStateMachine

from medflow.aws.asl import placeholders, state_machine, substitute
from medflow.aws.steps import (
    PermanentStepError,
    RetryableStepError,
    StepTask,
    error_from_catch,
    run_failure,
    run_step,
)
from medflow.errors import CorruptFileError, TransientError
from medflow.pipelines.common import quarantine_step
from medflow.platform.config import Settings
from medflow.platform.db import Database
from medflow.platform.notify import MemoryNotifier
from medflow.platform.runner import (
    NO_RETRY,
    Pipeline,
    PipelineRegistry,
    RetryPolicy,
    Services,
    Step,
    StepContext,
    ThreadRunner,
)
from medflow.platform.storage import MemoryObjectStore, ObjectEvent

FAST = RetryPolicy(max_attempts=3, base_delay_s=1.0, max_delay_s=4.0, timeout_s=5.0)
OWNER = "arn:aws:states:us-east-1:123456789012:execution:labs:e1"


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    settings = Settings(data_dir=tmp_path)
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    yield Services(settings, MemoryObjectStore(b"k"), db, MemoryNotifier(db, settings.notify))
    db.close()


def _submit(services: Services, registry: PipelineRegistry, pipeline: str) -> str:
    obj = services.store.put("raw", f"{pipeline}/a.pdf", b"%PDF-1.4 x", {"filename": "a.pdf"})
    event = ObjectEvent(obj.bucket, obj.key, obj.sha256, obj.size, dict(obj.metadata))
    rec, created = ThreadRunner(services, registry).record_submission(pipeline, event)
    assert created
    return rec.id


def _machine(services: Services, registry: PipelineRegistry, name: str) -> LocalStateMachine:
    definition = state_machine(registry.get(name))
    values = {p: f"fn-{p}" for p in placeholders(definition)}

    def step(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return run_step(services, registry, StepTask.from_payload(event))

    def failure(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return run_failure(services, registry, StepTask.from_payload(event))

    functions = {f"fn-{p}": (failure if p == "FailureFunction" else step) for p in values}
    return LocalStateMachine(substitute(definition, values), functions)


def test_a_transient_error_is_retried_by_the_state_machine_and_recorded(
    services: Services,
) -> None:
    tries: list[int] = []

    def flaky(ctx: StepContext) -> dict[str, Any]:
        tries.append(ctx.attempt)
        if len(tries) < 3:
            raise TransientError("database busy")
        return {"parsed": True}

    registry = PipelineRegistry(
        [Pipeline("labs", "1", (Step("parse", flaky, FAST), Step("store", lambda c: {"n": 1})))]
    )
    eid = _submit(services, registry, "labs")
    outcome = _machine(services, registry, "labs").run(
        {"execution_id": eid, "pipeline": "labs"}, OWNER
    )
    assert outcome.status == "SUCCEEDED"
    assert tries == [1, 2, 3]  # the try number comes from $$.State.RetryCount
    assert outcome.delays == [1.0, 2.0]  # IntervalSeconds 1, BackoffRate 2
    rec = services.db.executions.get(eid)
    assert rec.status == "succeeded" and rec.state == {"parsed": True, "n": 1}
    assert [(s.step, s.status, s.attempt) for s in rec.steps] == [
        ("parse", "retrying", 1),
        ("parse", "retrying", 2),
        ("parse", "succeeded", 3),
        ("store", "succeeded", 1),
    ]
    assert services.db.documents.get(rec.document_id or "").status == "processed"


def test_a_permanent_error_quarantines_the_original_with_its_reason(services: Services) -> None:
    def parse(ctx: StepContext) -> None:
        raise CorruptFileError("a.pdf", "the PDF ends before its cross-reference table")

    registry = PipelineRegistry(
        [
            Pipeline(
                "labs",
                "1",
                (Step("parse", parse, FAST),),
                Step("quarantine", quarantine_step, NO_RETRY),
            )
        ]
    )
    eid = _submit(services, registry, "labs")
    outcome = _machine(services, registry, "labs").run(
        {"execution_id": eid, "pipeline": "labs"}, OWNER
    )
    assert outcome.status == "FAILED" and outcome.error == "medflow.Quarantined"
    assert outcome.states == ["parse", "quarantine", "Quarantined"]
    assert outcome.tries["parse"] == 1  # a permanent error is not retried
    rec = services.db.executions.get(eid)
    assert rec.status == "quarantined"
    assert rec.state["error"]["type"] == "CorruptFileError"
    assert rec.state["error"]["step"] == "parse"
    reason = json.loads(services.store.get("quarantine", "labs/a.pdf.reason.json"))
    assert reason["reason"] == "a.pdf: the PDF ends before its cross-reference table"
    assert services.store.exists("raw", "labs/a.pdf")  # nothing is lost
    assert services.db.documents.get(rec.document_id or "").status == "quarantined"


def test_transient_errors_past_the_policy_end_in_quarantine(services: Services) -> None:
    def down(ctx: StepContext) -> None:
        raise TransientError("mail server down")

    registry = PipelineRegistry(
        [
            Pipeline(
                "labs",
                "1",
                (Step("notify", down, FAST),),
                Step("quarantine", quarantine_step, NO_RETRY),
            )
        ]
    )
    eid = _submit(services, registry, "labs")
    outcome = _machine(services, registry, "labs").run(
        {"execution_id": eid, "pipeline": "labs"}, OWNER
    )
    assert outcome.tries["notify"] == FAST.max_attempts
    rec = services.db.executions.get(eid)
    assert rec.status == "quarantined"
    assert rec.state["error"]["type"] == "TransientError"


def test_a_repeated_task_does_not_run_its_step_twice(services: Services) -> None:
    calls: list[str] = []
    registry = PipelineRegistry(
        [Pipeline("labs", "1", (Step("a", lambda c: calls.append("a")), Step("b", lambda c: None)))]
    )
    eid = _submit(services, registry, "labs")
    task = {"execution_id": eid, "pipeline": "labs", "step": "a", "owner": OWNER}
    assert run_step(services, registry, StepTask.from_payload(task))["status"] == "succeeded"
    assert run_step(services, registry, StepTask.from_payload(task))["status"] == "skipped"
    assert calls == ["a"]
    with pytest.raises(PermanentStepError):  # another Step Functions run cannot take it over
        run_step(
            services,
            registry,
            StepTask.from_payload({**task, "step": "b", "owner": OWNER + "-other"}),
        )


def test_errors_leave_the_handler_under_the_names_the_state_machine_matches(
    services: Services,
) -> None:
    def slow(ctx: StepContext) -> None:
        raise TransientError("throttled")

    registry = PipelineRegistry([Pipeline("labs", "1", (Step("a", slow, FAST),))])
    eid = _submit(services, registry, "labs")
    with pytest.raises(RetryableStepError) as caught:
        run_step(
            services,
            registry,
            StepTask.from_payload(
                {"execution_id": eid, "pipeline": "labs", "step": "a", "owner": OWNER}
            ),
        )
    assert json.loads(str(caught.value)) == {
        "step": "a",
        "type": "TransientError",
        "message": "throttled",
    }
    with pytest.raises(PermanentStepError):
        StepTask.from_payload({"pipeline": "labs"})


def test_the_failure_task_reads_errors_lambda_reported_itself() -> None:
    timeout = {"Error": "States.Timeout", "Cause": "the task timed out"}
    assert error_from_catch(timeout, "read") == {
        "step": "read",
        "type": "States.Timeout",
        "message": "the task timed out",
    }
    own = json.dumps({"step": "read", "type": "CorruptFileError", "message": "x.pdf: broken"})
    lambda_cause = {
        "Error": "PermanentStepError",
        "Cause": json.dumps({"errorMessage": own, "errorType": "PermanentStepError"}),
    }
    assert error_from_catch(lambda_cause, "?")["type"] == "CorruptFileError"
