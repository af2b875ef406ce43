"""Assembling the platform from configuration.

* :func:`build_services` picks the store, database and notifier adapters named in settings.
* :func:`build_runner` picks the runner.
* :class:`Platform` wires services, pipelines, runner, triggers, inbox watcher and the notifier
  retry loop together: what ``medflow serve`` and the web app start and stop.

The at-scale adapters (``s3``, ``postgresql``, ``celery``) import their drivers only when
configured, and are checked as they are built: a wrong endpoint, bucket, database URL or broker
stops the start with a :class:`ConfigError` naming the setting.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from medflow.errors import (
    ConfigError,
    DatabaseError,
    DependencyMissingError,
    EmptyInputError,
    FileTooLargeError,
)
from medflow.platform.config import Settings, get_settings, signing_secret
from medflow.platform.db import Database
from medflow.platform.db.database import PoolOptions
from medflow.platform.events import (
    InboxWatcher,
    TriggerTable,
    connect_triggers,
    inbox_key,
    trigger_handler,
)
from medflow.platform.notify import (
    MemoryNotifier,
    Notifier,
    OutboxNotifier,
    SmtpNotifier,
    WebhookNotifier,
)
from medflow.platform.runner.base import Runner
from medflow.platform.runner.context import Services
from medflow.platform.runner.declaration import Pipeline
from medflow.platform.runner.registry import PipelineRegistry
from medflow.platform.runner.threads import ThreadRunner
from medflow.platform.storage import (
    LocalObjectStore,
    MemoryObjectStore,
    ObjectEvent,
    ObjectStore,
)

if TYPE_CHECKING:
    from medflow.platform.storage.s3_events import S3EventQueue

log = logging.getLogger(__name__)

NOTIFIER_RETRY_PERIOD_S = 15.0


def _not_yet(what: str, name: str) -> ConfigError:
    return ConfigError(
        f"{what} backend {name!r} is not installed yet in this medflow version; "
        f"use the embedded default or see CONTRIBUTING.md (adding an adapter)"
    )


def build_store(settings: Settings) -> ObjectStore:
    """The object store named by ``settings.storage.backend``, checked (S3: the endpoint
    answers and every bucket exists).

    Raises:
        ConfigError: a bad setting, named in the message.
        DependencyMissingError: the backend's extra is not installed.
    """
    backend = settings.storage.backend
    secret = signing_secret(settings)
    if backend == "local":
        return LocalObjectStore(settings.storage_root, secret, settings.web.link_base)
    if backend == "memory":
        return MemoryObjectStore(secret, settings.web.link_base)
    if backend == "s3":
        try:
            from medflow.platform.storage.s3 import S3ObjectStore
        except ImportError as exc:
            raise DependencyMissingError("storage.backend = s3", "s3", "boto3") from exc
        store = S3ObjectStore(settings.storage, secret, settings.web.link_base)
        store.check()
        return store
    raise _not_yet("storage", backend)


def build_notifier(settings: Settings, db: Database) -> Notifier:
    """The notifier named by ``settings.notify.backend``."""
    backend = settings.notify.backend
    if backend == "outbox":
        return OutboxNotifier(db, settings.notify, settings.outbox_dir)
    if backend == "smtp":
        return SmtpNotifier(db, settings.notify, settings.notify.smtp_ca_file)
    if backend == "webhook":
        group = settings.notify
        if not group.webhook_url or group.webhook_secret is None:
            missing = "notify.webhook_url" if not group.webhook_url else "notify.webhook_secret"
            raise ConfigError(f"{missing}: the webhook notifier needs it set")
        return WebhookNotifier(db, group)
    if backend == "memory":
        return MemoryNotifier(db, settings.notify)
    if backend == "ses":
        from medflow.platform.notify.ses import SesNotifier

        return SesNotifier(db, settings.notify)
    raise _not_yet("notify", backend)


def open_database(settings: Settings) -> Database:
    """The database of ``settings.database``, migrated.

    Raises:
        ConfigError: it cannot be opened or migrated; the message names ``database.url``.
    """
    group = settings.database
    pool = PoolOptions(
        size=group.pool_size,
        max_overflow=group.max_overflow,
        timeout_s=group.pool_timeout_s,
        recycle_s=group.pool_recycle_s,
        connect_timeout_s=group.connect_timeout_s,
    )
    try:
        return Database(
            settings.database_url,
            echo=group.echo,
            busy_timeout_ms=group.busy_timeout_ms,
            pool=pool,
        )
    except DatabaseError as exc:
        raise ConfigError(f"database.url: {exc}") from exc


def build_services(settings: Settings | None = None) -> Services:
    """Store, database (migrated) and notifier for ``settings`` (default :func:`get_settings`).

    Raises:
        ConfigError: a bad setting (named in the message), a database that cannot be opened
            or migrated (``database.url``), a backend that does not exist.
        DependencyMissingError: a configured backend's extra is not installed.
    """
    settings = settings or get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = build_store(settings)
    db = open_database(settings)
    return Services(settings=settings, store=store, db=db, notifier=build_notifier(settings, db))


def build_runner(services: Services, registry: PipelineRegistry) -> Runner:
    """The runner named by ``settings.runner.backend``; Celery's broker is checked.

    Raises:
        ConfigError: a bad setting, named in the message (``runner.broker_url``).
        DependencyMissingError: the celery extra is not installed.
    """
    settings = services.settings
    backend = settings.runner.backend
    if backend == "threads":
        return ThreadRunner(services, registry, settings.runner)
    if backend == "celery":
        try:
            from medflow.platform.runner.celery import CeleryRunner
        except ImportError as exc:
            raise DependencyMissingError("runner.backend = celery", "celery", "celery") from exc
        runner = CeleryRunner(
            services, registry, settings.runner, services_factory=lambda: build_services(settings)
        )
        runner.check()
        return runner
    if backend == "stepfunctions":
        from medflow.platform.runner.stepfunctions import StepFunctionsRunner

        return StepFunctionsRunner(services, registry)
    raise _not_yet("runner", backend)


class Platform:
    """Everything running together: services, pipelines, runner, triggers, inbox, retries.

    Args:
        settings: default :func:`get_settings`.
        pipelines: pipelines to register.
        services: prebuilt services (tests); default built from ``settings``.

    Example::

        with Platform(settings, pipelines=[labs_pipeline]) as platform:
            execution_id = platform.ingest(pdf_bytes, "report.pdf", "labs", {"patient_id": "P1"})
            record = platform.runner.wait(execution_id)
    """

    def __init__(
        self,
        settings: Settings | None = None,
        pipelines: Iterable[Pipeline] = (),
        services: Services | None = None,
    ) -> None:
        self.services = services or build_services(settings)
        self.settings = self.services.settings
        self.registry = PipelineRegistry(list(pipelines))
        self.runner = build_runner(self.services, self.registry)
        self.triggers = TriggerTable(self.settings.triggers)
        self._unsubscribe = connect_triggers(self.services.store, self.runner, self.triggers)
        self.inbox = InboxWatcher(
            self.settings.inbox_dir,
            self.services.store,
            folders=[r.prefix.strip("/") for r in self.settings.triggers if r.bucket == "raw"],
            poll_s=self.settings.runner.inbox_poll_s,
        )
        self.s3_events = self._s3_events()
        self._maint_stop = threading.Event()
        self._maint: threading.Thread | None = None

    def _s3_events(self) -> S3EventQueue | None:
        """The SQS consumer of the raw bucket's S3 notifications, when one is configured."""
        url = self.settings.storage.s3_events_queue_url
        if url is None:
            return None
        from medflow.platform.storage.s3 import S3ObjectStore
        from medflow.platform.storage.s3_events import S3EventQueue

        store = self.services.store
        if not isinstance(store, S3ObjectStore):
            raise ConfigError("storage.s3_events_queue_url is set but storage.backend is not s3")
        return S3EventQueue(store, url, trigger_handler(self.runner, self.triggers))

    def register(self, pipeline: Pipeline) -> Pipeline:
        """Register one more pipeline."""
        return self.registry.register(pipeline)

    def ingest(
        self,
        data: bytes,
        filename: str,
        pipeline: str,
        metadata: Mapping[str, str] | None = None,
        content_type: str = "application/octet-stream",
    ) -> str:
        """Keep ``data`` in the raw bucket first, then submit it to ``pipeline``.

        Returns:
            The execution id (the existing one if these bytes were already processed).

        Raises:
            UnknownPipelineError: no such pipeline.
            FileTooLargeError: over ``storage.max_upload_bytes`` (refused before storage).
            EmptyInputError: no bytes at all.
        """
        self.registry.get(pipeline)
        limit = self.settings.storage.max_upload_bytes
        if len(data) > limit:
            raise FileTooLargeError(
                filename, f"{len(data)} bytes is over the {limit}-byte upload limit"
            )
        if not data:
            raise EmptyInputError(filename, "the file is empty (0 bytes)")
        meta = {"filename": filename, **dict(metadata or {})}
        key = inbox_key(pipeline, data, filename)
        obj = self.services.store.put("raw", key, data, meta, content_type)
        event = ObjectEvent(obj.bucket, obj.key, obj.sha256, obj.size, dict(obj.metadata))
        return self.runner.submit(pipeline, event)

    def start(self, *, inbox: bool = True) -> None:
        """Start the runner, the inbox watcher and the notifier retry loop."""
        self.runner.start()
        if inbox:
            self.inbox.start()
        if self.s3_events is not None:
            self.s3_events.start()
        if self._maint is None or not self._maint.is_alive():
            self._maint_stop.clear()
            self._maint = threading.Thread(
                target=self._maintenance, name="medflow-maintenance", daemon=True
            )
            self._maint.start()

    def _maintenance(self) -> None:
        while not self._maint_stop.wait(NOTIFIER_RETRY_PERIOD_S):
            try:
                self.services.notifier.retry_failed()
            except Exception:
                log.exception("notification retry pass failed")

    def serve_forever(self, stop: threading.Event | None = None) -> None:
        """Start, then block until ``stop`` is set or SIGINT/SIGTERM arrives; then stop.

        Steps in flight get ``runner``'s stop timeout to finish; those that do not are taken
        over by the next process once their lease lapses.
        """
        stop = stop or threading.Event()
        previous: dict[signal.Signals, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                previous[signum] = signal.signal(signum, lambda *_: stop.set())
        try:
            self.start()
            log.info("medflow platform serving (data in %s)", self.settings.data_dir)
            while not stop.wait(0.5):
                pass
        finally:
            self.stop()
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop everything started by :meth:`start`."""
        self.inbox.stop()
        if self.s3_events is not None:
            self.s3_events.stop()
        self._maint_stop.set()
        if self._maint is not None:
            self._maint.join(5.0)
            self._maint = None
        self.runner.stop(timeout)

    def close(self) -> None:
        """Stop, unsubscribe and release the database."""
        self.stop()
        self._unsubscribe()
        self.services.close()

    def __enter__(self) -> Platform:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
