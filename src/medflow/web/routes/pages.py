"""Server-rendered pages: staff dashboard and upload, doctor inbox, report, patient view,
trends, admin audit log. Every page that shows patient data writes an audit entry."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse

from medflow.errors import InputError
from medflow.platform.db import DocumentRecord, RecordNotFoundError
from medflow.web.access import NotVisibleError, patient_for, visible_documents, visible_patients
from medflow.web.charts import series_of
from medflow.web.deps import PageSession, Portal, PortalDep, check_csrf, require_role
from medflow.web.routes.auth import render, send_invitation
from medflow.web.routes.documents import RESULTS_BUCKET, visible
from medflow.web.schemas import UploadCreate

router = APIRouter(tags=["pages"], include_in_schema=False)
FormStr = Annotated[str, Form(max_length=1024)]
DOWNLOADS = {
    "report.json": "application/json",
    "fhir.json": "application/fhir+json",
    "report.html": "text/html; charset=utf-8",
}
_SEVERITY = {"critical": 0, "significant": 1, "noise": 2, "normal": 3}


def _report(portal: Portal, doc: DocumentRecord) -> dict[str, Any] | None:
    try:
        raw = portal.platform.services.store.get(
            RESULTS_BUCKET, f"{doc.pipeline or 'labs'}/{doc.id}/report.json"
        )
    except LookupError:
        return None
    value = json.loads(raw)
    return value if isinstance(value, dict) else None


def _critical_count(portal: Portal, document_id: str) -> int:
    return sum(
        1
        for o in portal.db.results.observations(document_id=document_id)
        if o.significance == "critical"
    )


@router.get("/", response_class=HTMLResponse)
def home(request: Request, portal: PortalDep, session: PageSession) -> HTMLResponse:
    """Each role's start page: staff dashboard, doctor inbox, patient summaries."""
    user = session.user
    if user.role == "doctor":
        return inbox(request, portal, session)
    if user.role == "patient":
        docs = visible_documents(portal.db, user)
        items = [(d, _report(portal, d)) for d in docs]
        portal.db.audit.record(user.id, "list", "document", user.patient_id or "-")
        return render(portal, request, "patient.html", {"session": session, "items": items})
    tickets = portal.accounts.tickets(limit=30)
    rows = []
    for t in tickets:
        run = (
            portal.platform.runner.list_executions(document_id=t.document_id, limit=1)
            if t.document_id
            else []
        )
        rows.append((t, run[0] if run else None))
    failures = portal.platform.runner.list_executions(status="failed", limit=20)
    failures += portal.platform.runner.list_executions(status="quarantined", limit=20)
    notes = portal.db.notifications.list(limit=20)
    portal.db.audit.record(user.id, "list", "document", "*")
    return render(
        portal,
        request,
        "dashboard.html",
        {"session": session, "rows": rows, "failures": failures, "notes": notes},
    )


@router.get("/inbox", response_class=HTMLResponse)
def inbox(request: Request, portal: PortalDep, session: PageSession) -> HTMLResponse:
    """The doctor's results: critical first, then newest; read or unread."""
    user = session.user
    require_role(user, "doctor", "staff", "admin")
    docs = visible_documents(portal.db, user, limit=200)
    read = portal.accounts.read_documents(user.id)
    items = [(d, _critical_count(portal, d.id), d.id in read) for d in docs]
    items.sort(key=lambda it: (it[1] == 0, -it[0].created_at.timestamp()))
    portal.db.audit.record(user.id, "list", "document", "inbox")
    return render(portal, request, "inbox.html", {"session": session, "items": items})


@router.get("/upload", response_class=HTMLResponse)
def upload_page(
    request: Request, portal: PortalDep, session: PageSession, patient_id: str = ""
) -> HTMLResponse:
    """Pick or create the patient, set the doctor, choose files; the page's script asks the
    API for signed URLs, PUTs the files and polls their status."""
    require_role(session.user, "staff", "admin")
    patients = visible_patients(portal.db, session.user)
    doctors = portal.accounts.list("doctor")
    return render(
        portal,
        request,
        "upload.html",
        {"session": session, "patients": patients, "doctors": doctors, "chosen": patient_id},
    )


