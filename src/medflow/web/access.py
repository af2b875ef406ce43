"""Who may see what: every object access in the portal goes through these functions.

Rules: staff and admins see every patient and document; a doctor sees the whole record of the
patients whose care team they are on (``platform/db/care_team.py``), and of any other patient
only the documents an upload named them on (issue 13: naming a doctor on one upload gives them
that document, never the earlier reports, trends or health records); a patient sees only the
records of the patient id their account is linked to. Anything else is reported as absent
(404), so ids of other people's documents cannot be probed.
"""

from __future__ import annotations

from sqlalchemy import func, or_, select

from medflow.platform.db import Database, DocumentRecord, PatientRecord, RecordNotFoundError
from medflow.platform.db.care_team import care_team_repository, normal_email, patients_of
from medflow.platform.db.health_records import HealthRecord, health_records
from medflow.platform.db.models import DocumentRow, PatientRow
from medflow.web.accounts import User

STAFF_ROLES = frozenset({"staff", "admin"})


class NotVisibleError(RecordNotFoundError):
    """The object does not exist or this user may not see it (deliberately the same)."""


def _doctor_filter(email: str):  # type: ignore[no-untyped-def]
    """Documents of the doctor's care-team patients, and those an upload named them on."""
    return or_(
        DocumentRow.patient_id.in_(patients_of(email)),
        # Metadata keeps the address as the uploader wrote it (CLI, inbox .meta.json): compare
        # in the form care teams store, as document_for does.
        func.lower(func.trim(DocumentRow.meta["doctor_email"].as_string())) == normal_email(email),
    )


def visible_documents(
    db: Database, user: User, *, patient_id: str | None = None, limit: int = 100, offset: int = 0
) -> list[DocumentRecord]:
    """Documents ``user`` may see, newest first."""
    q = select(DocumentRow)
    if user.role == "doctor":
        q = q.where(_doctor_filter(user.email))
    elif user.role == "patient":
        if user.patient_id is None:
            return []
        q = q.where(DocumentRow.patient_id == user.patient_id)
    elif user.role not in STAFF_ROLES:
        return []
    if patient_id is not None:
        q = q.where(DocumentRow.patient_id == patient_id)
    q = q.order_by(DocumentRow.created_at.desc(), DocumentRow.id).limit(limit).offset(offset)
    with db.reading() as s:
        return [DocumentRecord.from_row(r) for r in s.scalars(q)]


def can_see_patient(db: Database, user: User, patient: PatientRecord) -> bool:
    """Whether ``user`` may see ``patient``'s records."""
    if user.role in STAFF_ROLES:
        return True
    if user.role == "doctor":
        # The whole record needs membership: a document sent to the doctor is not enough.
        return care_team_repository(db).is_member(patient.id, user.email)
    return user.role == "patient" and user.patient_id == patient.id


def sees_record(db: Database, user: User, patient_id: str | None) -> bool:
    """Whether ``user`` may see the whole record of ``patient_id`` (trends, health records,
    the patient page), not only a document of it."""
    if patient_id is None:
        return False
    try:
        return can_see_patient(db, user, db.patients.get(patient_id))
    except RecordNotFoundError:
        return False


def document_for(db: Database, user: User, document_id: str) -> DocumentRecord:
    """The document if ``user`` may see it.

    Raises:
        NotVisibleError: no such document, or not ``user``'s to see.
    """
    try:
        doc = db.documents.get(document_id)
    except RecordNotFoundError as exc:
        raise NotVisibleError(f"no document {document_id}") from exc
    if user.role in STAFF_ROLES:
        return doc
    if user.role == "patient":
        if user.patient_id is not None and doc.patient_id == user.patient_id:
            return doc
    elif user.role == "doctor":
        if normal_email(str(doc.meta.get("doctor_email") or "")) == normal_email(user.email):
            return doc
        if doc.patient_id is not None and care_team_repository(db).is_member(
            doc.patient_id, user.email
        ):
            return doc
    raise NotVisibleError(f"no document {document_id}")


def patient_for(db: Database, user: User, patient_id: str) -> PatientRecord:
    """The patient if ``user`` may see them.

    Raises:
        NotVisibleError: no such patient, or not ``user``'s to see.
    """
    try:
        patient = db.patients.get(patient_id)
    except RecordNotFoundError as exc:
        raise NotVisibleError(f"no patient {patient_id}") from exc
    if not can_see_patient(db, user, patient):
        raise NotVisibleError(f"no patient {patient_id}")
    return patient


def visible_patients(db: Database, user: User, limit: int = 200) -> list[PatientRecord]:
    """Patients ``user`` may see, by id."""
    q = select(PatientRow).order_by(PatientRow.id).limit(limit)
    if user.role == "doctor":
        q = q.where(PatientRow.id.in_(patients_of(user.email)))
    elif user.role == "patient":
        q = q.where(PatientRow.id == (user.patient_id or ""))
    elif user.role not in STAFF_ROLES:
        return []
    with db.reading() as s:
        return [PatientRecord.from_row(r) for r in s.scalars(q)]


def visible_health_records(
    db: Database, user: User, *, patient_id: str | None = None, limit: int = 200
) -> list[HealthRecord]:
    """Health records ``user`` may see, newest first: a patient their own, a doctor those of
    their care-team patients and of the documents sent to them, staff and admins all."""
    t = health_records
    q = select(t)
    if user.role == "doctor":
        doctor_documents = select(DocumentRow.id).where(_doctor_filter(user.email))
        q = q.where(
            or_(t.c.patient_id.in_(patients_of(user.email)), t.c.document_id.in_(doctor_documents))
        )
    elif user.role == "patient":
        if user.patient_id is None:
            return []
        q = q.where(t.c.patient_id == user.patient_id)
    elif user.role not in STAFF_ROLES:
        return []
    if patient_id is not None:
        q = q.where(t.c.patient_id == patient_id)
    q = q.order_by(t.c.created_at.desc(), t.c.id).limit(limit)
    with db.reading() as s:
        rows = s.execute(q).mappings().all()
    return [HealthRecord(**dict(r)) for r in rows]
