"""What a step receives: the execution's identity, its event and state, and the services."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from medflow.platform.config import Settings
from medflow.platform.db import Database
from medflow.platform.notify import Notifier
from medflow.platform.storage import ObjectEvent, ObjectStore


@dataclass(frozen=True)
class Services:
    """The platform's adapters, chosen by configuration (see :func:`build_services`).

    Attributes:
        settings: every setting.
        store: the object store.
        db: the database.
        notifier: the notifier.
    """

    settings: Settings
    store: ObjectStore
    db: Database
    notifier: Notifier

    def close(self) -> None:
        """Release database connections."""
        self.db.close()


@dataclass(frozen=True)
class StepContext:
    """Everything a step may use. Steps read ``state`` and return what they add to it.

    Attributes:
        execution_id: the execution.
        document_id: the document being processed, if any.
        pipeline: the pipeline's name.
        step: the step's name.
        event: the event that started the execution (``ObjectEvent.to_dict()`` form).
        state: what earlier steps returned, merged (read-only view); ``state["error"]``
            (``{"step", "type", "message"}``) in the ``on_failure`` step.
        services: store, db, notifier, settings.
        attempt: this try's number, 1-based.
    """

    execution_id: str
    document_id: str | None
    pipeline: str
    step: str
    event: Mapping[str, Any]
    state: Mapping[str, Any]
    services: Services
    attempt: int = 1
    _on_progress: Callable[[float, str], None] | None = field(default=None, repr=False)

    @property
    def object_event(self) -> ObjectEvent:
        """The starting event as an :class:`ObjectEvent`."""
        return ObjectEvent.from_dict(self.event)

    def progress(self, fraction: float, message: str = "") -> None:
        """Report progress within this step (0..1) and a short message (no patient data).

        Stored on the execution, so status pages and the CLI can show it.
        """
        if self._on_progress is not None:
            self._on_progress(fraction, message)
