"""Plain, frozen records the repositories return (detached from any session).

Callers never hold ORM objects, so nothing lazy-loads after its session closed, and a later
adapter (another ORM, an HTTP API) can return the same records.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Literal, Self

ExecutionStatus = Literal["pending", "running", "succeeded", "failed", "quarantined"]
StepStatus = Literal["running", "succeeded", "retrying", "failed"]
NotificationStatus = Literal["queued", "sent", "failed"]

TERMINAL: frozenset[str] = frozenset({"succeeded", "failed", "quarantined"})


class _FromRow:
    @classmethod
    def from_row(cls, row: object) -> Self:
        """Copy the same-named attributes of an ORM row."""
        names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
        return cls(**{n: getattr(row, n) for n in names if hasattr(row, n)})


@dataclass(frozen=True)
class PatientRecord(_FromRow):
    """A patient as stored."""

    id: str
    name: str
    sex: str
    birth_date: str | None
    email: str | None
    doctor_email: str | None
    created_at: datetime


@dataclass(frozen=True)
class DocumentRecord(_FromRow):
    """An uploaded original. ``meta`` is the user metadata given at upload."""

    id: str
    bucket: str
    key: str
    sha256: str
    filename: str
    content_type: str
    size: int
    pipeline: str | None
    patient_id: str | None
    meta: dict[str, Any]
    status: str
    created_at: datetime


@dataclass(frozen=True)
class StepRunRecord(_FromRow):
    """One try of one step."""

    id: int
    execution_id: str
    step: str
    attempt: int
    status: str
    error: str | None
    started_at: datetime
    finished_at: datetime | None
    duration_s: float | None


@dataclass(frozen=True)
class ExecutionRecord(_FromRow):
    """One run of a pipeline; ``steps`` filled by ``get`` and ``list(with_steps=True)``."""

    id: str
    document_id: str | None
    sha256: str
    pipeline: str
    pipeline_version: str
    status: str
    event: dict[str, Any]
    state: dict[str, Any]
    next_step: int
    attempt: int
    error: str | None
    progress: float
    progress_message: str
    lease_owner: str | None
    heartbeat_at: datetime | None
    next_run_at: datetime
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    steps: tuple[StepRunRecord, ...] = ()

    @property
    def done(self) -> bool:
        """Whether the execution reached a final status."""
        return self.status in TERMINAL


@dataclass(frozen=True)
class Observation:
    """A lab result row, as pipelines write it and queries read it."""

    name: str
    value: float | None = None
    value_text: str = ""
    unit: str = ""
    loinc: str | None = None
    test_id: str | None = None
    flag: str = ""
    significance: str = ""
    ref_low: float | None = None
    ref_high: float | None = None
    collected_at: datetime | None = None
    document_id: str = ""
    patient_id: str | None = None


@dataclass(frozen=True)
class Finding:
    """A clinical finding, as pipelines write it and queries read it."""

    code: str
    title: str
    severity: str
    explanation: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    document_id: str = ""


@dataclass(frozen=True)
class NotificationRecord(_FromRow):
    """A message and its delivery status. ``payload`` is the full MIME message."""

    id: str
    channel: str
    recipient: str
    subject: str
    status: str
    attempts: int
    last_error: str | None
    payload: str
    document_id: str | None
    idempotency_key: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None


@dataclass(frozen=True)
class AuditRecord(_FromRow):
    """One audit entry."""

    id: int
    actor: str
    action: str
    object_type: str
    object_id: str
    at: datetime
    detail: dict[str, Any]
