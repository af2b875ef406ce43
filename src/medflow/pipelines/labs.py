"""The labs pipeline: a lab report PDF in the raw bucket -> results, FHIR, HTML, the doctor told.

Steps (each idempotent: re-running one for the same document rewrites the same rows/objects)::

    read       PDF -> rows as printed (text layer, OCR for scanned pages)
    interpret  rows -> LabReport (LOINC, UCUM, flags, significance, findings, trends)
    publish    LabReport -> observations + findings rows; report.json, fhir.json, report.html
    notify     the doctor's email, critical values first (once per document and doctor)
    quarantine (on a permanent error) the original moves to "quarantine" with its reason

Objects written, under the ``results`` bucket: ``labs/<document id>/report.json`` (the JSON
result), ``labs/<document id>/fhir.json`` (FHIR R4 Bundle), ``labs/<document id>/report.html``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from medflow.analyzers.labs.analyzer import LabAnalyzer, document_unread
from medflow.analyzers.labs.inputcheck import PdfLimits
from medflow.analyzers.labs.trends import HistoricalResult
from medflow.domain import ExtractionInfo, LabReport, PatientInfo, RawLabRow, Sex, Significance
from medflow.pipelines.common import quarantine_step, read_original, require_document
from medflow.platform.config import Settings
from medflow.platform.db import Database, ExecutionRecord, Finding, Observation
from medflow.platform.llm import provider_from_settings
from medflow.platform.notify.base import Message
from medflow.platform.runner import Pipeline, RetryPolicy, Step, StepContext
from medflow.platform.storage import ObjectStore
from medflow.reports.email import render_doctor_email
from medflow.reports.fhir_labs import lab_bundle
from medflow.reports.html import render_lab_html
from medflow.reports.jsonout import lab_json, lab_report_from_json
from medflow.reports.narrative import narrate_summary

log = logging.getLogger(__name__)

NAME = "labs"
VERSION = "1"
RESULTS_BUCKET = "results"


def result_key(document_id: str, name: str) -> str:
    """Where an output of the labs pipeline lives in the results bucket."""
    return f"labs/{document_id}/{name}"


@lru_cache(maxsize=4)
def _analyzer(
    overrides: str | None, max_bytes: int, max_pages: int, max_pixels: int, dpi: int
) -> LabAnalyzer:
    limits = PdfLimits(max_bytes=max_bytes, max_pages=max_pages, max_pixels=max_pixels, dpi=dpi)
    return LabAnalyzer(Path(overrides) if overrides else None, limits=limits)


def analyzer_for(settings: Settings) -> LabAnalyzer:
    """The analyzer configured by ``settings`` (built once per configuration, then reused)."""
    labs = settings.labs
    return _analyzer(
        str(labs.overrides_path) if labs.overrides_path else None,
        settings.storage.max_upload_bytes,
        labs.max_pdf_pages,
        labs.max_image_pixels,
        labs.ocr_dpi,
    )


def patient_from_metadata(meta: Mapping[str, str]) -> PatientInfo:
    """The patient described by upload metadata (``patient_id``, ``patient_name``, ``sex``...).

    Unknown or malformed optional values are left out rather than failing the report.
    """
    sex_text = (meta.get("sex") or "").strip().lower()
    sex = {"m": Sex.MALE, "male": Sex.MALE, "f": Sex.FEMALE, "female": Sex.FEMALE}.get(
        sex_text, Sex.UNKNOWN
    )
    age: float | None = None
    try:
        age = float(meta["age"]) if meta.get("age") else None
    except ValueError:
        age = None
    if age is not None and not 0 <= age <= 130:
        age = None
    return PatientInfo(
        patient_id=meta.get("patient_id") or "unknown",
        name=meta.get("patient_name", ""),
        sex=sex,
        age=age,
        doctor_email=meta.get("doctor_email") or None,
        patient_email=meta.get("patient_email") or None,
    )


def _history(ctx: StepContext, patient: PatientInfo, document_id: str) -> list[HistoricalResult]:
    return history_for(ctx.services.db, patient, document_id)


def history_for(db: Database, patient: PatientInfo, document_id: str) -> list[HistoricalResult]:
    """The patient's earlier results from other documents, for trends; values held for review
    (implausible as read) are left out."""
    if patient.patient_id == "unknown":
        return []
    history: list[HistoricalResult] = []
    for obs in db.results.observations(patient_id=patient.patient_id):
        if obs.document_id == document_id or obs.test_id is None or obs.value is None:
            continue
        if obs.collected_at is None or obs.significance == Significance.REVIEW.value:
            continue
        history.append(
            HistoricalResult(
                test_id=obs.test_id, value=obs.value, unit=obs.unit, collected_at=obs.collected_at
            )
        )
    return history


def _collected_at(ctx: StepContext, document_id: str) -> datetime:
    """When the samples were taken: given at upload, else printed on the report, else the
    upload time."""
    for text in (
        ctx.object_event.metadata.get("collected_at"),
        ctx.state.get("printed_collected_at"),
    ):
        if not text:
            continue
        try:
            moment = datetime.fromisoformat(str(text))
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        except ValueError:
            log.warning("document %s: ignoring unreadable collected_at", document_id)
    created = ctx.services.db.documents.get(document_id).created_at
    return created if created.tzinfo else created.replace(tzinfo=UTC)


def load_report_for_document(store: ObjectStore, document_id: str) -> LabReport:
    """The LabReport the interpret step stored for ``document_id``.

    Raises:
        ObjectNotFoundError: the document has no lab report (not analysed, or quarantined).
    """
    raw = store.get(RESULTS_BUCKET, result_key(document_id, "report.json"))
    return lab_report_from_json(json.loads(raw))


def load_report(ctx: StepContext, document_id: str) -> LabReport:
    """The LabReport the interpret step stored for ``document_id``."""
    return load_report_for_document(ctx.services.store, document_id)


def _narrated(ctx: StepContext, report: LabReport) -> LabReport:
    """The report with an LLM narration added, when one is configured (off by default).

    The provider sees only the structured findings; a narration that states a number not in
    its input is rejected (see :mod:`medflow.reports.narrative`) and the report goes out without.
    """
    provider = provider_from_settings(ctx.services.settings.llm)
    if provider is None:
        return report
    summary = narrate_summary(report.summary, report.results, provider)
    return report.model_copy(update={"summary": summary})


def read_step(ctx: StepContext) -> dict[str, Any]:
    """Read the PDF into rows as printed. Permanent InputError on a bad file."""
    document_id = require_document(ctx)
    data, filename = read_original(ctx)
    ctx.progress(0.05, "reading the PDF")
    document = analyzer_for(ctx.services.settings).read(data, filename)
    unread = document_unread(document)
    info = document.extraction
    log.info("document %s: %d rows, %d OCR pages", document_id, len(document.rows), info.ocr_pages)
    collected = document.header.collected_at
    return {
        "rows": [r.model_dump(mode="json") for r in document.rows],
        "unread": [r.model_dump(mode="json") for r in unread],
        "extraction": info.model_dump(mode="json"),
        "lab_name": document.header.lab_name,
        "printed_collected_at": collected.isoformat() if collected else None,
    }


def interpret_step(ctx: StepContext) -> dict[str, Any]:
    """Interpret the rows for this patient, with their earlier results, and store report.json."""
    document_id = require_document(ctx)
    ctx.progress(0.5, "interpreting results")
    patient = patient_from_metadata(ctx.object_event.metadata)
    report = interpret_state(
        analyzer_for(ctx.services.settings),
        ctx.state,
        patient,
        history=_history(ctx, patient, document_id),
        collected_at=_collected_at(ctx, document_id),
    )
    report = _narrated(ctx, report)
    body = json.dumps(lab_json(report, document_id=document_id), indent=2).encode()
    key = result_key(document_id, "report.json")
    ctx.services.store.put(
        RESULTS_BUCKET, key, body, {"document_id": document_id}, "application/json"
    )
    return {"report_key": key, "results": len(report.results)}


def interpret_state(
    analyzer: LabAnalyzer,
    state: Mapping[str, Any],
    patient: PatientInfo,
    *,
    history: Sequence[HistoricalResult] = (),
    collected_at: datetime | None = None,
) -> LabReport:
    """Interpret what the read step stored (rows, unread lines, extraction, letterhead)."""
    rows = [RawLabRow.model_validate(r) for r in state.get("rows", [])]
    unread = [RawLabRow.model_validate(r) for r in state.get("unread", [])]
    return analyzer.interpret(
        rows,
        patient,
        history=history,
        extraction=ExtractionInfo.model_validate(state.get("extraction", {})),
        collected_at=collected_at,
        lab_name=str(state.get("lab_name") or ""),
        unread=unread,
    )


#: Upload metadata that changes how a report is interpreted (ranges by sex and age, history
#: and trends by patient id) or who it is about.
PATIENT_FIELDS = ("patient_id", "patient_name", "sex", "age")


def patient_changes(stored: Mapping[str, str], requested: Mapping[str, str]) -> list[str]:
    """The patient fields whose value differs between a stored document's upload metadata and
    a new request for the same bytes (empty: the stored result is the one asked for)."""
    old, new = patient_from_metadata(stored), patient_from_metadata(requested)
    pairs = {
        "patient_id": (old.patient_id, new.patient_id),
        "patient_name": (old.name, new.name),
        "sex": (old.sex, new.sex),
        "age": (old.age, new.age),
    }
    return [name for name in PATIENT_FIELDS if pairs[name][0] != pairs[name][1]]


def reinterpret_execution(
    settings: Settings, db: Database, execution: ExecutionRecord, meta: Mapping[str, str]
) -> LabReport:
    """A stored document's rows interpreted again for other patient metadata.

    The reading (rows, unread lines, letterhead) is reused from the execution's state; ranges,
    flags, findings and trends are redone for the patient ``meta`` describes. Nothing stored is
    changed: the stored result stays the one of the original upload.

    Raises:
        ValueError: the execution holds no read rows (it did not get past reading).
    """
    state = execution.state
    if "rows" not in state:
        raise ValueError(f"execution {execution.id} has no rows read to interpret again")
    patient = patient_from_metadata(meta)
    printed = state.get("printed_collected_at")
    collected = None
    if printed:
        try:
            collected = datetime.fromisoformat(str(printed))
        except ValueError:
            collected = None
    return interpret_state(
        analyzer_for(settings),
        state,
        patient,
        history=history_for(db, patient, execution.document_id or ""),
        collected_at=collected,
    )


def publish_step(ctx: StepContext) -> dict[str, Any]:
    """Write observations and findings rows, the FHIR Bundle and the HTML page."""
    document_id = require_document(ctx)
    ctx.progress(0.75, "storing results")
    services = ctx.services
    report = load_report(ctx, document_id)
    patient = report.patient
    # Only what this upload knows: an unknown sex or an empty name never overwrites what an
    # earlier upload or the portal recorded for the patient.
    services.db.patients.upsert(
        patient.patient_id,
        name=patient.name or None,
        sex=patient.sex.value if patient.sex is not Sex.UNKNOWN else None,
    )
    services.db.results.replace_observations(
        document_id,
        [
            Observation(
                name=r.name,
                value=r.value,
                value_text=r.value_text,
                unit=r.unit,
                loinc=r.loinc,
                test_id=r.test_id,
                flag=r.flag.value,
                significance=r.significance.value,
                ref_low=r.reference_range.low if r.reference_range else None,
                ref_high=r.reference_range.high if r.reference_range else None,
                collected_at=report.collected_at,
            )
            for r in report.results
        ],
        patient_id=patient.patient_id,
    )
    services.db.results.replace_findings(
        document_id,
        [
            Finding(
                code=f.code,
                title=f.title,
                severity=f.severity.value,
                explanation=f.explanation,
                evidence={
                    "guideline": f.guideline,
                    "values": [e.model_dump(mode="json") for e in f.evidence],
                },
            )
            for f in report.summary.findings
        ],
    )
    data, _ = read_original(ctx)
    # Validated in the test suite (tests/unit/reports, tests/e2e); skipping it here saves ~40 ms.
    bundle = lab_bundle(
        report,
        document_id=document_id,
        pdf=data,
        issued=datetime.now(UTC),
        validate=False,
        coding=analyzer_for(services.settings).kb,
        patient_identifier_system=services.settings.labs.fhir_patient_system,
    )
    store = services.store
    meta = {"document_id": document_id}
    fhir_key = result_key(document_id, "fhir.json")
    store.put(
        RESULTS_BUCKET,
        fhir_key,
        json.dumps(bundle, indent=2).encode(),
        meta,
        "application/fhir+json",
    )
    html = render_lab_html(report, title=f"Laboratory report — patient {patient.patient_id}")
    html_key = result_key(document_id, "report.html")
    store.put(RESULTS_BUCKET, html_key, html.encode(), meta, "text/html; charset=utf-8")
    return {"fhir_key": fhir_key, "html_key": html_key}


def notify_step(ctx: StepContext) -> dict[str, Any]:
    """Email the doctor once per document, critical values first, with a link to the report."""
    document_id = require_document(ctx)
    services = ctx.services
    report = load_report(ctx, document_id)
    doctor = report.patient.doctor_email
    if not doctor:
        return {"notified": None}
    # The portal's report page: the doctor logs in to read it, so no patient data travels in
    # a link that works for whoever holds it.
    url = f"{services.settings.web.link_base}/reports/{document_id}"
    content = render_doctor_email(report, report_url=url)
    notification_id = services.notifier.send(
        Message(
            to=doctor,
            subject=content.subject,
            text=content.text,
            html=content.html,
            related_document_id=document_id,
            idempotency_key=f"{NAME}:{document_id}:doctor:{doctor}",
        )
    )
    return {"notified": notification_id}


def build_pipeline() -> Pipeline:
    """The labs pipeline declaration."""
    return Pipeline(
        name=NAME,
        version=VERSION,
        steps=(
            Step("read", read_step, RetryPolicy(max_attempts=2, timeout_s=600.0)),
            Step("interpret", interpret_step, RetryPolicy(max_attempts=3, timeout_s=120.0)),
            Step("publish", publish_step, RetryPolicy(max_attempts=5, timeout_s=120.0)),
            Step("notify", notify_step, RetryPolicy(max_attempts=5, timeout_s=120.0)),
        ),
        on_failure=Step("quarantine", quarantine_step, RetryPolicy(max_attempts=5)),
    )
