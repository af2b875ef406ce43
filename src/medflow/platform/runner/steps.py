"""Running one try of one step, the same way on every runner.

:class:`StepExecutor` holds what the thread runner and the Celery runner share, so an
execution's records cannot tell which runner ran it: the step's context, its timeout, the
merge of its output into the state, retry-or-fail on error (exponential backoff with jitter from
the step's :class:`RetryPolicy`), and the quarantine (``on_failure``) step with the execution's
final status.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from medflow.errors import DatabaseError, StepTimeoutError, TransientError
from medflow.platform.db import ExecutionRecord, LeaseLostError
from medflow.platform.runner.context import Services, StepContext
from medflow.platform.runner.declaration import Pipeline, Step

log = logging.getLogger(__name__)

RETRYABLE = (TransientError, StepTimeoutError)


class StepOutputError(TypeError):
    """A step returned something that is not a JSON-serialisable mapping."""


def describe(exc: BaseException) -> str:
    """``Type: message``, cut to what a status column holds."""
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
    """``state`` updated with a step's output, checked to survive JSON (queues, databases).

    Raises:
        StepOutputError: the output is not a mapping, or holds values JSON cannot.
    """
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
    """What step ``idx`` of ``rec`` receives, whichever runner runs it; its progress is stored on
    the execution as the fraction of the whole pipeline."""
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


@dataclass(frozen=True)
class TryOutcome:
    """What one try of a step came to.

    Attributes:
        kind: ``ok`` (``state`` is the merged state), ``retry`` (released to run again after
            ``delay_s``; recorded already) or ``finished`` (failed permanently; the execution
            is closed, quarantined or failed).
        state: the merged state after ``ok``.
        took_s: how long the try ran.
        delay_s: the backoff before the next try after ``retry``.
    """

    kind: Literal["ok", "retry", "finished"]
    state: dict[str, Any] = field(default_factory=dict)
    took_s: float = 0.0
    delay_s: float = 0.0


class StepExecutor:
    """One try of a step and the failure path, shared by every runner.

    Args:
        services: the adapters steps receive (its ``db`` holds the executions).
        rng: random source of retry jitter.
        stopping: set when the runner stops (the quarantine step's retries stop waiting).
    """

    def __init__(
        self,
        services: Services,
        rng: random.Random | None = None,
        stopping: threading.Event | None = None,
    ) -> None:
        self.services = services
        self.rng = rng or random.Random()
        self.stopping = stopping or threading.Event()

    def context(
        self,
        pipeline: Pipeline,
        rec: ExecutionRecord,
        step: Step,
        idx: int,
        state: Mapping[str, Any],
        attempt: int,
    ) -> StepContext:
        """The context one try of ``step`` (index ``idx``) receives."""
        return step_context(self.services, pipeline, rec, step, idx, state, attempt)

    def try_step(
        self,
        pipeline: Pipeline,
        rec: ExecutionRecord,
        owner: str,
        idx: int,
        state: Mapping[str, Any],
        attempt: int,
        run_id: int,
    ) -> TryOutcome:
        """Run try ``attempt`` of step ``idx`` (its step run ``run_id`` is open).

        A transient error (or an overrun) with tries left is recorded as ``retrying`` and the
        execution released until its backoff has passed; out of tries, or any other error, the
        execution fails (see :meth:`fail`).

        Raises:
            LeaseLostError: another worker holds the execution now.
        """
        step = pipeline.steps[idx]
        executions = self.services.db.executions
        began = time.monotonic()
        try:
            ctx = self.context(pipeline, rec, step, idx, state, attempt)
            new_state = merge_state(state, call_with_timeout(step, ctx), step.name)
        except LeaseLostError:
            raise
        except RETRYABLE as exc:
            took = time.monotonic() - began
            if attempt < step.retry.max_attempts:
                delay = step.retry.delay(attempt, self.rng)
                executions.retry_later(rec.id, owner, run_id, delay, describe(exc), took)
                log.info(
                    "execution %s: step %s try %d failed (%s); retry in %.2f s",
                    rec.id,
                    step.name,
                    attempt,
                    type(exc).__name__,
                    delay,
                )
                return TryOutcome("retry", took_s=took, delay_s=delay)
            self.fail(pipeline, rec, owner, run_id, step, idx, exc, state)
            return TryOutcome("finished", took_s=took)
        except Exception as exc:
            self.fail(pipeline, rec, owner, run_id, step, idx, exc, state)
            return TryOutcome("finished", took_s=time.monotonic() - began)
        return TryOutcome("ok", new_state, time.monotonic() - began)

    def fail(
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
        """Close the step run as failed, run ``on_failure`` (retried by its own policy) and
        close the execution ``quarantined``, or ``failed`` without such a step or when it fails
        too; the document's status follows, and the audit log says why (the error type).
        """
        executions = self.services.db.executions
        text = describe(exc)
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
                        fstep, self.context(pipeline, rec, fstep, idx, failed, attempt)
                    )
                    merged = merge_state(failed, out, fstep.name)
                except LeaseLostError:
                    raise
                except RETRYABLE as exc2:
                    executions.end_step(rec.id, owner, frun, "retrying", describe(exc2))
                    if attempt < fstep.retry.max_attempts and not self.stopping.is_set():
                        time.sleep(fstep.retry.delay(attempt, self.rng))
                        continue
                    final_error = f"{text}; {fstep.name} failed too: {describe(exc2)}"
                    break
                except Exception as exc2:
                    executions.fail_step(rec.id, owner, frun, describe(exc2))
                    final_error = f"{text}; {fstep.name} failed too: {describe(exc2)}"
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


class LeaseKeeper:
    """Renews, on one daemon thread, the lease of every execution this process is running.

    A worker that stops renewing (killed, frozen) loses its executions to other workers once
    ``runner.lease_s`` has passed since its last heartbeat.

    Args:
        services: the adapters (its ``db`` holds the leases).
        period_s: seconds between renewals (``runner.heartbeat_s``).
    """

    def __init__(self, services: Services, period_s: float) -> None:
        self.services = services
        self.period_s = period_s
        self._held: dict[str, str] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def hold(self, execution_id: str, owner: str) -> None:
        """Renew ``execution_id``'s lease for ``owner`` until :meth:`release`."""
        with self._lock:
            self._held[execution_id] = owner

    def release(self, execution_id: str) -> None:
        """Stop renewing ``execution_id``."""
        with self._lock:
            self._held.pop(execution_id, None)

    def start(self) -> bool:
        """Start the renewal thread; False if it was running already."""
        if self._thread is not None and self._thread.is_alive():
            return False
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="medflow-heartbeat", daemon=True)
        self._thread.start()
        return True

    def stop(self) -> None:
        """Stop the renewal thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self.period_s):
            with self._lock:
                held = list(self._held.items())
            for execution_id, owner in held:
                try:
                    renewed = self.services.db.executions.heartbeat(execution_id, owner)
                    with self._lock:
                        still_held = self._held.get(execution_id) == owner
                    if not renewed and still_held:
                        # Not renewed because it was just handed over or finished (the
                        # keeper had not yet been told) is normal; another owner is not.
                        now = self.services.db.executions.peek(execution_id)
                        if now is not None and now.lease_owner not in (None, owner):
                            log.warning("execution %s: lease lost by %s", execution_id, owner)
                except DatabaseError:
                    log.exception("execution %s: heartbeat failed", execution_id)
