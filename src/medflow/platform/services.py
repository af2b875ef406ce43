"""Assembling the platform from configuration.

* :func:`build_services` picks the store, database and notifier adapters named in settings.
* :func:`build_runner` picks the runner.
* :class:`Platform` wires services, pipelines, runner, triggers, inbox watcher and the notifier
  retry loop together: what ``medflow serve`` and the web app start and stop.

Adapters reserved for later (``s3``, ``celery``) fail with a clear :class:`ConfigError` until
they exist; the configuration names them already so deployments can be written now.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

from medflow.errors import ConfigError, EmptyInputError, FileTooLargeError
from medflow.platform.config import Settings, get_settings, signing_secret
from medflow.platform.db import Database
from medflow.platform.events import InboxWatcher, TriggerTable, connect_triggers, inbox_key
from medflow.platform.notify import MemoryNotifier, Notifier, OutboxNotifier, SmtpNotifier
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

log = logging.getLogger(__name__)

NOTIFIER_RETRY_PERIOD_S = 15.0


def _not_yet(what: str, name: str) -> ConfigError:
    return ConfigError(
        f"{what} backend {name!r} is not installed yet in this medflow version; "
        f"use the embedded default or see CONTRIBUTING.md (adding an adapter)"
    )


def build_store(settings: Settings) -> ObjectStore:
    """The object store named by ``settings.storage.backend``.

    Raises:
        ConfigError: a backend that does not exist yet.
    """
    backend = settings.storage.backend
    secret = signing_secret(settings)
    if backend == "local":
        return LocalObjectStore(settings.storage_root, secret, settings.web.link_base)
    if backend == "memory":
        return MemoryObjectStore(secret, settings.web.link_base)
    raise _not_yet("storage", backend)


def build_notifier(settings: Settings, db: Database) -> Notifier:
    """The notifier named by ``settings.notify.backend``."""
    backend = settings.notify.backend
    if backend == "outbox":
        return OutboxNotifier(db, settings.notify, settings.outbox_dir)
    if backend == "smtp":
        return SmtpNotifier(db, settings.notify, settings.notify.smtp_ca_file)
    if backend == "memory":
        return MemoryNotifier(db, settings.notify)
    raise _not_yet("notify", backend)


def build_services(settings: Settings | None = None) -> Services:
    """Store, database (migrated) and notifier for ``settings`` (default :func:`get_settings`).

    Raises:
        ConfigError: a backend that does not exist yet.
        DatabaseError: the database cannot be opened or migrated.
    """
    settings = settings or get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = build_store(settings)
    db = Database(
        settings.database_url,
        echo=settings.database.echo,
        busy_timeout_ms=settings.database.busy_timeout_ms,
    )
    return Services(settings=settings, store=store, db=db, notifier=build_notifier(settings, db))


def build_runner(services: Services, registry: PipelineRegistry) -> Runner:
    """The runner named by ``settings.runner.backend``.

    Raises:
        ConfigError: a backend that does not exist yet.
    """
    backend = services.settings.runner.backend
    if backend == "threads":
        return ThreadRunner(services, registry, services.settings.runner)
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
        self._maint_stop = threading.Event()
        self._maint: threading.Thread | None = None

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
