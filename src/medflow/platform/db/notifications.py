"""Notifications and their delivery status (``queued`` -> ``sent`` | ``failed``).

A failed send with tries left keeps ``next_attempt_at``; one out of tries has none. Retries are
claimed with a conditional update, so two processes never send the same message twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import and_, or_, select, update

from medflow.platform.db.errors import RecordNotFoundError
from medflow.platform.db.models import NotificationRow, utcnow
from medflow.platform.db.records import NotificationRecord

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from medflow.platform.db.database import Database


class NotificationRepository:
    """Stored notifications."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create(
        self,
        *,
        channel: str,
        recipient: str,
        subject: str,
        payload: str,
        document_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> tuple[NotificationRecord, bool]:
        """A new ``queued`` notification; ``payload`` is what a retry sends again.

        Args:
            channel: ``email``...
            recipient: the address.
            subject: the subject (cut to 998 characters, RFC 5322's line limit).
            payload: the full message.
            document_id: the document it is about.
            idempotency_key: when given and already used, the existing notification is
                returned instead of a new one.

        Returns:
            The notification and whether it was created now.
        """
        with self._db.transaction() as s:
            if idempotency_key is not None:
                found = s.scalar(
                    select(NotificationRow).where(
                        NotificationRow.idempotency_key == idempotency_key
                    )
                )
                if found is not None:
                    return NotificationRecord.from_row(found), False
            row = NotificationRow(
                idempotency_key=idempotency_key,
                channel=channel,
                recipient=recipient,
                subject=subject[:998],
                payload=payload,
                document_id=document_id,
                status="queued",
                attempts=0,
            )
            s.add(row)
            s.flush()
            return NotificationRecord.from_row(row), True

    def mark_sent(self, notification_id: str) -> None:
        """The send succeeded (counts the try)."""
        with self._db.transaction() as s:
            row = self._row(s, notification_id)
            row.status = "sent"
            row.attempts += 1
            row.sent_at = utcnow()
            row.last_error = None
            row.next_attempt_at = None

    def mark_failed(
        self, notification_id: str, error: str, next_attempt_at: datetime | None
    ) -> None:
        """The send failed (counts the try); ``next_attempt_at`` None means give up."""
        with self._db.transaction() as s:
            row = self._row(s, notification_id)
            row.status = "failed"
            row.attempts += 1
            row.last_error = error[:2000]
            row.next_attempt_at = next_attempt_at

    def claim_due(
        self,
        now: datetime | None = None,
        limit: int = 50,
        stale_before: datetime | None = None,
    ) -> list[NotificationRecord]:
        """Notifications to send now, each claimed so that no other process sends it too.

        Due: failed ones whose retry time has come (set back to ``queued``); with
        ``stale_before``, also ones ``queued`` (stored, or claimed for a retry) before that
        time and never marked since: their sender died between storing and delivering them (a
        worker killed mid-step; the step's rerun finds the idempotency key taken and leaves
        the delivery to this).
        """
        now = now or utcnow()
        claimed = []
        row_t = NotificationRow
        with self._db.transaction() as s:
            failed = and_(
                row_t.status == "failed",
                row_t.next_attempt_at.is_not(None),
                row_t.next_attempt_at <= now,
            )
            due = failed
            stale = None
            if stale_before is not None:
                # For a queued row, next_attempt_at marks a retry claimed by this method.
                stale = and_(
                    row_t.status == "queued",
                    row_t.created_at < stale_before,
                    or_(row_t.next_attempt_at.is_(None), row_t.next_attempt_at < stale_before),
                )
                due = or_(failed, stale)
            q = select(NotificationRow).where(due).order_by(row_t.created_at).limit(limit)
            for row in list(s.scalars(q)):
                cond = failed if row.status == "failed" or stale is None else stale
                result = s.execute(
                    update(NotificationRow)
                    .where(row_t.id == row.id, cond)
                    .values(status="queued", next_attempt_at=now)
                    .execution_options(synchronize_session=False)
                )
                if result.rowcount == 1:  # type: ignore[attr-defined]
                    s.refresh(row)
                    claimed.append(NotificationRecord.from_row(row))
        return claimed

    @staticmethod
    def _row(s: Session, notification_id: str) -> NotificationRow:
        row = s.get(NotificationRow, notification_id)
        if row is None:
            raise RecordNotFoundError(f"no notification {notification_id}")
        return row

    def get(self, notification_id: str) -> NotificationRecord:
        """The notification. Raises RecordNotFoundError."""
        with self._db.reading() as s:
            return NotificationRecord.from_row(self._row(s, notification_id))

    def list(
        self,
        *,
        document_id: str | None = None,
        status: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[NotificationRecord]:
        """Notifications, newest first, optionally filtered."""
        q = select(NotificationRow)
        if document_id is not None:
            q = q.where(NotificationRow.document_id == document_id)
        if status is not None:
            q = q.where(NotificationRow.status == status)
        q = q.order_by(NotificationRow.created_at.desc(), NotificationRow.id)
        with self._db.reading() as s:
            return [
                NotificationRecord.from_row(r) for r in s.scalars(q.limit(limit).offset(offset))
            ]
