"""``/api/v1/patients``: the patients the caller may see."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from medflow.platform.db.care_team import care_team_repository
from medflow.web.access import NotVisibleError, patient_for, visible_patients
from medflow.web.deps import ApiUser, PortalDep
from medflow.web.schemas import PatientPublic, PatientsPublic, Problem

router = APIRouter(prefix="/api/v1/patients", tags=["patients"])


@router.get("")
def list_patients(user: ApiUser, portal: PortalDep) -> PatientsPublic:
    """Patients visible to the caller, by id."""
    patients = visible_patients(portal.db, user)
    teams = care_team_repository(portal.db).teams(p.id for p in patients)
    portal.db.audit.record(user.id, "list", "patient", "*", {"n": len(patients)})
    return PatientsPublic(
        data=[PatientPublic.of(p, teams[p.id]) for p in patients], count=len(patients)
    )


@router.get("/{patient_id}", responses={404: {"model": Problem}})
def get_patient(patient_id: str, user: ApiUser, portal: PortalDep) -> PatientPublic:
    """One patient, if visible to the caller (else 404)."""
    try:
        patient = patient_for(portal.db, user, patient_id)
    except NotVisibleError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such patient") from exc
    portal.db.audit.record(user.id, "read", "patient", patient.id)
    return PatientPublic.of(
        patient, care_team_repository(portal.db).teams([patient.id])[patient.id]
    )
