"""Server-rendered pages: staff dashboard and upload, doctor inbox, report, patient view,
trends, admin audit log. Every page that shows patient data writes an audit entry."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse

from medflow.errors import InputError
from medflow.platform.db import DocumentRecord, RecordNotFoundError
from medflow.web import result_files
from medflow.web.access import (
    NotVisibleError,
    patient_for,
    sees_record,
    visible_documents,
    visible_patients,
)
from medflow.web.charts import series_of
from medflow.web.deps import PageSession, Portal, PortalDep, check_csrf, require_role
from medflow.web.highlight import CATEGORY_STYLE, Highlighted, clinical_text, highlight
from medflow.web.result_files import DOWNLOADS, HTML_REPORT
from medflow.web.routes.auth import render, send_invitation
from medflow.web.routes.care_team import add_member, require_doctor
from medflow.web.routes.documents import RESULTS_BUCKET, visible
from medflow.web.schemas import UploadCreate
from medflow.web.uploads import pipeline_of_key, portal_kinds, upload_kinds

log = logging.getLogger(__name__)
router = APIRouter(tags=["pages"], include_in_schema=False)
FormStr = Annotated[str, Form(max_length=1024)]
_HTML = "text/html; charset=utf-8"
CLINICAL_FILES = {"documents": "text.txt", "dictation": "transcript.json"}
"""Where the documents and dictation pipelines keep the text their entity offsets refer to."""
_STYLE_BLOCK = re.compile(rb"<style\b[^>]*>(.*?)</style\s*>", re.DOTALL | re.IGNORECASE)


def sandbox_csp(html: bytes) -> str:
    """The CSP of a stored HTML result shown inline: it runs nothing and loads nothing (sandbox,
    no script, no same-origin access) even though medflow rendered it, and applies only its own
    style blocks, each allowed by its SHA-256 (CSP Level 3 section 8.3), never 'unsafe-inline':
    an injected style element or attribute is not applied."""
    hashes = sorted(
        {
            "'sha256-" + base64.b64encode(hashlib.sha256(css).digest()).decode() + "'"
            for css in _STYLE_BLOCK.findall(html)
        }
    )
    styles = " ".join(hashes) or "'none'"
    return f"sandbox; default-src 'none'; style-src {styles}; img-src data:"


STORED_REPORT_PIPELINES = frozenset({"imaging", "records"})
"""Pipelines whose report page shows their stored HTML report rather than a page of its own."""
FACTS: dict[str, tuple[tuple[str, str], ...]] = {
    "imaging": (
        ("study_uid", "Study"),
        ("series_uid", "Series"),
        ("images", "Images analysed"),
        ("positive_findings", "Positive findings"),
    ),
    "records": (
        ("decision", "Decision"),
        ("decision_reason", "Reason"),
        ("records", "Records"),
        ("rows_curated", "Rows curated"),
        ("rows_quarantined", "Rows quarantined"),
        ("anomalies_detected", "Anomalies"),
    ),
}
"""What the report page shows of an imaging or records run (what its steps returned)."""
_SEVERITY = {"critical": 0, "review": 1, "significant": 2, "noise": 3, "normal": 4}


def _report(portal: Portal, doc: DocumentRecord) -> dict[str, Any] | None:
    try:
        raw = portal.platform.services.store.get(
            RESULTS_BUCKET, f"{doc.pipeline or 'labs'}/{doc.id}/report.json"
        )
    except LookupError:
        return None
    value = json.loads(raw)
    return value if isinstance(value, dict) else None


def _result_file(portal: Portal, doc: DocumentRecord, name: str) -> bytes | None:
    return result_files.read(portal, doc, name)


def _clinical(portal: Portal, doc: DocumentRecord) -> Highlighted | None:
    """The entities of a documents or dictation run, highlighted in their text; None until
    the run has stored its result (or when a stored file is unreadable)."""
    pipeline = doc.pipeline or ""
    if pipeline not in CLINICAL_FILES:
        return None
    files: dict[str, bytes] = {}
    for name in ("result.json", CLINICAL_FILES[pipeline]):
        data = _result_file(portal, doc, name)
        if data is None:
            return None
        files[name] = data
    try:
        text, result = clinical_text(pipeline, files)
    except (KeyError, ValueError) as exc:
        log.warning("document %s: stored clinical result unreadable: %s", doc.id, exc)
        return None
    return highlight(text, result.entities)


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
    triggers = portal.platform.settings.triggers
    labels = {name: kind.label for name, kind in upload_kinds().items()}
    rows = []
    for t in tickets:
        run = (
            portal.platform.runner.list_executions(document_id=t.document_id, limit=1)
            if t.document_id
            else []
        )
        kind = pipeline_of_key(triggers, t.bucket, t.key)
        rows.append((t, run[0] if run else None, labels.get(kind, kind)))
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
    """Pick or create the patient, set the doctor, choose files and what each is (lab report,
    clinical document, dictation, medical image, records CSV: chosen from the file type where
    only one fits, else the first that fits, changeable); the page's script asks the API for
    signed URLs, PUTs the files and polls their status."""
    require_role(session.user, "staff", "admin")
    patients = visible_patients(portal.db, session.user)
    doctors = portal.accounts.list("doctor")
    kinds = portal_kinds(
        portal.platform.registry.names(), portal.platform.settings.storage.max_upload_bytes
    )
    context = {
        "session": session,
        "patients": patients,
        "doctors": doctors,
        "chosen": patient_id,
        "kinds": kinds,
        "accept": ",".join(sorted({e for k in kinds for e in [*k["extensions"], *k["types"]]})),
    }
    return render(portal, request, "upload.html", context)


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
    """Create or update a patient (staff); a doctor given joins the care team (audited) and
    becomes the upload form's default doctor for the patient."""
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
    if checked.doctor_email:
        require_doctor(portal, checked.doctor_email)
    portal.db.patients.upsert(
        checked.patient_id,
        name=checked.patient_name,
        sex=checked.sex.lower() or None,
        doctor_email=checked.doctor_email,
    )
    portal.db.audit.record(session.user.id, "write", "patient", checked.patient_id)
    if checked.doctor_email:
        add_member(portal, checked.patient_id, checked.doctor_email, session.user.id)
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
    send_invitation(portal, request, patient_id, email, session.user.id)
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
    """A document's results. Labs: flags and range bars, summary, downloads. Documents and
    dictation: the entities highlighted in the text, with a legend and a table of their
    types, traits and codes."""
    user = session.user
    doc = visible(portal, user, document_id)
    pipeline = doc.pipeline or "labs"
    portal.accounts.mark_read(user.id, doc.id)
    portal.db.audit.record(user.id, "read", "document", doc.id)
    downloads = list(DOWNLOADS.get(pipeline, {}))
    # Links to the patient's whole record only for those who may open it: a doctor sent this
    # one document is not on the care team.
    record = user.role != "patient" and sees_record(portal.db, user, doc.patient_id)
    if pipeline in STORED_REPORT_PIPELINES:
        return _stored_report(request, portal, session, doc)
    if pipeline in CLINICAL_FILES:
        clinical = _clinical(portal, doc)
        has_resume = pipeline == "dictation" and clinical is not None
        context = {
            "session": session,
            "doc": doc,
            "clinical": clinical,
            "downloads": downloads,
            "resume": has_resume,
            "styles": CATEGORY_STYLE,
            "record": record,
        }
        return render(portal, request, "clinical_report.html", context)
    report = _report(portal, doc)
    results = sorted(
        (report or {}).get("results", []),
        key=lambda r: _SEVERITY.get(str(r.get("significance")), 5),
    )
    context = {
        "session": session,
        "doc": doc,
        "report": report,
        "results": results,
        "downloads": downloads,
        "record": record,
    }
    return render(portal, request, "report.html", context)


