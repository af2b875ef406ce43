"""The Celery runner for the runner contract suite: a real broker and a real Celery worker.

The suite's steps are closures that count their calls in the test's memory, so the worker runs
in this process (Celery's own test worker, ``threads`` pool): it consumes the queue from
RabbitMQ, acknowledges late and runs ``medflow.step`` tasks exactly as ``medflow worker`` does.
Separate worker processes (prefork, SIGKILL, broker restart) are exercised by
``tests/integration/test_scale_faults.py``. Each test publishes to a queue of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from celery.contrib.testing.worker import start_worker

from medflow.platform.config import RunnerSettings
from medflow.platform.runner import PipelineRegistry, Services
from medflow.platform.runner.celery import CeleryRunner


@contextmanager
def celery_runner(
    services: Services, settings: RunnerSettings, broker_url: str, mode: str
) -> Iterator[CeleryRunner]:
    """A CeleryRunner on ``broker_url``; with ``mode == "workers"`` a worker consumes its queue
    and the sweeper runs; inline, ``wait`` runs the steps in the calling thread."""
    rs = settings.model_copy(
        update={
            "broker_url": broker_url,
            "queue": f"contract-{uuid.uuid4().hex[:10]}",
            "sweep_s": 0.2,
            "dispatch_grace_s": 1.0,
            # The worker's event loop wakes on heartbeat timers: a short one lets it stop fast.
            "broker_heartbeat_s": 2.0,
        }
    )
    runner = CeleryRunner(services, PipelineRegistry(), rs)
    runner.check()
    try:
        if mode == "workers":
            runner.start()
            with start_worker(
                runner.app,
                pool="threads",
                concurrency=2,
                perform_ping_check=False,
                loglevel="WARNING",
                queues=[rs.queue],
                shutdown_timeout=10.0,
            ):
                yield runner
        else:
            yield runner
    finally:
        runner.stop(timeout=10)
        with runner.app.connection_for_write() as conn:
            conn.default_channel.queue_delete(rs.queue)
        runner.app.close()