@router.post("/patients")
def create_patient(
    portal: PortalDep,
    session: PageSession,
    patient_id: FormStr,
    name: FormStr = "",
    sex: FormStr = "",
    doctor_email: FormStr = "",
    csrf_token: FormStr = "",
) -> Response:
    """Create or update a patient (staff)."""
    check_csrf(session, csrf_token)
    require_role(session.user, "staff", "admin")
    try:
        checked = UploadCreate(
            filename="x",
            content_type="x",
            size=0,
            patient_id=patient_id.strip(),
            patient_name=name,
            sex=sex,
            doctor_email=doctor_email.strip().lower() or None,
        )
    except ValueError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "check the patient id and email") from exc
    portal.db.patients.upsert(
        checked.patient_id,
        name=checked.patient_name,
        sex=checked.sex.lower() or None,
        doctor_email=checked.doctor_email,
    )
    portal.db.audit.record(session.user.id, "write", "patient", checked.patient_id)
    return RedirectResponse(f"/upload?patient_id={checked.patient_id}", status_code=303)


@router.post("/patients/{patient_id}/invite")
def invite(
    request: Request,
    patient_id: str,
    portal: PortalDep,
    session: PageSession,
    email: FormStr,
    csrf_token: FormStr = "",
) -> Response:
    """Email the patient a sign-up link (staff)."""
    check_csrf(session, csrf_token)
    require_role(session.user, "staff", "admin")
    try:
        patient_for(portal.db, session.user, patient_id)
    except NotVisibleError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such patient") from exc
    if "@" not in email or len(email) > 320:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "give the patient's email address")
    send_invitation(portal, patient_id, email, session.user.id)
    portal.db.patients.upsert(patient_id, email=email.strip().lower())
    message = "Invitation sent."
    return render(portal, request, "message.html", {"session": session, "message": message})


@router.post("/executions/{execution_id}/retry")
def retry(
    execution_id: str, portal: PortalDep, session: PageSession, csrf_token: FormStr = ""
) -> Response:
    """The dashboard's retry button (staff)."""
    check_csrf(session, csrf_token)
    require_role(session.user, "staff", "admin")
    try:
        portal.platform.runner.retry(execution_id)
    except RecordNotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such execution") from exc
    except ValueError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    portal.db.audit.record(session.user.id, "retry", "execution", execution_id)
    return RedirectResponse("/", status_code=303)


@router.get("/reports/{document_id}", response_class=HTMLResponse)
def report_page(
    request: Request, document_id: str, portal: PortalDep, session: PageSession
) -> HTMLResponse:
    """A document's results: flags and range bars, summary, downloads."""
    user = session.user
    doc = visible(portal, user, document_id)
    report = _report(portal, doc)
    results = sorted(
        (report or {}).get("results", []),
        key=lambda r: _SEVERITY.get(str(r.get("significance")), 4),
    )
    portal.accounts.mark_read(user.id, doc.id)
    portal.db.audit.record(user.id, "read", "document", doc.id)
    context = {"session": session, "doc": doc, "report": report, "results": results}
    return render(portal, request, "report.html", context)


@router.get("/reports/{document_id}/download/{name}")
def download(document_id: str, name: str, portal: PortalDep, session: PageSession) -> Response:
    """A result file as an attachment (JSON, FHIR JSON, standalone HTML)."""
    doc = visible(portal, session.user, document_id)
    if name not in DOWNLOADS:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such file")
    try:
        data = portal.platform.services.store.get(
            RESULTS_BUCKET, f"{doc.pipeline or 'labs'}/{doc.id}/{name}"
        )
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not produced yet") from exc
    portal.db.audit.record(session.user.id, "download", "document", doc.id, {"file": name})
    return Response(
        data,
        media_type=DOWNLOADS[name],
        headers={"Content-Disposition": f'attachment; filename="{doc.id}-{name}"'},
    )


@router.get("/patients/{patient_id}/trends", response_class=HTMLResponse)
def trends(
    request: Request, patient_id: str, portal: PortalDep, session: PageSession
) -> HTMLResponse:
    """Each biomarker of the patient over time, as inline SVG charts."""
    try:
        patient = patient_for(portal.db, session.user, patient_id)
    except NotVisibleError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such patient") from exc
    series = series_of(portal.db.results.observations(patient_id=patient.id))
    portal.db.audit.record(session.user.id, "read-trends", "patient", patient.id)
    context = {"session": session, "patient": patient, "series": series}
    return render(portal, request, "trends.html", context)


@router.get("/admin/audit", response_class=HTMLResponse)
def audit(request: Request, portal: PortalDep, session: PageSession) -> HTMLResponse:
    """The audit log, newest first (admins)."""
    require_role(session.user, "admin")
    entries = portal.db.audit.list(limit=300)
    return render(portal, request, "audit.html", {"session": session, "entries": entries})


__all__ = ["InputError", "router"]
