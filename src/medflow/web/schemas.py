"""API schemas (request and response bodies), separate from the database tables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from medflow.platform.db import DocumentRecord, ExecutionRecord, PatientRecord
from medflow.platform.db.care_team import CareTeamMember
from medflow.platform.db.health_records import HealthRecord

_EMAIL = r"^[^@\s]{1,64}@[^@\s]{1,255}$"


class _Schema(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UploadCreate(_Schema):
    """A request for a signed upload URL."""

    filename: str = Field(min_length=1, max_length=255, description="The file's name.")
    content_type: str = Field(min_length=1, max_length=255, description="Its MIME type.")
    size: int = Field(ge=0, le=2**40, description="Its length in bytes.")
    patient_id: str = Field(
        min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._-]+$", description="Patient id."
    )
    patient_name: str = Field(default="", max_length=256, description="The patient's name.")
    sex: str = Field(default="", max_length=16, description="male, female or empty.")
    age: int | None = Field(default=None, ge=0, le=130, description="Age in years.")
    doctor_email: str | None = Field(
        default=None, max_length=320, pattern=_EMAIL, description="The doctor to notify."
    )
    pipeline: str = Field(
        default="labs",
        max_length=64,
        description=(
            "The pipeline to run: labs (lab report), documents (clinical PDF, DOCX or text), "
            "dictation (audio), imaging (DICOM) or records (CSV), as registered."
        ),
    )


class UploadPublic(_Schema):
    """A signed upload URL: PUT the bytes there with the same Content-Type."""

    upload_url: str
    method: str = "PUT"
    bucket: str
    key: str
    expires_at: datetime
    headers: dict[str, str]


class StoredPublic(_Schema):
    """The answer to a signed PUT."""

    bucket: str
    key: str
    sha256: str
    size: int
    document_id: str | None
    execution_id: str | None


class DocumentPublic(_Schema):
    """An uploaded original."""

    id: str
    filename: str
    content_type: str
    size: int
    pipeline: str | None
    patient_id: str | None
    status: str
    created_at: datetime

    @classmethod
    def of(cls, rec: DocumentRecord) -> DocumentPublic:
        """From a database record."""
        return cls(
            id=rec.id,
            filename=rec.filename,
            content_type=rec.content_type,
            size=rec.size,
            pipeline=rec.pipeline,
            patient_id=rec.patient_id,
            status=rec.status,
            created_at=rec.created_at,
        )


class DocumentsPublic(_Schema):
    """A page of documents."""

    data: list[DocumentPublic]
    count: int


class PatientPublic(_Schema):
    """A patient."""

    id: str
    name: str
    sex: str
    birth_date: str | None
    doctor_email: str | None = Field(
        description="The upload form's default doctor; reading the record needs the care team."
    )
    care_team: list[str] = Field(
        default_factory=list, description="The doctors who may read the whole record."
    )

    @classmethod
    def of(cls, rec: PatientRecord, care_team: Sequence[str] = ()) -> PatientPublic:
        """From a database record and the emails of its care team."""
        return cls(
            id=rec.id,
            name=rec.name,
            sex=rec.sex,
            birth_date=rec.birth_date,
            doctor_email=rec.doctor_email,
            care_team=list(care_team),
        )


class CareTeamCreate(_Schema):
    """A doctor to put on a patient's care team (an active doctor account)."""

    doctor_email: str = Field(max_length=320, pattern=_EMAIL, description="The doctor's email.")


class CareTeamMemberPublic(_Schema):
    """A doctor on a patient's care team."""

    doctor_email: str
    since: datetime
    added_by: str = Field(description="Who added them: a user id, or 'migration'.")

    @classmethod
    def of(cls, rec: CareTeamMember) -> CareTeamMemberPublic:
        """From a database record."""
        return cls(doctor_email=rec.doctor_email, since=rec.since, added_by=rec.added_by)


class CareTeamPublic(_Schema):
    """A patient's care team, longest-standing first."""

    data: list[CareTeamMemberPublic]
    count: int


class PatientsPublic(_Schema):
    """A list of patients."""

    data: list[PatientPublic]
    count: int


class ExecutionPublic(_Schema):
    """A pipeline run."""

    id: str
    document_id: str | None
    pipeline: str
    status: str
    progress: float
    progress_message: str
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    pixel_review: list[str] = []
    """Imaging: de-identified copies whose pixels a person must review before they leave the
    site (burned-in text may remain), each ``key: why``; empty when none (or not imaging)."""

    @classmethod
    def of(cls, rec: ExecutionRecord) -> ExecutionPublic:
        """From a database record."""
        review = rec.state.get("pixel_review") if isinstance(rec.state, dict) else None
        return cls(
            id=rec.id,
            document_id=rec.document_id,
            pipeline=rec.pipeline,
            status=rec.status,
            progress=rec.progress,
            progress_message=rec.progress_message,
            error=rec.error,
            created_at=rec.created_at,
            finished_at=rec.finished_at,
            pixel_review=[str(r) for r in review] if isinstance(review, list) else [],
        )


class ExecutionsPublic(_Schema):
    """A list of pipeline runs."""

    data: list[ExecutionPublic]
    count: int


class DocumentStatus(_Schema):
    """A document with its latest run (what the upload page polls)."""

    document: DocumentPublic
    execution: ExecutionPublic | None


class ResultsPublic(_Schema):
    """The analysis of a document, as the pipeline stored it (``report.json``)."""

    document_id: str
    report: dict[str, Any]


class Problem(_Schema):
    """An error answer."""

    detail: str


class HealthRecordPublic(_Schema):
    """A health record: what one dictation made (transcript and medical resume)."""

    id: str
    document_id: str
    patient_id: str
    kind: str
    title: str
    transcript: str
    resume: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    resume_url: str = Field(description="The portal page of the medical resume.")

    @classmethod
    def of(cls, rec: HealthRecord) -> HealthRecordPublic:
        """From a database record."""
        return cls(
            id=rec.id,
            document_id=rec.document_id,
            patient_id=rec.patient_id,
            kind=rec.kind,
            title=rec.title,
            transcript=rec.transcript,
            resume=rec.resume,
            created_at=rec.created_at,
            updated_at=rec.updated_at,
            resume_url=f"/reports/{rec.document_id}/resume",
        )


class HealthRecordsPublic(_Schema):
    """A patient's health records, newest first."""

    data: list[HealthRecordPublic]
    count: int
