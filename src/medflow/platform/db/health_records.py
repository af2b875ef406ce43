"""Health records: one structured record per dictated (or otherwise summarised) document.

A record holds what the dictation pipeline made of one recording: the transcript text, the
"medical resume" as JSON (patient, chief complaint, symptoms, conditions, medications,
allergies, plan) and where its HTML page and entities live in the results bucket. It is keyed
by document, so writing it twice for the same document updates the one row (idempotent steps,
see ARCHITECTURE.md), and it is queried by patient.

The table is created by migration ``0004``; :class:`HealthRecordRepository` works on any
migrated :class:`~medflow.platform.db.Database` (it is not attached to ``Database`` itself, so the
platform's repository list stays as it is; get one with :func:`health_record_repository`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Column, Index, String, Table, Text, select

from medflow.platform.db.errors import RecordNotFoundError
from medflow.platform.db.models import Base, UTCDateTime, new_id

if TYPE_CHECKING:
    from medflow.platform.db.database import Database

# On the shared metadata, so Alembic's autogenerate check sees the table (migrations/env.py
# imports this module).
health_records = Table(
    "health_records",
    Base.metadata,
    Column("id", String(32), primary_key=True),
    Column("document_id", String(32), nullable=False, unique=True),
    Column("patient_id", String(128), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("title", String(256), nullable=False),
    Column("transcript", Text, nullable=False),
    Column("resume", JSON, nullable=False),
    Column("html_key", String(512), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_health_records_patient_id", "patient_id"),
)


@dataclass(frozen=True)
class HealthRecord:
    """A health record as stored (detached from any session).

    Attributes:
        id: the record id.
        document_id: the document (upload) it was made from; one record per document.
        patient_id: whose record it is.
        kind: what made it (``"dictation"``).
        title: a short title (no patient data beyond what the patient's own record shows).
        transcript: the transcript text.
        resume: the structured medical resume (JSON-ready dict).
        html_key: the resume page's key in the results bucket.
        created_at: when the record was first written.
        updated_at: when it was last written.
    """

    id: str
    document_id: str
    patient_id: str
    kind: str
    title: str
    transcript: str
    resume: dict[str, Any]
    html_key: str
    created_at: datetime
    updated_at: datetime


class HealthRecordRepository:
    """Upsert-per-document and list-by-patient access to ``health_records``.

    Args:
        db: an open database migrated to revision 0004 or later.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    def upsert(
        self,
        document_id: str,
        patient_id: str,
        *,
        kind: str,
        title: str,
        transcript: str,
        resume: dict[str, Any],
        html_key: str,
    ) -> HealthRecord:
        """Create the document's record, or replace its contents (keeping id and created_at).

        Returns:
            The record as stored.
        """
        now = datetime.now(UTC)
        values = {
            "patient_id": patient_id,
            "kind": kind,
            "title": title,
            "transcript": transcript,
            "resume": resume,
            "html_key": html_key,
            "updated_at": now,
        }
        with self._db.transaction() as s:
            existing = s.execute(
                select(health_records.c.id).where(health_records.c.document_id == document_id)
            ).scalar()
            if existing is None:
                s.execute(
                    health_records.insert().values(
                        id=new_id(), document_id=document_id, created_at=now, **values
                    )
                )
            else:
                s.execute(
                    health_records.update()
                    .where(health_records.c.document_id == document_id)
                    .values(**values)
                )
        return self.get(document_id)

    def get(self, document_id: str) -> HealthRecord:
        """The record made from ``document_id``.

        Raises:
            RecordNotFoundError: there is none.
        """
        with self._db.reading() as s:
            row = (
                s.execute(select(health_records).where(health_records.c.document_id == document_id))
                .mappings()
                .first()
            )
        if row is None:
            raise RecordNotFoundError(f"no health record for document {document_id}")
        return HealthRecord(**dict(row))

    def list_by_patient(self, patient_id: str) -> list[HealthRecord]:
        """Every record of ``patient_id``, oldest first."""
        with self._db.reading() as s:
            rows = (
                s.execute(
                    select(health_records)
                    .where(health_records.c.patient_id == patient_id)
                    .order_by(health_records.c.created_at, health_records.c.id)
                )
                .mappings()
                .all()
            )
        return [HealthRecord(**dict(r)) for r in rows]


def health_record_repository(db: Database) -> HealthRecordRepository:
    """The health-record repository of ``db`` (cheap: it holds only the database)."""
    return HealthRecordRepository(db)