def _stored_report(
    request: Request, portal: Portal, session: PageSession, doc: DocumentRecord
) -> HTMLResponse:
    """Imaging and records: the run's status and figures, a link to the stored HTML report
    (served sandboxed) and the result files that exist."""
    runs = portal.platform.runner.list_executions(document_id=doc.id, limit=1)
    run = runs[0] if runs else None
    pipeline = doc.pipeline or ""
    facts = [(label, (run.state if run else {}).get(key)) for key, label in FACTS[pipeline]]
    context = {
        "session": session,
        "doc": doc,
        "run": run,
        "facts": [(label, value) for label, value in facts if value is not None],
        "downloads": result_files.available(portal, doc),
        "has_html": result_files.read(portal, doc, HTML_REPORT[pipeline]) is not None,
        "study_uid": result_files.study_uid(portal, doc) if pipeline == "imaging" else None,
    }
    return render(portal, request, "stored_report.html", context)


@router.get("/reports/{document_id}/html", response_class=HTMLResponse)
def html_report(document_id: str, portal: PortalDep, session: PageSession) -> Response:
    """The standalone HTML report a pipeline stored for the document (labs report, documents
    summary, dictation resume, imaging study report, records insight report), shown in the
    browser sandboxed: it runs no script and loads nothing."""
    doc = visible(portal, session.user, document_id)
    name = HTML_REPORT.get(doc.pipeline or "labs")
    data = result_files.read(portal, doc, name) if name else None
    if data is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no HTML report for this document yet")
    portal.db.audit.record(session.user.id, "read-html", "document", doc.id)
    return Response(
        data,
        media_type=_HTML,
        headers={"Content-Security-Policy": sandbox_csp(data), "Cache-Control": "no-store"},
    )


@router.get("/reports/{document_id}/download/{name}")
def download(document_id: str, name: str, portal: PortalDep, session: PageSession) -> Response:
    """A result file as an attachment (JSON, FHIR JSON, standalone HTML)."""
    doc = visible(portal, session.user, document_id)
    kinds = DOWNLOADS.get(doc.pipeline or "labs", {})
    if name not in kinds:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such file")
    data = _result_file(portal, doc, name)
    if data is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not produced yet")
    portal.db.audit.record(session.user.id, "download", "document", doc.id, {"file": name})
    return Response(
        data,
        media_type=kinds[name],
        headers={"Content-Disposition": f'attachment; filename="{doc.id}-{name}"'},
    )


@router.get("/reports/{document_id}/resume", response_class=HTMLResponse)
def resume(document_id: str, portal: PortalDep, session: PageSession) -> Response:
    """The medical resume page a dictation produced, shown in the browser (sandboxed)."""
    doc = visible(portal, session.user, document_id)
    data = _result_file(portal, doc, "resume.html") if doc.pipeline == "dictation" else None
    if data is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no medical resume for this document")
    portal.db.audit.record(session.user.id, "read-resume", "document", doc.id)
    return Response(
        data,
        media_type=_HTML,
        headers={"Content-Security-Policy": sandbox_csp(data), "Cache-Control": "no-store"},
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
