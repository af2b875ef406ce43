"""What the Celery runner does beyond the runner contract, on a real RabbitMQ broker: messages
that arrive twice, late, or for a step a dead worker held; publishes lost to a broker outage; the
start check of the broker URL."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker

from medflow.errors import ConfigError
from medflow.platform.config import RunnerSettings, Settings
from medflow.platform.db import Database, ExecutionRecord
from medflow.platform.notify import MemoryNotifier
from medflow.platform.runner import Pipeline, PipelineRegistry, RetryPolicy, Services, Step
from medflow.platform.runner.celery import CeleryRunner
from medflow.platform.storage import LocalObjectStore, ObjectEvent

pytestmark = [pytest.mark.service("rabbitmq"), pytest.mark.service("postgres")]

FAST = RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.05, timeout_s=5.0)


@pytest.fixture(scope="module")
def broker_url() -> Iterator[str]:
    from tests.rabbitmq import rabbitmq_vhost

    with rabbitmq_vhost() as url:
        yield url


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    from tests.contract.backends import postgres_database

    for url in postgres_database():
        db = Database(url)
        settings = Settings(data_dir=tmp_path)
        yield Services(
            settings=settings,
            store=LocalObjectStore(tmp_path / "objects", b"k"),
            db=db,
            notifier=MemoryNotifier(db, settings.notify),
        )
        db.close()


class Counting:
    """A two-step pipeline whose steps count their runs."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()

    def step(self, name: str) -> Step:
        def fn(ctx: Any) -> dict[str, Any]:
            with self.lock:
                self.calls[name] += 1
            return {name: True}

        return Step(name, fn, FAST)

    def pipeline(self) -> Pipeline:
        return Pipeline("labs", "1", (self.step("parse"), self.step("store")))


def _runner(services: Services, broker_url: str, queue: str, **extra: Any) -> CeleryRunner:
    rs = RunnerSettings(
        broker_url=broker_url,
        queue=queue,
        lease_s=1.0,
        heartbeat_s=0.2,
        sweep_s=0.2,
        dispatch_grace_s=0.5,
        broker_heartbeat_s=2.0,
        **extra,
    )
    return CeleryRunner(services, PipelineRegistry(), rs)


@contextmanager
def _worker(runner: CeleryRunner) -> Iterator[None]:
    with start_worker(
        runner.app,
        pool="threads",
        concurrency=2,
        perform_ping_check=False,
        loglevel="WARNING",
        queues=[runner.settings.queue],
        shutdown_timeout=10.0,
    ):
        yield


def _finished(runner: CeleryRunner, execution_id: str, timeout: float = 30) -> ExecutionRecord:
    """Wait for the workers alone to finish it (``Runner.wait`` would run steps inline when
    the runner's sweeper is not started)."""
    deadline = time.monotonic() + timeout
    while not (rec := runner.get_execution(execution_id)).done:
        assert time.monotonic() < deadline, f"execution still {rec.status}"
        time.sleep(0.05)
    return rec


def _event(services: Services, data: bytes = b"report") -> ObjectEvent:
    obj = services.store.put("raw", "labs/a.pdf", data, {"filename": "a.pdf"})
    return ObjectEvent(obj.bucket, obj.key, obj.sha256, obj.size, dict(obj.metadata))


@pytest.fixture
def queue(broker_url: str) -> Iterator[str]:
    name = f"it-{uuid.uuid4().hex[:10]}"
    yield name
    from medflow.platform.runner.celery import make_celery_app

    app = make_celery_app(RunnerSettings(broker_url=broker_url))
    with app.connection_for_write() as conn:
        conn.default_channel.queue_delete(name)


def test_a_message_delivered_twice_runs_its_step_once(
    services: Services, broker_url: str, queue: str
) -> None:
    counting = Counting()
    runner = _runner(services, broker_url, queue)
    runner.registry.register(counting.pipeline())
    with _worker(runner):
        eid = runner.submit("labs", _event(services))
        rec = _finished(runner, eid)
        # Redelivered copies of both steps' messages (a broker that lost our acks).
        runner.publish(eid, "labs", 0, looked=0)
        runner.publish(eid, "labs", 1, looked=0)
        assert runner.handle(eid, 0) == "stale"
        assert runner.handle(eid, 1) == "stale"
    assert rec.status == "succeeded"
    assert counting.calls == Counter({"parse": 1, "store": 1})
    assert [s.status for s in runner.get_execution(eid).steps] == ["succeeded", "succeeded"]


