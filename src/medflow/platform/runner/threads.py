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

import json
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any

from medflow.errors import DatabaseError, StepTimeoutError, TransientError
from medflow.platform.config import RunnerSettings
from medflow.platform.db import ExecutionRecord, LeaseLostError
from medflow.platform.runner.base import Runner
from medflow.platform.runner.context import Services, StepContext
from medflow.platform.runner.declaration import Pipeline, Step
from medflow.platform.runner.registry import PipelineRegistry
from medflow.platform.storage import ObjectEvent

log = logging.getLogger(__name__)

_RETRYABLE = (TransientError, StepTimeoutError)


class StepOutputError(TypeError):
    """A step returned something that is not a JSON-serialisable mapping."""


def describe_error(exc: BaseException) -> str:
    """``Type: message``, cut to what a database column and a log line hold."""
    return f"{type(exc).__name__}: {exc}"[:2000]


def call_with_timeout(step: Step, ctx: StepContext) -> Mapping[str, Any] | None:
    """Run ``step.fn(ctx)``, giving up after ``step.retry.timeout_s``.

    Python cannot kill a thread: a step that overruns keeps running in its daemon thread and its
    result is discarded (steps are idempotent, so a late finish does no harm).

    Raises:
        StepTimeoutError: the step overran.
        Exception: whatever the step raised.
    """
    timeout = step.retry.timeout_s
    if timeout is None:
        return step.fn(ctx)
    outcome: list[Mapping[str, Any] | None] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            outcome.append(step.fn(ctx))
        except BaseException as exc:
            failure.append(exc)

    t = threading.Thread(target=target, name=f"step-{step.name}", daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise StepTimeoutError(
            f"step {step.name!r} of execution {ctx.execution_id} ran past {timeout:g} s"
        )
    if failure:
        raise failure[0]
    return outcome[0]


def merge_state(
    state: Mapping[str, Any], out: Mapping[str, Any] | None, step: str
) -> dict[str, Any]:
    """The state after a step returned ``out``; raises StepOutputError if JSON cannot hold it."""
    if out is None:
        return dict(state)
    if not isinstance(out, Mapping):
        raise StepOutputError(f"step {step!r} returned {type(out).__name__}, not a mapping")
    merged = {**state, **out}
    try:
        json.dumps(merged)
    except (TypeError, ValueError) as exc:
        raise StepOutputError(f"step {step!r} returned a value JSON cannot hold: {exc}") from exc
    return merged


def step_context(
    services: Services,
    pipeline: Pipeline,
    rec: ExecutionRecord,
    step: Step,
    idx: int,
    state: Mapping[str, Any],
    attempt: int,
) -> StepContext:
    """What step ``idx`` of ``rec`` receives; its progress is stored on the execution as the
    fraction of the whole pipeline."""
    n = len(pipeline.steps)
    executions = services.db.executions

    def on_progress(fraction: float, message: str) -> None:
        executions.set_progress(
            rec.id, (min(idx, n - 1) + max(0.0, min(1.0, fraction))) / n, message
        )

    return StepContext(
        execution_id=rec.id,
        document_id=rec.document_id,
        pipeline=pipeline.name,
        step=step.name,
        event=rec.event,
        state=dict(state),
        services=services,
        attempt=attempt,
        _on_progress=on_progress,
    )


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
        self._held: dict[str, str] = {}
        self._held_lock = threading.Lock()
        self._hb_stop = threading.Event()
        self._hb_thread: threading.Thread | None = None
        self._lifecycle = threading.Lock()

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
            self._start_heartbeat()
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
            self._stop_heartbeat()
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
                started_hb = started_hb or self._start_heartbeat()
                self._execute(rec, owner)
                done += 1
        finally:
            if started_hb and not self.running:
                self._stop_heartbeat()
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

    def _start_heartbeat(self) -> bool:
        if self._hb_thread is not None and self._hb_thread.is_alive():
            return False
        self._hb_stop.clear()
        self._hb_thread = threading.Thread(
            target=self._heartbeat, name="medflow-heartbeat", daemon=True
        )
        self._hb_thread.start()
        return True

    def _stop_heartbeat(self) -> None:
        self._hb_stop.set()
        if self._hb_thread is not None:
            self._hb_thread.join(5.0)
            self._hb_thread = None

    def _heartbeat(self) -> None:
        while not self._hb_stop.wait(self.settings.heartbeat_s):
            with self._held_lock:
                held = list(self._held.items())
            for execution_id, owner in held:
                try:
                    renewed = self.services.db.executions.heartbeat(execution_id, owner)
                    with self._held_lock:
                        still_held = self._held.get(execution_id) == owner
                    if not renewed and still_held:
                        log.warning("execution %s: lease lost by %s", execution_id, owner)
                except DatabaseError:
                    log.exception("execution %s: heartbeat failed", execution_id)

    # -- running one execution --------------------------------------------------------------

    def _execute(self, rec: ExecutionRecord, owner: str) -> None:
        with self._held_lock:
            self._held[rec.id] = owner
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
            with self._held_lock:
                self._held.pop(rec.id, None)

    def _context(
        self,
        pipeline: Pipeline,
        rec: ExecutionRecord,
        step: Step,
        idx: int,
        state: Mapping[str, Any],
        attempt: int,
    ) -> StepContext:
        return step_context(self.services, pipeline, rec, step, idx, state, attempt)

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
            began = time.monotonic()
            try:
                ctx = self._context(pipeline, rec, step, idx, state, attempt)
                new_state = merge_state(state, call_with_timeout(step, ctx), step.name)
            except LeaseLostError:
                raise
            except _RETRYABLE as exc:
                took = time.monotonic() - began
                if attempt < step.retry.max_attempts:
                    delay = step.retry.delay(attempt, self._rng)
                    executions.retry_later(rec.id, owner, run_id, delay, describe_error(exc), took)
                    log.info(
                        "execution %s: step %s try %d failed (%s); retry in %.2f s",
                        rec.id,
                        step.name,
                        attempt,
                        type(exc).__name__,
                        delay,
                    )
                    return
                self._fail(pipeline, rec, owner, run_id, step, idx, exc, state)
                return
            except Exception as exc:
                self._fail(pipeline, rec, owner, run_id, step, idx, exc, state)
                return
            took = time.monotonic() - began
            following = pipeline.steps[idx + 1].name if idx + 1 < n else None
            # Closing this step, saving the state and opening the next: one transaction.
            run_id = executions.advance(
                rec.id, owner, run_id, idx + 1, new_state, (idx + 1) / n, took, following
            )
            state = new_state
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

    def _fail(
        self,
        pipeline: Pipeline,
        rec: ExecutionRecord,
        owner: str,
        run_id: int,
        step: Step,
        idx: int,
        exc: BaseException,
        state: Mapping[str, Any],
    ) -> None:
        executions = self.services.db.executions
        text = describe_error(exc)
        executions.fail_step(rec.id, owner, run_id, text)
        # The log names the error type only: messages may carry file names given by users.
        log.warning(
            "execution %s: step %s failed permanently (%s)", rec.id, step.name, type(exc).__name__
        )
        failed = {
            **state,
            "error": {"step": step.name, "type": type(exc).__name__, "message": str(exc)},
        }
        final_status, final_error = "failed", text
        if pipeline.on_failure is not None:
            fstep = pipeline.on_failure
            for attempt in range(1, fstep.retry.max_attempts + 1):
                frun = executions.start_step(rec.id, owner, fstep.name, attempt)
                try:
                    out = call_with_timeout(
                        fstep, self._context(pipeline, rec, fstep, idx, failed, attempt)
                    )
                    merged = merge_state(failed, out, fstep.name)
                except LeaseLostError:
                    raise
                except _RETRYABLE as exc2:
                    executions.end_step(rec.id, owner, frun, "retrying", describe_error(exc2))
                    if attempt < fstep.retry.max_attempts and not self._stop.is_set():
                        time.sleep(fstep.retry.delay(attempt, self._rng))
                        continue
                    final_error = f"{text}; {fstep.name} failed too: {describe_error(exc2)}"
                    break
                except Exception as exc2:
                    executions.fail_step(rec.id, owner, frun, describe_error(exc2))
                    final_error = f"{text}; {fstep.name} failed too: {describe_error(exc2)}"
                    break
                executions.complete_step(rec.id, owner, frun, idx, merged, rec.progress)
                failed = merged
                final_status = "quarantined"
                break
        executions.finish(
            rec.id,
            owner,
            final_status,
            error=final_error,
            state=failed,
            document_status=final_status,
            document_id=rec.document_id,
        )
        if rec.document_id is not None:
            self.services.db.audit.record(
                "runner",
                final_status,
                "document",
                rec.document_id,
                {"execution": rec.id, "step": step.name, "error_type": type(exc).__name__},
            )
