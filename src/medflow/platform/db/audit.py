"""The audit log: who did what to which object, when. Never the data itself."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from medflow.platform.db.models import AuditRow
from medflow.platform.db.records import AuditRecord

if TYPE_CHECKING:
    from medflow.platform.db.database import Database


class AuditRepository:
    """Append-only audit entries."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def record(
        self,
        actor: str,
        action: str,
        object_type: str,
        object_id: str,
        detail: Mapping[str, Any] | None = None,
    ) -> AuditRecord:
        """Append an entry.

        Args:
            actor: who (a user id, ``"system"``, ``"runner"``).
            action: what (``"read"``, ``"upload"``, ``"quarantine"``).
            object_type: the kind of object (``"document"``, ``"patient"``).
            object_id: its id.
            detail: ids and reasons only; no patient data.
        """
        with self._db.transaction() as s:
            row = AuditRow(
                actor=actor,
                action=action,
                object_type=object_type,
                object_id=object_id,
                detail=dict(detail or {}),
            )
            s.add(row)
            s.flush()
            return AuditRecord.from_row(row)

    def list(
        self,
        *,
        object_type: str | None = None,
        object_id: str | None = None,
        actor: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[AuditRecord]:
        """Entries, newest first, optionally filtered."""
        q = select(AuditRow)
        if object_type is not None:
            q = q.where(AuditRow.object_type == object_type)
        if object_id is not None:
            q = q.where(AuditRow.object_id == object_id)
        if actor is not None:
            q = q.where(AuditRow.actor == actor)
        q = q.order_by(AuditRow.id.desc()).limit(limit).offset(offset)
        with self._db.reading() as s:
            return [AuditRecord.from_row(r) for r in s.scalars(q)]