def test_the_step_of_a_worker_that_died_is_taken_over_after_its_lease(
    services: Services, broker_url: str, queue: str
) -> None:
    counting = Counting()
    runner = _runner(services, broker_url, queue)
    runner.registry.register(counting.pipeline())
    eid = runner.submit("labs", _event(services))  # its message waits in the queue
    executions = services.db.executions
    # A worker took it, opened its first try and died (no more heartbeats).
    assert executions.claim_one(eid, "dead-worker", 1.0, step=0) is not None
    executions.start_step(eid, "dead-worker", "parse", 1)
    with _worker(runner):
        rec = _finished(runner, eid)
    assert rec.status == "succeeded"
    assert [(s.step, s.status, s.attempt) for s in rec.steps] == [
        ("parse", "abandoned", 1),
        ("parse", "succeeded", 2),
        ("store", "succeeded", 1),
    ]
    assert counting.calls == Counter({"parse": 1, "store": 1})


def test_a_step_that_keeps_losing_its_worker_is_quarantined(
    services: Services, broker_url: str, queue: str
) -> None:
    counting = Counting()
    runner = _runner(services, broker_url, queue, max_interruptions=2)

    def quarantine(ctx: Any) -> dict[str, Any]:
        return {"quarantined": ctx.state["error"]["type"]}

    pipeline = counting.pipeline()
    runner.registry.register(
        Pipeline(pipeline.name, pipeline.version, pipeline.steps, Step("quarantine", quarantine))
    )
    eid = runner.submit("labs", _event(services))
    executions = services.db.executions
    for n, lease in ((1, 60.0), (2, 0.0)):  # two workers died in this step, one after the other
        assert executions.claim_one(eid, f"dead-{n}", lease, step=0) is not None
        executions.start_step(eid, f"dead-{n}", "parse", n)
    with _worker(runner):
        rec = _finished(runner, eid)
    assert rec.status == "quarantined"
    assert rec.state["quarantined"] == "StepInterruptedError"
    assert "lost its worker 2 times" in (rec.error or "")
    assert counting.calls["parse"] == 0


def test_a_publish_the_broker_refused_is_made_later_by_the_sweeper(
    services: Services, broker_url: str, queue: str
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    counting = Counting()
    down = _runner(services, f"amqp://guest:guest@127.0.0.1:{closed}//", queue)
    down.registry.register(counting.pipeline())
    eid = down.submit("labs", _event(services))  # the broker is "down": no exception
    assert services.db.executions.get(eid).status == "pending"
    up = _runner(services, broker_url, queue)
    up.registry.register(counting.pipeline())
    up.start()  # the sweeper, as `medflow serve` runs it
    try:
        with _worker(up):
            rec = _finished(up, eid)
    finally:
        up.stop()
    assert rec.status == "succeeded"
    assert counting.calls == Counter({"parse": 1, "store": 1})


@pytest.mark.parametrize("where", ["closed-port", "unknown-vhost"])
def test_a_broker_that_cannot_be_used_is_named_at_start(
    services: Services, broker_url: str, where: str
) -> None:
    if where == "closed-port":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            url = f"amqp://guest:secretpw@127.0.0.1:{s.getsockname()[1]}//"
    else:
        url = broker_url.rsplit("/", 1)[0] + "/no-such-vhost-" + uuid.uuid4().hex[:6]
    runner = CeleryRunner(services, PipelineRegistry(), RunnerSettings(broker_url=url))
    with pytest.raises(ConfigError, match=r"^runner\.broker_url: cannot reach the broker") as e:
        runner.check(timeout_s=2.0)
    assert "secretpw" not in str(e.value)


@pytest.mark.service("redis")
def test_redis_is_accepted_as_the_broker(services: Services) -> None:
    counting = Counting()
    queue = f"it-redis-{uuid.uuid4().hex[:8]}"
    # Database 15 with a key prefix of this test's own: nothing else's keys are touched.
    runner = _runner(services, "redis://127.0.0.1:6379/15", queue)
    runner.app.conf.broker_transport_options = {
        **runner.app.conf.broker_transport_options,
        "global_keyprefix": f"{queue}:",
    }
    runner.registry.register(counting.pipeline())
    try:
        runner.check(timeout_s=2.0)
    except ConfigError as exc:
        pytest.skip(f"Redis not reachable: {exc}")
    with _worker(runner):
        rec = _finished(runner, runner.submit("labs", _event(services)))
    assert rec.status == "succeeded"
    assert counting.calls == Counter({"parse": 1, "store": 1})
    import redis

    client = redis.Redis.from_url("redis://127.0.0.1:6379/15")
    leftovers = list(client.scan_iter(f"{queue}:*"))
    if leftovers:
        client.delete(*leftovers)
