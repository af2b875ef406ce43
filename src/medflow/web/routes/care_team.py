"""A patient's care team: the patient page and ``/api/v1/patients/{patient_id}/care-team``.

Staff and admins add and remove doctors (each change audited by the repository, in the same
transaction); whoever may see the patient may see who is on the team. Only an active doctor
account can join: an email without an account would hand the record to whoever registers it
later.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse

from medflow.platform.db import PatientRecord, RecordNotFoundError
from medflow.platform.db.care_team import CareTeamMember, care_team_repository, normal_email
from medflow.web.access import NotVisibleError, patient_for, visible_documents
from medflow.web.accounts import SessionInfo, User
from medflow.web.deps import ApiUser, PageSession, Portal, PortalDep, check_csrf, require_role
from medflow.web.routes.auth import FormStr, render
from medflow.web.schemas import CareTeamCreate, CareTeamMemberPublic, CareTeamPublic, Problem

api = APIRouter(prefix="/api/v1/patients", tags=["care team"])
pages = APIRouter(tags=["pages"], include_in_schema=False)
NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"model": Problem}}


def _patient(portal: Portal, user: User, patient_id: str) -> PatientRecord:
    try:
        return patient_for(portal.db, user, patient_id)
    except NotVisibleError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such patient") from exc


def require_doctor(portal: Portal, doctor_email: str) -> User:
    """The active doctor account with this email.

    Raises:
        HTTPException: 400 when there is none.
    """
    doctor = portal.accounts.by_email(doctor_email)
    if doctor is None or doctor.role != "doctor" or not doctor.active:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            f"{normal_email(doctor_email)} is not an active doctor account; an admin creates "
            "doctor accounts on the Accounts page",
        )
    return doctor


def add_member(
    portal: Portal, patient_id: str, doctor_email: str, actor: str
) -> tuple[CareTeamMember, bool]:
    """Put an active doctor account on the patient's care team (audited).

    Raises:
        HTTPException: 400 when the email is not an active doctor's account; 404 no patient.
    """
    doctor = require_doctor(portal, doctor_email)
    try:
        return care_team_repository(portal.db).add(patient_id, doctor.email, actor)
    except RecordNotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such patient") from exc


def remove_member(portal: Portal, patient_id: str, doctor_email: str, actor: str) -> None:
    """Take a doctor off the patient's care team (audited).

    Raises:
        HTTPException: 404 when they are not on it.
    """
    if not care_team_repository(portal.db).remove(patient_id, doctor_email, actor):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "that doctor is not on the care team")


def _managed(portal: Portal, session: SessionInfo, patient_id: str, csrf: str) -> PatientRecord:
    """The patient of a care-team form: right CSRF token, staff or admin, visible patient."""
    check_csrf(session, csrf)
    require_role(session.user, "staff", "admin")
    return _patient(portal, session.user, patient_id)


@api.get("/{patient_id}/care-team", responses=NOT_FOUND)
def list_care_team(patient_id: str, user: ApiUser, portal: PortalDep) -> CareTeamPublic:
    """The doctors who may read the patient's whole record (404 when the patient is not the
    caller's to see)."""
    patient = _patient(portal, user, patient_id)
    members = care_team_repository(portal.db).members(patient.id)
    portal.db.audit.record(user.id, "read-care-team", "patient", patient.id)
    return CareTeamPublic(data=[CareTeamMemberPublic.of(m) for m in members], count=len(members))


@api.post(
    "/{patient_id}/care-team",
    status_code=status.HTTP_201_CREATED,
    responses={400: {"model": Problem}, 404: {"model": Problem}},
)
def add_to_care_team(
    patient_id: str, body: CareTeamCreate, user: ApiUser, portal: PortalDep, response: Response
) -> CareTeamMemberPublic:
    """Put a doctor on the care team (staff and admins); 201 when added, 200 when they were
    on it already.

    Raises:
        HTTPException: 403 other roles; 400 not an active doctor account; 404 no patient.
    """
    require_role(user, "staff", "admin")
    patient = _patient(portal, user, patient_id)
    member, created = add_member(portal, patient.id, body.doctor_email, user.id)
    if not created:
        response.status_code = status.HTTP_200_OK
    return CareTeamMemberPublic.of(member)


@api.delete(
    "/{patient_id}/care-team/{doctor_email}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=NOT_FOUND,
)
def remove_from_care_team(
    patient_id: str, doctor_email: str, user: ApiUser, portal: PortalDep
) -> Response:
    """Take a doctor off the care team (staff and admins).

    Raises:
        HTTPException: 403 other roles; 404 no patient, or the doctor is not on the team.
    """
    require_role(user, "staff", "admin")
    remove_member(portal, _patient(portal, user, patient_id).id, doctor_email, user.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@pages.get("/patients/{patient_id}", response_class=HTMLResponse)
def patient_page(
    request: Request, patient_id: str, portal: PortalDep, session: PageSession
) -> HTMLResponse:
    """The patient's page: their documents, and their care team (staff and admins add and
    remove doctors here)."""
    user = session.user
    patient = _patient(portal, user, patient_id)
    members = care_team_repository(portal.db).members(patient.id)
    names = {u.id: u.email for u in portal.accounts.list()} if user.role != "patient" else {}
    on_team = {m.doctor_email for m in members}
    doctors = [d for d in portal.accounts.list("doctor") if d.active and d.email not in on_team]
    portal.db.audit.record(user.id, "read", "patient", patient.id)
    context = {
        "session": session,
        "patient": patient,
        "members": [(m, names.get(m.added_by, m.added_by)) for m in members],
        "doctors": doctors,
        "documents": visible_documents(portal.db, user, patient_id=patient.id, limit=50),
        "manage": user.role in ("staff", "admin"),
    }
    return render(portal, request, "patient_record.html", context)


@pages.post("/patients/{patient_id}/care-team")
def add_page(
    patient_id: str,
    portal: PortalDep,
    session: PageSession,
    doctor_email: FormStr,
    csrf_token: FormStr = "",
) -> Response:
    """The patient page's "add to the care team" form (staff and admins)."""
    patient = _managed(portal, session, patient_id, csrf_token)
    add_member(portal, patient.id, doctor_email, session.user.id)
    return RedirectResponse(f"/patients/{patient.id}", status_code=303)


@pages.post("/patients/{patient_id}/care-team/remove")
def remove_page(
    patient_id: str,
    portal: PortalDep,
    session: PageSession,
    doctor_email: FormStr,
    csrf_token: FormStr = "",
) -> Response:
    """The patient page's "remove" button (staff and admins)."""
    patient = _managed(portal, session, patient_id, csrf_token)
    remove_member(portal, patient.id, doctor_email, session.user.id)
    return RedirectResponse(f"/patients/{patient.id}", status_code=303)


router = APIRouter()
router.include_router(api)
router.include_router(pages)
