"""Health records (one per dictation): the portal's list page and
``/api/v1/patients/{patient_id}/health-records``. A patient sees their own, a doctor their
patients', staff and admins all; every read is audited."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse

from medflow.web.access import NotVisibleError, patient_for, visible_health_records
from medflow.web.deps import ApiUser, PageSession, PortalDep
from medflow.web.routes.auth import render
from medflow.web.schemas import HealthRecordPublic, HealthRecordsPublic, Problem

api = APIRouter(prefix="/api/v1/patients", tags=["health records"])
pages = APIRouter(tags=["pages"], include_in_schema=False)


@api.get("/{patient_id}/health-records", responses={404: {"model": Problem}})
def list_health_records(
    patient_id: str,
    user: ApiUser,
    portal: PortalDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> HealthRecordsPublic:
    """A patient's health records (transcript and medical resume), newest first; 404 when
    the patient is not the caller's to see."""
    try:
        patient = patient_for(portal.db, user, patient_id)
    except NotVisibleError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such patient") from exc
    records = visible_health_records(portal.db, user, patient_id=patient.id, limit=limit)
    portal.db.audit.record(user.id, "list", "health-record", patient.id, {"n": len(records)})
    return HealthRecordsPublic(data=[HealthRecordPublic.of(r) for r in records], count=len(records))


@pages.get("/records", response_class=HTMLResponse)
def records_page(
    request: Request,
    portal: PortalDep,
    session: PageSession,
    patient_id: Annotated[str | None, Query(max_length=128)] = None,
) -> HTMLResponse:
    """Health records the visitor may see (optionally of one patient), with links to each
    record's medical resume and report."""
    user = session.user
    if patient_id:
        try:
            patient_for(portal.db, user, patient_id)
        except NotVisibleError as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such patient") from exc
    records = visible_health_records(portal.db, user, patient_id=patient_id or None)
    portal.db.audit.record(user.id, "list", "health-record", patient_id or "*", {"n": len(records)})
    context = {"session": session, "records": records, "patient_id": patient_id or ""}
    return render(portal, request, "records.html", context)


router = APIRouter()
router.include_router(api)
router.include_router(pages)
