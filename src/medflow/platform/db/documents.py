"""Patients and documents (the uploaded originals)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from medflow.platform.db.errors import RecordNotFoundError
from medflow.platform.db.models import DocumentRow, PatientRow
from medflow.platform.db.records import DocumentRecord, PatientRecord

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from medflow.platform.db.database import Database


def document_in_session(
    s: Session,
    *,
    bucket: str,
    key: str,
    sha256: str,
    size: int,
    filename: str = "",
    content_type: str = "application/octet-stream",
    pipeline: str | None = None,
    patient_id: str | None = None,
    meta: Mapping[str, Any] | None = None,
) -> tuple[DocumentRow, bool]:
    """Get or create the document row inside an open transaction (see ``get_or_create``)."""
    found = s.scalar(
        select(DocumentRow).where(
            DocumentRow.bucket == bucket,
            DocumentRow.key == key,
            DocumentRow.sha256 == sha256,
        )
    )
    if found is not None:
        return found, False
    if patient_id is not None and s.get(PatientRow, patient_id) is None:
        s.add(PatientRow(id=patient_id, name="", sex="unknown"))
        s.flush()
    row = DocumentRow(
        bucket=bucket,
        key=key,
        sha256=sha256,
        size=size,
        filename=filename or key.rsplit("/", 1)[-1],
        content_type=content_type,
        pipeline=pipeline,
        patient_id=patient_id,
        meta=dict(meta or {}),
        status="received",
    )
    s.add(row)
    s.flush()
    return row, True


class PatientRepository:
    """Patients, keyed by the hospital's identifier."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def upsert(
        self,
        patient_id: str,
        *,
        name: str | None = None,
        sex: str | None = None,
        birth_date: str | None = None,
        email: str | None = None,
        doctor_email: str | None = None,
    ) -> PatientRecord:
        """Create the patient or update the fields given (None leaves a field as it is)."""
        with self._db.transaction() as s:
            row = s.get(PatientRow, patient_id)
            if row is None:
                row = PatientRow(id=patient_id, name="", sex="unknown")
                s.add(row)
            for attr, value in (
                ("name", name),
                ("sex", sex),
                ("birth_date", birth_date),
                ("email", email),
                ("doctor_email", doctor_email),
            ):
                if value is not None:
                    setattr(row, attr, value)
            s.flush()
            return PatientRecord.from_row(row)

    def get(self, patient_id: str) -> PatientRecord:
        """The patient. Raises RecordNotFoundError."""
        with self._db.reading() as s:
            row = s.get(PatientRow, patient_id)
            if row is None:
                raise RecordNotFoundError(f"no patient {patient_id}")
            return PatientRecord.from_row(row)

    def list(self, limit: int = 100, offset: int = 0) -> list[PatientRecord]:
        """Patients by id."""
        with self._db.reading() as s:
            rows = s.scalars(select(PatientRow).order_by(PatientRow.id).limit(limit).offset(offset))
            return [PatientRecord.from_row(r) for r in rows]


class DocumentRepository:
    """Uploaded originals. One row per stored object version (bucket, key, sha256)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get_or_create(
        self,
        *,
        bucket: str,
        key: str,
        sha256: str,
        size: int,
        filename: str = "",
        content_type: str = "application/octet-stream",
        pipeline: str | None = None,
        patient_id: str | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> tuple[DocumentRecord, bool]:
        """The document for this object, created if new.

        Idempotent: the same event delivered twice yields the same row.
        A ``patient_id`` not yet known creates a bare patient row (name filled in later).

        Returns:
            The record and whether it was created now.
        """
        with self._db.transaction() as s:
            row, created = document_in_session(
                s,
                bucket=bucket,
                key=key,
                sha256=sha256,
                size=size,
                filename=filename,
                content_type=content_type,
                pipeline=pipeline,
                patient_id=patient_id,
                meta=meta,
            )
            return DocumentRecord.from_row(row), created

    def get(self, document_id: str) -> DocumentRecord:
        """The document. Raises RecordNotFoundError."""
        with self._db.reading() as s:
            row = s.get(DocumentRow, document_id)
            if row is None:
                raise RecordNotFoundError(f"no document {document_id}")
            return DocumentRecord.from_row(row)

    def set_status(self, document_id: str, status: str) -> None:
        """Set the document's status (``received``, ``processed``, ``quarantined``...)."""
        with self._db.transaction() as s:
            row = s.get(DocumentRow, document_id)
            if row is None:
                raise RecordNotFoundError(f"no document {document_id}")
            row.status = status

    def list(
        self,
        *,
        patient_id: str | None = None,
        pipeline: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[DocumentRecord]:
        """Documents, newest first, optionally for one patient or pipeline."""
        q = select(DocumentRow)
        if patient_id is not None:
            q = q.where(DocumentRow.patient_id == patient_id)
        if pipeline is not None:
            q = q.where(DocumentRow.pipeline == pipeline)
        q = q.order_by(DocumentRow.created_at.desc(), DocumentRow.id).limit(limit).offset(offset)
        with self._db.reading() as s:
            return [DocumentRecord.from_row(r) for r in s.scalars(q)]
