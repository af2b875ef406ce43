"""``CeleryRunner``: the same pipeline declarations run by Celery workers on RabbitMQ or Redis.

One task, ``medflow.step``, runs one step of one execution: its message carries the execution
id and the step's index, goes to ``runner.queue`` (or the queue ``runner.routes`` names for its
pipeline) and shows in monitoring under the step's name (``medflow.labs.parse``). The database
stays the source of truth, exactly as with :class:`~medflow.platform.runner.ThreadRunner`: the same
``executions`` and ``step_runs`` rows, written by the same :class:`StepExecutor`, so
``medflow status``, the portal and the API cannot tell which runner ran a document.

Exactly-once effects from at-least-once messages:

* a worker takes a step only by claiming the execution in the database (a conditional UPDATE
  naming the execution *and* the step index). A duplicate or late message finds the execution
  moved on and is dropped; one that finds it held by a live worker looks once more after the
  lease would lapse (the holder may have died) and is then dropped;
* messages are acknowledged late (``acks_late``) and requeued when a worker process is lost
  (``reject_on_worker_lost``): a worker SIGKILLed mid-step loses nothing. The next worker waits
  out the dead one's lease, marks its try ``abandoned`` and redoes the step (steps are
  idempotent); a step that loses its worker ``runner.max_interruptions`` times fails for good;
* a finished step is saved and the execution handed over in one transaction, then the next
  step's task is published (publisher confirms on RabbitMQ). If the process dies between the
  two, or the broker is down, the execution "owes" a task (``dispatched_at`` is empty) and the
  sweeper running in ``medflow serve`` publishes it (the transactional-outbox pattern);
* retries: a :class:`~medflow.errors.TransientError` or an overrun of the step's
  ``RetryPolicy.timeout_s`` republishes the step with a countdown of ``RetryPolicy.delay``
  (exponential backoff with jitter), up to ``max_attempts`` tries; a permanent error runs the
  pipeline's quarantine step. Each message also carries a hard ``time_limit`` (the prefork pool
  replaces a worker process whose step hangs past it).

Broker outages: workers reconnect on their own (``broker_connection_retry``); a publish that
fails after a few quick retries is left to the sweeper, never raised to the caller.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from celery import Celery
from kombu.exceptions import KombuError
from kombu.utils.url import maybe_sanitize_url

from medflow.errors import ConfigError, DatabaseError, PipelineError
from medflow.platform.config import RunnerSettings
from medflow.platform.db import ExecutionRecord, LeaseLostError
from medflow.platform.db.models import utcnow
from medflow.platform.runner.base import Runner
from medflow.platform.runner.context import Services
from medflow.platform.runner.declaration import Pipeline
from medflow.platform.runner.registry import PipelineRegistry, UnknownPipelineError
from medflow.platform.runner.steps import LeaseKeeper, StepExecutor
from medflow.platform.storage import ObjectEvent

log = logging.getLogger(__name__)

TASK_NAME = "medflow.step"
# A publish during a broker outage gives up quickly; the sweeper publishes it later.
_PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 1}
_PUBLISH_ERRORS: tuple[type[BaseException], ...] = (KombuError, OSError)


class StepInterruptedError(PipelineError):
    """A step's worker was lost (killed, out of memory) too many times; not tried again."""


def make_celery_app(settings: RunnerSettings) -> Celery:
    """A Celery app configured for medflow's steps (not set as the process's current app).

    Args:
        settings: the ``runner`` group (``broker_url``, ``queue_prefix``).
    """
    app = Celery("medflow", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,  # outcomes live in the database, not a result backend
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # steps are long: no worker hoards messages
        task_default_queue=settings.queue,
        broker_connection_retry=True,
        broker_connection_max_retries=None,
        broker_connection_retry_on_startup=True,
        # A task in flight when the connection drops finishes; its message is redelivered and
        # the database claim makes the duplicate a no-op.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        broker_transport_options={"confirm_publish": True},
        broker_heartbeat=settings.broker_heartbeat_s,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
    )
    return app


