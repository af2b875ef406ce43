"""``ThreadRunner``: worker threads in this process, every job durable in the database.

How it survives a crash: an execution is claimed with a lease (owner + heartbeat renewed by a
heartbeat thread); after each successful step, the merged state and the index of the next step
are saved in the same transaction that closes the step run. A process killed mid-step stops
renewing its lease; once the lease has expired, any runner on the same database claims the
execution and resumes at the step that was in flight (steps are idempotent, so redoing that one
step is safe). Completed steps are never redone.

Retries: a :class:`~medflow.errors.TransientError` (or a step overrunning its timeout) releases
the job with a delay from the step's :class:`RetryPolicy` (exponential backoff with jitter);
any worker picks it up when due. Anything else is permanent: the pipeline's ``on_failure`` step
runs with ``ctx.state["error"]`` and the execution ends ``quarantined`` (or ``failed`` without
such a step, or when it fails too).
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any

from medflow.errors import DatabaseError
from medflow.platform.config import RunnerSettings
from medflow.platform.db import ExecutionRecord, LeaseLostError
from medflow.platform.runner.base import Runner
from medflow.platform.runner.context import Services
from medflow.platform.runner.declaration import Pipeline
from medflow.platform.runner.registry import PipelineRegistry
from medflow.platform.runner.steps import (
    LeaseKeeper,
    StepExecutor,
    StepOutputError,
    call_with_timeout,
)
from medflow.platform.storage import ObjectEvent

log = logging.getLogger(__name__)

__all__ = ["StepOutputError", "ThreadRunner", "call_with_timeout"]


class ThreadRunner(Runner):
    """Runs pipelines on worker threads, durable in the database.

    Args:
        services: adapters handed to steps (its ``db`` holds the executions).
        registry: the pipelines this runner runs (it claims only executions of these).
        settings: workers, lease, heartbeat, poll period; default ``services.settings.runner``.
        owner: this runner's identity in leases; default ``host:pid:random``.
        rng: random source for retry jitter (tests pass a seeded one).
    """

    def __init__(
        self,
        services: Services,
        registry: PipelineRegistry,
        settings: RunnerSettings | None = None,
        *,
        owner: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(services, registry)
        self.settings = settings or services.settings.runner
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._rng = rng or random.Random()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._workers: list[threading.Thread] = []
        self._leases = LeaseKeeper(services, self.settings.heartbeat_s)
        self._lifecycle = threading.Lock()
        self._steps = StepExecutor(services, self._rng, self._stop)

    # -- the port ---------------------------------------------------------------------------

    def submit(self, pipeline: str, event: ObjectEvent | Mapping[str, Any]) -> str:
        """See :meth:`Runner.submit`."""
        rec, created = self.record_submission(pipeline, event)
        if created:
            self._wake.set()
        return rec.id

    @property
    def running(self) -> bool:
        """See :meth:`Runner.running`."""
        return any(t.is_alive() for t in self._workers)

    def start(self) -> None:
        """See :meth:`Runner.start`."""
        with self._lifecycle:
            if self.running:
                return
            self._stop.clear()
            self._leases.start()
            self._workers = [
                threading.Thread(
                    target=self._worker, args=(f"{self.owner}/w{i}",), name=f"medflow-worker-{i}"
                )
                for i in range(self.settings.workers)
            ]
            for t in self._workers:
                t.start()
            log.info("runner %s started with %d workers", self.owner, len(self._workers))

    def stop(self, timeout: float = 30.0) -> None:
        """See :meth:`Runner.stop`. Steps still running after ``timeout`` are left to lapse."""
        with self._lifecycle:
            self._stop.set()
            self._wake.set()
            deadline = time.monotonic() + timeout
            for t in self._workers:
                t.join(max(0.0, deadline - time.monotonic()))
            self._workers = [t for t in self._workers if t.is_alive()]
            self._leases.stop()
            log.info("runner %s stopped", self.owner)

    def run_pending(self, limit: int | None = None) -> int:
        """See :meth:`Runner.run_pending`."""
        owner = f"{self.owner}/inline-{threading.get_ident()}"
        started_hb = False
        done = 0
        try:
            while limit is None or done < limit:
                rec = self.services.db.executions.claim(
                    owner, self.settings.lease_s, self.registry.names()
                )
                if rec is None:
                    break
                # Leases need renewing only while something is held.
                started_hb = started_hb or self._leases.start()
                self._execute(rec, owner)
                done += 1
        finally:
            if started_hb and not self.running:
                self._leases.stop()
        return done

    # -- workers and leases -----------------------------------------------------------------

    def _worker(self, owner: str) -> None:
        db = self.services.db
        while not self._stop.is_set():
            try:
                rec = db.executions.claim(owner, self.settings.lease_s, self.registry.names())
            except DatabaseError:
                log.exception("worker %s could not claim work", owner)
                rec = None
            if rec is None:
                self._wake.wait(self.settings.poll_s)
                self._wake.clear()
                continue
            try:
                self._execute(rec, owner)
            except Exception:
                # A bug must not kill the worker; the job's lease lapses and it is retried.
                log.exception("worker %s: unexpected error on execution %s", owner, rec.id)

    # -- running one execution --------------------------------------------------------------

    def _execute(self, rec: ExecutionRecord, owner: str) -> None:
        self._leases.hold(rec.id, owner)
        try:
            pipeline = self.registry.get(rec.pipeline)
            if pipeline.version != rec.pipeline_version:
                log.warning(
                    "execution %s was submitted to %s %s; running version %s",
                    rec.id,
                    rec.pipeline,
                    rec.pipeline_version,
                    pipeline.version,
                )
            self._run_steps(pipeline, rec, owner)
        except LeaseLostError:
            log.warning("execution %s: taken over by another worker; this one stops", rec.id)
        except DatabaseError:
            log.exception("execution %s: database failure; the lease will lapse", rec.id)
        finally:
            self._leases.release(rec.id)

    def _run_steps(self, pipeline: Pipeline, rec: ExecutionRecord, owner: str) -> None:
        executions = self.services.db.executions
        state: dict[str, Any] = dict(rec.state)
        n = len(pipeline.steps)
        idx = rec.next_step
        attempt = rec.attempt + 1
        run_id: int | None = None
        while idx < n:
            step = pipeline.steps[idx]
            if run_id is None:
                run_id = executions.start_step(rec.id, owner, step.name, attempt)
            outcome = self._steps.try_step(pipeline, rec, owner, idx, state, attempt, run_id)
            if outcome.kind != "ok":
                return
            following = pipeline.steps[idx + 1].name if idx + 1 < n else None
            # Closing this step, saving the state and opening the next: one transaction.
            run_id = executions.advance(
                rec.id,
                owner,
                run_id,
                idx + 1,
                outcome.state,
                (idx + 1) / n,
                outcome.took_s,
                following,
            )
            state = outcome.state
            idx += 1
            attempt = 1
        executions.finish(
            rec.id,
            owner,
            "succeeded",
            state=state,
            document_status="processed",
            document_id=rec.document_id,
        )
        log.info("execution %s succeeded", rec.id)
