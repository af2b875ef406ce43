"""Care teams: which doctors may read a patient's whole record.

A care team is an explicit relation (patient, doctor, since, added by), managed by staff and
admins; every change writes an audit entry in the same transaction, so no membership exists
without its record of who granted it. A doctor named on one upload is *not* made a member:
they are told about that document and may read that document only (``web/access.py``). This
replaces the earlier rule where the doctor on the last upload silently became the patient's
doctor (issue 13).

Doctors are identified by their (lower-case) email: uploads name doctors by email, and a doctor
account is matched by it. The table is created by migration ``0006``, which turns every
``patients.doctor_email`` set before it into a membership. Get a repository with
:func:`care_team_repository`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String, select
from sqlalchemy.orm import Mapped, mapped_column

from medflow.platform.db.errors import RecordNotFoundError
from medflow.platform.db.models import AuditRow, Base, PatientRow, utcnow

if TYPE_CHECKING:
    from sqlalchemy import Select

    from medflow.platform.db.database import Database

ADD_ACTION = "care-team-add"
REMOVE_ACTION = "care-team-remove"
"""The audit actions of a membership change (object: the patient; detail: the doctor)."""


class CareTeamRow(Base):
    """One doctor on one patient's care team."""

    __tablename__ = "care_team"
    __table_args__ = (Index("ix_care_team_doctor", "doctor_email"),)
    patient_id: Mapped[str] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True
    )
    doctor_email: Mapped[str] = mapped_column(String(320), primary_key=True)
    since: Mapped[datetime] = mapped_column(default=utcnow)
    added_by: Mapped[str] = mapped_column(String(128))


@dataclass(frozen=True)
class CareTeamMember:
    """A membership as stored.

    Attributes:
        patient_id: the patient.
        doctor_email: the doctor (lower case).
        since: when they joined the care team.
        added_by: who added them (a user id; ``migration`` for assignments made before care
            teams existed).
    """

    patient_id: str
    doctor_email: str
    since: datetime
    added_by: str


def _member(row: CareTeamRow) -> CareTeamMember:
    return CareTeamMember(row.patient_id, row.doctor_email, row.since, row.added_by)


def _audit(actor: str, action: str, patient_id: str, doctor_email: str) -> AuditRow:
    """The audit entry of a membership change, written in the change's own transaction."""
    return AuditRow(
        actor=actor,
        action=action,
        object_type="patient",
        object_id=patient_id,
        detail={"doctor": doctor_email},
    )


def normal_email(email: str) -> str:
    """The form a doctor's email is stored and compared in (trimmed, lower case)."""
    return email.strip().lower()


def patients_of(doctor_email: str) -> Select[str]:
    """A subquery of the ids of the patients whose care team ``doctor_email`` is on."""
    return select(CareTeamRow.patient_id).where(
        CareTeamRow.doctor_email == normal_email(doctor_email)
    )


class CareTeamRepository:
    """Care-team memberships, each change audited.

    Args:
        db: an open database migrated to revision 0006 or later.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    def members(self, patient_id: str) -> list[CareTeamMember]:
        """The patient's care team, longest-standing first."""
        q = (
            select(CareTeamRow)
            .where(CareTeamRow.patient_id == patient_id)
            .order_by(CareTeamRow.since, CareTeamRow.doctor_email)
        )
        with self._db.reading() as s:
            return [_member(r) for r in s.scalars(q)]

    def teams(self, patient_ids: Iterable[str]) -> dict[str, list[str]]:
        """Each given patient's care team as doctor emails (longest-standing first)."""
        ids = list(patient_ids)
        teams: dict[str, list[str]] = {pid: [] for pid in ids}
        if not ids:
            return teams
        q = (
            select(CareTeamRow.patient_id, CareTeamRow.doctor_email)
            .where(CareTeamRow.patient_id.in_(ids))
            .order_by(CareTeamRow.since, CareTeamRow.doctor_email)
        )
        with self._db.reading() as s:
            for patient_id, email in s.execute(q):
                teams[patient_id].append(email)
        return teams

    def is_member(self, patient_id: str, doctor_email: str) -> bool:
        """Whether ``doctor_email`` is on the patient's care team."""
        with self._db.reading() as s:
            return s.get(CareTeamRow, (patient_id, normal_email(doctor_email))) is not None

    def add(self, patient_id: str, doctor_email: str, actor: str) -> tuple[CareTeamMember, bool]:
        """Put a doctor on the patient's care team (idempotent: a member stays as they were,
        with no second audit entry).

        Args:
            patient_id: the patient.
            doctor_email: the doctor.
            actor: who adds them (recorded as ``added_by`` and in the audit log).

        Returns:
            The membership and whether it was created now.

        Raises:
            RecordNotFoundError: no such patient.
        """
        email = normal_email(doctor_email)
        with self._db.transaction() as s:
            if s.get(PatientRow, patient_id) is None:
                raise RecordNotFoundError(f"no patient {patient_id}")
            row = s.get(CareTeamRow, (patient_id, email))
            if row is not None:
                return _member(row), False
            row = CareTeamRow(patient_id=patient_id, doctor_email=email, added_by=actor)
            s.add(row)
            s.add(_audit(actor, ADD_ACTION, patient_id, email))
            s.flush()
            return _member(row), True

    def remove(self, patient_id: str, doctor_email: str, actor: str) -> bool:
        """Take a doctor off the patient's care team; False when they were not on it.

        The patient's ``doctor_email`` (the upload form's default doctor) is cleared when it
        names the doctor removed, so the next upload does not route to them by default.
        """
        email = normal_email(doctor_email)
        with self._db.transaction() as s:
            row = s.get(CareTeamRow, (patient_id, email))
            if row is None:
                return False
            s.delete(row)
            patient = s.get(PatientRow, patient_id)
            if patient is not None and normal_email(patient.doctor_email or "") == email:
                patient.doctor_email = None
            s.add(_audit(actor, REMOVE_ACTION, patient_id, email))
            return True

    def patient_ids(self, doctor_email: str) -> list[str]:
        """The patients whose care team the doctor is on, by id."""
        with self._db.reading() as s:
            return sorted(s.scalars(patients_of(doctor_email)))


def care_team_repository(db: Database) -> CareTeamRepository:
    """The care-team repository on ``db``."""
    return CareTeamRepository(db)