class CeleryRunner(Runner):
    """Runs pipelines as Celery tasks, durable in the database.

    Args:
        services: adapters handed to steps (its ``db`` holds the executions).
        registry: the pipelines this runner publishes and runs.
        settings: broker, queue prefix, lease, heartbeat, sweep; default
            ``services.settings.runner``.
        app: a Celery app; default :func:`make_celery_app` of ``settings``.
        rng: random source for retry jitter.
        services_factory: builds fresh services in a forked worker process (prefork pool), so
            no database connection or HTTP pool is shared across a fork.
    """

    def __init__(
        self,
        services: Services,
        registry: PipelineRegistry,
        settings: RunnerSettings | None = None,
        *,
        app: Celery | None = None,
        rng: random.Random | None = None,
        services_factory: Callable[[], Services] | None = None,
    ) -> None:
        super().__init__(services, registry)
        self.settings = settings or services.settings.runner
        self.app = app or make_celery_app(self.settings)
        self._rng = rng or random.Random()
        self._stop = threading.Event()
        self._services_factory = services_factory
        self._bind(services)
        self._sweeper: threading.Thread | None = None
        runner = self

        def step_task(task: Any, execution_id: str, step: int, looked: int = 0) -> str:
            return runner.handle(execution_id, step, looked, task.request.id)

        self.task = self.app.task(
            name=TASK_NAME,
            bind=True,
            shared=False,  # bound to this runner's app only
            acks_late=True,
            reject_on_worker_lost=True,
            ignore_result=True,
        )(step_task)

    def _bind(self, services: Services) -> None:
        self.services = services
        self._steps = StepExecutor(services, self._rng, self._stop)
        self._leases = LeaseKeeper(services, self.settings.heartbeat_s)

    def after_fork(self) -> None:
        """In a forked worker process: fresh services (connections are not fork-safe)."""
        if self._services_factory is not None:
            self._bind(self._services_factory())

    # -- queues and publishing --------------------------------------------------------------

    def queue_for(self, pipeline: str) -> str:
        """The queue a pipeline's steps are published to (``runner.routes``, else
        ``runner.queue``)."""
        return self.settings.routes.get(pipeline, self.settings.queue)

    def queues(self) -> list[str]:
        """Every queue this installation publishes to."""
        return sorted({self.settings.queue, *self.settings.routes.values()})

    def publish(
        self,
        execution_id: str,
        pipeline: str,
        step: int,
        *,
        countdown: float | None = None,
        looked: int = 0,
    ) -> bool:
        """Publish the task for ``step`` of an execution; False if the broker is unreachable
        (the execution then owes a task and the sweeper publishes it later)."""
        executions = self.services.db.executions
        try:
            declared = self.registry.get(pipeline)
            step_decl = declared.steps[step] if step < len(declared.steps) else None
        except UnknownPipelineError:
            step_decl = None
        options: dict[str, Any] = {}
        if step_decl is not None:
            options["shadow"] = f"medflow.{pipeline}.{step_decl.name}"
            timeout = step_decl.retry.timeout_s
            if timeout is not None:
                # The hard limit only the prefork pool enforces: a hung step's process is
                # replaced; call_with_timeout already gave up at timeout_s.
                options["time_limit"] = timeout + max(30.0, timeout)
        try:
            self.task.apply_async(
                args=(execution_id, step, looked),
                queue=self.queue_for(pipeline),
                countdown=countdown,
                retry=True,
                retry_policy=_PUBLISH_RETRY,
                **options,
            )
        except _PUBLISH_ERRORS as exc:
            log.warning(
                "execution %s: could not publish step %d (%s); the sweeper will",
                execution_id,
                step,
                type(exc).__name__,
            )
            if looked == 0:
                executions.mark_dispatched(execution_id, step, dispatched=False)
            return False
        if looked == 0:
            executions.mark_dispatched(execution_id, step)
        return True

    # -- the port ---------------------------------------------------------------------------

    def submit(self, pipeline: str, event: ObjectEvent | Mapping[str, Any]) -> str:
        """See :meth:`Runner.submit`; publishes the first step's task (a broker outage does not
        fail the submission: the sweeper publishes it when the broker is back)."""
        rec, created = self.record_submission(pipeline, event)
        if created:
            self.publish(rec.id, rec.pipeline, 0)
        return rec.id

    def retry(self, execution_id: str, from_step: int | None = None) -> ExecutionRecord:
        """See :meth:`Runner.retry`; publishes the task of the step it restarts at."""
        rec = super().retry(execution_id, from_step)
        self.publish(rec.id, rec.pipeline, rec.next_step)
        return rec

    @property
    def running(self) -> bool:
        """Whether this process runs the sweeper (``medflow serve``); steps run on workers."""
        return self._sweeper is not None and self._sweeper.is_alive()

    def start(self) -> None:
        """Start the sweeper that publishes owed tasks (idempotent). Steps run in
        ``medflow worker`` processes."""
        if self.running:
            return
        self._stop.clear()
        self._sweeper = threading.Thread(
            target=self._sweep_loop, name="medflow-sweeper", daemon=True
        )
        self._sweeper.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the sweeper; steps running inline (:meth:`run_pending`) finish their try."""
        self._stop.set()
        if self._sweeper is not None:
            self._sweeper.join(timeout)
            self._sweeper = None
        self._leases.stop()

    def sweep(self) -> int:
        """Publish every owed task once; returns how many were published."""
        owed = self.services.db.executions.take_for_dispatch(
            lease_s=self.settings.lease_s,
            grace_s=self.settings.dispatch_grace_s,
            redispatch_s=self.settings.redispatch_s,
            pipelines=self.registry.names(),
        )
        sent = 0
        for d in owed:
            if self.publish(d.execution_id, d.pipeline, d.next_step):
                sent += 1
            else:
                break  # the broker is down: the rest stay owed until the next sweep
        if sent:
            log.info("sweeper published %d owed task(s)", sent)
        return sent

    def _sweep_loop(self) -> None:
        while not self._stop.wait(self.settings.sweep_s):
            try:
                self.sweep()
            except DatabaseError:
                log.exception("sweep failed; trying again in %.0f s", self.settings.sweep_s)

    def run_pending(self, limit: int | None = None) -> int:
        """See :meth:`Runner.run_pending`: claims due executions and runs them to the end in
        the calling thread (no worker needed; the CLI and scripts use it)."""
        owner = self._owner("inline")
        done = 0
        while limit is None or done < limit:
            rec = self.services.db.executions.claim(
                owner, self.settings.lease_s, self.registry.names()
            )
            if rec is None:
                break
            # Left running afterwards: a worker in this process may hold leases too.
            self._leases.start()
            while rec is not None:
                following = self._run_claimed(rec, owner, publish=False)
                rec = (
                    self.services.db.executions.claim_one(
                        rec.id, owner, self.settings.lease_s, following
                    )
                    if following is not None
                    else None
                )
            done += 1
        return done

    def check(self, timeout_s: float = 5.0) -> None:
        """Check at start that the broker answers.

        Raises:
            ConfigError: naming ``runner.broker_url`` (unreachable, refused, bad vhost).
        """
        where = maybe_sanitize_url(self.settings.broker_url)
        conn = self.app.connection_for_write()
        try:
            conn.ensure_connection(
                max_retries=2, interval_start=0.5, interval_step=0.5, timeout=timeout_s
            )
        except Exception as exc:  # kombu raises the transport's own errors here
            raise ConfigError(
                f"runner.broker_url: cannot reach the broker at {where} ({type(exc).__name__}: "
                f"{exc}); start it (make services) or fix the URL"
            ) from exc
        finally:
            conn.release()

    # -- the task ---------------------------------------------------------------------------

    def _owner(self, tag: str | None) -> str:
        return f"{socket.gethostname()}:{os.getpid()}:{(tag or uuid.uuid4().hex)[:12]}"

    def handle(
        self, execution_id: str, step: int, looked: int = 0, task_id: str | None = None
    ) -> str:
        """Run step ``step`` of an execution if this message is the one to do it.

        Returns:
            What happened: ``ran``, ``stale`` (done already or moved on), ``later`` (looked
            again after the holder's lease), ``held`` (a live worker has it), ``unknown``.
        """
        executions = self.services.db.executions
        owner = self._owner(task_id)
        # Claim first: the usual message is the one to run, and a miss costs one more read.
        claimed = executions.claim_one(execution_id, owner, self.settings.lease_s, step)
        if claimed is None:
            return self._not_claimed(execution_id, step, looked)
        if claimed.pipeline not in self.registry:
            log.error(
                "execution %s: pipeline %s is not registered here", claimed.id, claimed.pipeline
            )
            executions.release(claimed.id, owner)
            return "unknown"
        self._leases.start()
        self._run_claimed(claimed, owner, publish=True)
        return "ran"

    def _not_claimed(self, execution_id: str, step: int, looked: int) -> str:
        rec = self.services.db.executions.peek(execution_id)
        if rec is None:
            return "unknown"
        if rec.done or rec.next_step != step or looked >= 3:
            return "stale"
        now = utcnow()
        if rec.status == "pending" and rec.next_run_at > now:
            wait = (rec.next_run_at - now).total_seconds()
            if wait < 60:  # early by clock skew: come back when due
                self.publish(rec.id, rec.pipeline, step, countdown=wait + 0.05, looked=looked + 1)
                return "later"
            return "stale"  # a retry scheduled later has its own message
        if rec.status == "running" and rec.heartbeat_at is not None and looked == 0:
            # Held: by a live worker (then this is a duplicate) or by one that just died. Look
            # again once its lease would have lapsed.
            lapse = rec.heartbeat_at + timedelta(seconds=self.settings.lease_s) - now
            countdown = max(0.0, lapse.total_seconds()) + 0.5
            self.publish(rec.id, rec.pipeline, step, countdown=countdown, looked=1)
            return "later"
        return "held"

    def _run_claimed(self, rec: ExecutionRecord, owner: str, *, publish: bool) -> int | None:
        """Run the claimed execution's next step once; returns the next step's index when it
        was handed over for another task, None otherwise."""
        self._leases.hold(rec.id, owner)
        try:
            return self._run_step(self.registry.get(rec.pipeline), rec, owner, publish)
        except LeaseLostError:
            log.warning("execution %s: taken over by another worker; this one stops", rec.id)
        except DatabaseError:
            log.exception("execution %s: database failure; the lease will lapse", rec.id)
        finally:
            self._leases.release(rec.id)
        return None

    def _run_step(
        self, pipeline: Pipeline, rec: ExecutionRecord, owner: str, publish: bool
    ) -> int | None:
        executions = self.services.db.executions
        idx = rec.next_step
        n = len(pipeline.steps)
        if idx >= n:  # every step done; only the close was lost
            executions.finish(
                rec.id, owner, "succeeded", document_status="processed", document_id=rec.document_id
            )
            return None
        step = pipeline.steps[idx]
        attempt = rec.attempt + 1
        run_id = executions.start_step(rec.id, owner, step.name, attempt)
        # Only a step tried before (attempt > 1) can have lost a worker.
        lost = executions.abandoned_count(rec.id, step.name) if attempt > 1 else 0
        if lost >= self.settings.max_interruptions:
            exc = StepInterruptedError(
                f"step {step.name!r} of execution {rec.id} lost its worker {lost} times"
            )
            self._steps.fail(pipeline, rec, owner, run_id, step, idx, exc, rec.state)
            return None
        outcome = self._steps.try_step(pipeline, rec, owner, idx, rec.state, attempt, run_id)
        if outcome.kind == "retry":
            if publish:
                self.publish(rec.id, pipeline.name, idx, countdown=outcome.delay_s)
            return None
        if outcome.kind == "finished":
            return None
        if idx + 1 < n:
            executions.handover(
                rec.id, owner, run_id, idx + 1, outcome.state, (idx + 1) / n, outcome.took_s
            )
            if publish:
                self.publish(rec.id, pipeline.name, idx + 1)
            return idx + 1
        executions.advance(rec.id, owner, run_id, n, outcome.state, 1.0, outcome.took_s, None)
        executions.finish(
            rec.id,
            owner,
            "succeeded",
            state=outcome.state,
            document_status="processed",
            document_id=rec.document_id,
        )
        log.info("execution %s succeeded", rec.id)
        return None


def run_worker(
    runner: CeleryRunner,
    *,
    concurrency: int,
    queues: list[str] | None = None,
    pool: str = "prefork",
    loglevel: str = "WARNING",
    hostname: str | None = None,
) -> int:
    """Consume ``queues`` and run their steps until stopped (SIGTERM: warm shutdown, the steps
    in flight finish; SIGKILL: their messages go back to the queue). Returns the exit code.

    Args:
        runner: the runner whose task the worker runs (its registry names the pipelines).
        concurrency: processes (prefork) or threads (threads) running steps at once.
        queues: the queues to consume; default every queue of the configuration.
        pool: ``prefork`` (a process per slot: CPU-bound steps in parallel), ``threads`` or
            ``solo``.
        loglevel: Celery's log level.
        hostname: the worker's node name; default ``medflow@<host>:<pid>``.
    """
    import warnings

    from celery.signals import worker_init, worker_process_init

    # Celery warns on every connection loss that it may cancel late-acked tasks in 6.0; not
    # cancelling them is this runner's deliberate choice (see make_celery_app).
    warnings.filterwarnings(
        "ignore", message=r"(?s).*worker_cancel_long_running_tasks_on_connection_loss"
    )
    if pool == "prefork":

        def before_fork(**_: Any) -> None:
            # Pooled database connections must not be shared with forked processes.
            runner.services.db.close()

        def in_child(**_: Any) -> None:
            runner.after_fork()

        worker_init.connect(before_fork, weak=False)
        worker_process_init.connect(in_child, weak=False)
    worker = runner.app.Worker(
        pool_cls=pool,
        concurrency=concurrency,
        queues=queues or runner.queues(),
        loglevel=loglevel,
        hostname=hostname or f"medflow@{socket.gethostname()}:{os.getpid()}",
        without_mingle=True,
        without_gossip=True,
        quiet=True,
        optimization="fair",
    )
    worker.start()
    return int(worker.exitcode or 0)
