"""Contract suite of the Runner port: every adapter runs the same declarations the same way.

Runs each test with the runner driven inline (``wait`` does the work) and with background
workers, on SQLite and PostgreSQL, for the thread runner and the Celery runner (a real RabbitMQ
broker on a vhost of its own and a real Celery worker consuming it: see ``celery_worker.py``).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from medflow.errors import CorruptFileError, StepTimeoutError, TransientError
from medflow.platform.config import RunnerSettings, Settings
from medflow.platform.notify import MemoryNotifier
from medflow.platform.runner import (
    NO_RETRY,
    Pipeline,
    PipelineRegistry,
    RetryPolicy,
    Runner,
    Services,
    Step,
    StepContext,
    ThreadRunner,
    UnknownPipelineError,
)
from medflow.platform.storage import LocalObjectStore, ObjectEvent

from .backends import DB_BACKENDS, open_database

FAST = RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.05, timeout_s=5.0)


@pytest.fixture(params=["inline", "workers"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


RUNNERS = [
    *(
        pytest.param(("threads", db.values[0]), id=f"threads-{db.id}", marks=db.marks)
        for db in DB_BACKENDS
    ),
    # Celery on PostgreSQL, the pairing it is deployed in (the database half of the contract is
    # proven on SQLite by the thread runner; Celery + SQLite shares every code path below).
    pytest.param(
        ("celery", "postgres"),
        id="celery-postgres",
        marks=[pytest.mark.service("postgres"), pytest.mark.service("rabbitmq")],
    ),
]


@pytest.fixture(params=RUNNERS)
def runner(request: pytest.FixtureRequest, tmp_path: Path, mode: str) -> Iterator[Runner]:
    kind, backend = request.param
    db = open_database(backend, tmp_path, request)
    settings = Settings(data_dir=tmp_path)
    services = Services(
        settings=settings,
        store=LocalObjectStore(tmp_path / "objects", b"k"),
        db=db,
        notifier=MemoryNotifier(db, settings.notify),
    )
    rs = RunnerSettings(workers=2, poll_s=0.02, heartbeat_s=0.2, lease_s=5.0)
    if kind == "threads":
        r: Runner = ThreadRunner(services, PipelineRegistry(), rs)
        if mode == "workers":
            r.start()
        yield r
        r.stop(timeout=10)
    else:
        from .celery_worker import celery_runner

        with celery_runner(services, rs, request.getfixturevalue("broker_url"), mode) as r:
            yield r
    db.close()


def _event(r: Runner, data: bytes = b"report", key: str = "labs/a.pdf") -> ObjectEvent:
    obj = r.services.store.put("raw", key, data, {"patient_id": "P1", "filename": "a.pdf"})
    return ObjectEvent(obj.bucket, obj.key, obj.sha256, obj.size, dict(obj.metadata))


def _quarantine(ctx: StepContext) -> dict[str, Any]:
    ev = ctx.object_event
    ctx.services.store.move(ev.bucket, ev.key, "quarantine", ev.key)
    return {"quarantined": ev.key, "reason": ctx.state["error"]["message"]}


class Calls:
    """Counts calls per step name, thread-safe."""

    def __init__(self) -> None:
        self.counter: Counter[str] = Counter()
        self.lock = threading.Lock()

    def hit(self, name: str) -> int:
        with self.lock:
            self.counter[name] += 1
            return self.counter[name]


def test_runs_steps_in_order_and_merges_state(runner: Runner) -> None:
    calls = Calls()

    def parse(ctx: StepContext) -> dict[str, Any]:
        calls.hit("parse")
        return {"rows": 3, "key": ctx.object_event.key}

    def store(ctx: StepContext) -> dict[str, Any]:
        calls.hit("store")
        return {"stored": ctx.state["rows"] * 2}

    runner.registry.register(
        Pipeline("labs", "1", (Step("parse", parse, FAST), Step("store", store, FAST)))
    )
    eid = runner.submit("labs", _event(runner))
    rec = runner.wait(eid, timeout=20)
    assert rec.status == "succeeded"
    assert rec.state == {"rows": 3, "key": "labs/a.pdf", "stored": 6}
    assert [(s.step, s.status, s.attempt) for s in rec.steps] == [
        ("parse", "succeeded", 1),
        ("store", "succeeded", 1),
    ]
    assert rec.progress == 1.0
    assert calls.counter == Counter({"parse": 1, "store": 1})
    assert rec.document_id is not None
    doc = runner.services.db.documents.get(rec.document_id)
    assert (doc.status, doc.patient_id, doc.pipeline) == ("processed", "P1", "labs")


def test_same_document_twice_is_processed_once(runner: Runner) -> None:
    calls = Calls()
    runner.registry.register(
        Pipeline("labs", "1", (Step("parse", lambda ctx: {"n": calls.hit("parse")}, FAST),))
    )
    first = runner.submit("labs", _event(runner))
    runner.wait(first, timeout=20)
    again = runner.submit("labs", _event(runner, key="labs/copy-of-a.pdf"))
    assert again == first
    assert runner.run_pending() == 0
    assert calls.counter["parse"] == 1


def test_new_pipeline_version_processes_again(runner: Runner) -> None:
    calls = Calls()
    step = Step("parse", lambda ctx: {"n": calls.hit("parse")}, FAST)
    runner.registry.register(Pipeline("labs", "1", (step,)))
    first = runner.submit("labs", _event(runner))
    runner.wait(first, timeout=20)
    runner.registry.register(Pipeline("labs", "2", (step,)), replace=True)
    second = runner.submit("labs", _event(runner))
    assert second != first
    assert runner.wait(second, timeout=20).pipeline_version == "2"
    assert calls.counter["parse"] == 2


def test_transient_errors_are_retried(runner: Runner) -> None:
    calls = Calls()

    def flaky(ctx: StepContext) -> dict[str, Any]:
        if calls.hit("flaky") < 3:
            raise TransientError("database busy")
        return {"attempt": ctx.attempt}

    runner.registry.register(Pipeline("labs", "1", (Step("flaky", flaky, FAST),)))
    rec = runner.wait(runner.submit("labs", _event(runner)), timeout=20)
    assert rec.status == "succeeded"
    assert rec.state == {"attempt": 3}
    assert [(s.status, s.attempt) for s in rec.steps] == [
        ("retrying", 1),
        ("retrying", 2),
        ("succeeded", 3),
    ]
    assert "TransientError: database busy" in (rec.steps[0].error or "")


def test_exhausted_retries_quarantine_with_the_error(runner: Runner) -> None:
    def always_down(ctx: StepContext) -> None:
        raise TransientError("server down")

    runner.registry.register(
        Pipeline("labs", "1", (Step("notify", always_down, FAST),), Step("quarantine", _quarantine))
    )
    rec = runner.wait(runner.submit("labs", _event(runner)), timeout=20)
    assert rec.status == "quarantined"
    assert rec.state["error"] == {
        "step": "notify",
        "type": "TransientError",
        "message": "server down",
    }
    assert [s.status for s in rec.steps] == ["retrying", "retrying", "failed", "succeeded"]
    assert runner.services.store.exists("quarantine", "labs/a.pdf")


def test_permanent_error_is_not_retried_and_quarantines(runner: Runner) -> None:
    calls = Calls()

    def parse(ctx: StepContext) -> None:
        calls.hit("parse")
        raise CorruptFileError("a.pdf", "the PDF is truncated")

    runner.registry.register(
        Pipeline("labs", "1", (Step("parse", parse, FAST),), Step("quarantine", _quarantine))
    )
    rec = runner.wait(runner.submit("labs", _event(runner)), timeout=20)
    assert rec.status == "quarantined"
    assert calls.counter["parse"] == 1
    assert rec.error == "CorruptFileError: a.pdf: the PDF is truncated"
    assert rec.state["reason"] == "a.pdf: the PDF is truncated"
    store = runner.services.store
    assert not store.exists("raw", "labs/a.pdf")
    assert store.get("quarantine", "labs/a.pdf") == b"report"
    assert rec.document_id is not None
    assert runner.services.db.documents.get(rec.document_id).status == "quarantined"


def test_without_on_failure_the_execution_fails(runner: Runner) -> None:
    runner.registry.register(
        Pipeline("labs", "1", (Step("parse", lambda ctx: 1 / 0, FAST),))  # type: ignore[arg-type,return-value]
    )
    rec = runner.wait(runner.submit("labs", _event(runner)), timeout=20)
    assert rec.status == "failed"
    assert (rec.error or "").startswith("ZeroDivisionError")


def test_failing_quarantine_step_leaves_the_execution_failed(runner: Runner) -> None:
    def bad_quarantine(ctx: StepContext) -> None:
        raise RuntimeError("disk full")

    runner.registry.register(
        Pipeline(
            "labs",
            "1",
            (Step("parse", lambda ctx: 1 / 0, FAST),),  # type: ignore[arg-type,return-value]
            Step("quarantine", bad_quarantine, NO_RETRY),
        )
    )
    rec = runner.wait(runner.submit("labs", _event(runner)), timeout=20)
    assert rec.status == "failed"
    assert "ZeroDivisionError" in (rec.error or "")
    assert "quarantine failed too: RuntimeError: disk full" in (rec.error or "")


def test_step_overrunning_its_timeout_is_a_transient_failure(runner: Runner) -> None:
    release = threading.Event()

    def slow(ctx: StepContext) -> None:
        release.wait(5)

    policy = RetryPolicy(max_attempts=2, base_delay_s=0.01, timeout_s=0.2)
    runner.registry.register(
        Pipeline("labs", "1", (Step("slow", slow, policy),), Step("quarantine", _quarantine))
    )
    rec = runner.wait(runner.submit("labs", _event(runner)), timeout=20)
    release.set()
    assert rec.status == "quarantined"
    assert rec.state["error"]["type"] == "StepTimeoutError"
    assert [s.status for s in rec.steps] == ["retrying", "failed", "succeeded"]


def test_step_returning_non_json_is_a_permanent_failure(runner: Runner) -> None:
    runner.registry.register(
        Pipeline("labs", "1", (Step("bad", lambda ctx: {"when": object()}, FAST),))
    )
    rec = runner.wait(runner.submit("labs", _event(runner)), timeout=20)
    assert rec.status == "failed"
    assert "StepOutputError" in (rec.error or "")


def test_progress_is_recorded_for_the_execution(runner: Runner) -> None:
    seen: list[tuple[float, str]] = []

    def first(ctx: StepContext) -> None:
        return None

    def second(ctx: StepContext) -> None:
        ctx.progress(0.5, "page 1 of 2")
        rec = ctx.services.db.executions.get(ctx.execution_id)
        seen.append((rec.progress, rec.progress_message))

    runner.registry.register(
        Pipeline("labs", "1", (Step("first", first, FAST), Step("second", second, FAST)))
    )
    runner.wait(runner.submit("labs", _event(runner)), timeout=20)
    assert seen == [(0.75, "page 1 of 2")]


def test_unknown_pipeline_is_refused(runner: Runner) -> None:
    with pytest.raises(UnknownPipelineError, match="no pipeline named 'nope'"):
        runner.submit("nope", _event(runner))
    with pytest.raises(LookupError):
        runner.submit("nope", _event(runner))


def test_many_documents_each_finish_exactly_once(runner: Runner) -> None:
    calls = Calls()

    def work(ctx: StepContext) -> dict[str, Any]:
        calls.hit(ctx.object_event.sha256)
        return {"done": True}

    runner.registry.register(Pipeline("labs", "1", (Step("work", work, FAST),)))
    ids = [
        runner.submit("labs", _event(runner, f"doc {i}".encode(), f"labs/{i}.pdf"))
        for i in range(12)
    ]
    records = [runner.wait(i, timeout=30) for i in ids]
    assert {r.status for r in records} == {"succeeded"}
    assert len(calls.counter) == 12
    assert set(calls.counter.values()) == {1}


def test_retry_reruns_a_failed_execution_from_the_failed_step(runner: Runner) -> None:
    calls = Calls()
    broken = threading.Event()
    broken.set()

    def parse(ctx: StepContext) -> dict[str, Any]:
        calls.hit("parse")
        return {"parsed": True}

    def check(ctx: StepContext) -> dict[str, Any]:
        calls.hit("check")
        if broken.is_set():
            raise ValueError("bad values")
        return {"checked": True}

    runner.registry.register(
        Pipeline("labs", "1", (Step("parse", parse, FAST), Step("check", check, FAST)))
    )
    eid = runner.submit("labs", _event(runner))
    assert runner.wait(eid, timeout=20).status == "failed"
    broken.clear()
    runner.retry(eid)
    rec = runner.wait(eid, timeout=20)
    assert rec.status == "succeeded"
    assert rec.state == {"parsed": True, "checked": True}
    assert calls.counter == Counter({"parse": 1, "check": 2})


def test_list_executions_filters_and_includes_steps(runner: Runner) -> None:
    runner.registry.register(Pipeline("labs", "1", (Step("a", lambda ctx: None, FAST),)))
    runner.registry.register(Pipeline("records", "1", (Step("b", lambda ctx: None, FAST),)))
    e1 = runner.submit("labs", _event(runner, b"1", "labs/1.pdf"))
    e2 = runner.submit("records", _event(runner, b"2", "records/2.csv"))
    runner.wait(e1, timeout=20)
    runner.wait(e2, timeout=20)
    listed = runner.list_executions(pipeline="records")
    assert [e.id for e in listed] == [e2]
    assert [s.step for s in listed[0].steps] == ["b"]
    assert {e.id for e in runner.list_executions(status="succeeded")} == {e1, e2}


def test_wait_gives_up_after_its_timeout(runner: Runner) -> None:
    def down(ctx: StepContext) -> None:
        raise TransientError("down")

    slow_retry = RetryPolicy(max_attempts=5, base_delay_s=60, jitter=0)
    runner.registry.register(Pipeline("labs", "1", (Step("down", down, slow_retry),)))
    eid = runner.submit("labs", _event(runner))
    start = time.monotonic()
    with pytest.raises(StepTimeoutError, match=eid):
        runner.wait(eid, timeout=0.5)
    assert time.monotonic() - start < 30
    assert runner.get_execution(eid).status == "pending"
