"""The documents pipeline: a clinical PDF, DOCX or text -> entities, FHIR, a patient summary.

Steps (each idempotent: re-running one for the same document rewrites the same objects)::

    read       original -> text (PDF text layer, OCR for scanned pages; DOCX; UTF-8 text)
    extract    text -> clinical entities (AWS Comprehend Medical DetectEntitiesV2 shape)
    publish    entities -> FHIR R4 Bundle and the plain-language summary page for the patient
    notify     the patient emailed a signed, expiring link to the summary (once per document)
    quarantine (on a permanent error) the original copied to "quarantine" with its reason

Objects written under the ``results`` bucket, ``documents/<document id>/``: ``text.txt`` (the
text read), ``result.json`` (the typed result), ``entities.json`` (Comprehend shape),
``fhir.json`` (FHIR R4 Bundle) and ``summary.html`` (the patient's summary).

Input that cannot be analysed — empty text, binary data, text in a language other than English —
fails its step with an :class:`~medflow.errors.InputError` that says what could not be done, and
the original is quarantined with that reason.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import TYPE_CHECKING, Any

from medflow.errors import NoResultsError, UnsupportedFileError
from medflow.pipelines.common import (
    original_filename,
    quarantine_step,
    read_original,
    require_document,
)
from medflow.platform.notify.base import Message
from medflow.platform.runner import Pipeline, RetryPolicy, Step, StepContext

if TYPE_CHECKING:
    from medflow.analyzers.clinical import ClinicalExtractor
    from medflow.domain.clinical import ClinicalResult

log = logging.getLogger(__name__)

NAME = "documents"
VERSION = "1"
RESULTS_BUCKET = "results"
MAX_GRADE_LEVEL = 8.0
"""Flesch-Kincaid grade the patient summary should not exceed (AMA/NIH health-literacy advice:
grade 6-8). A summary above it is still delivered, and the execution records that it was over."""

_lock = threading.Lock()
_extractor: ClinicalExtractor | None = None


def clinical_extractor() -> ClinicalExtractor:
    """The process's one :class:`ClinicalExtractor`, built on first use (seconds) and reused.

    Shared by the documents and dictation pipelines and the CLI; thread-safe.
    """
    global _extractor
    with _lock:
        if _extractor is None:
            from medflow.analyzers.clinical import ClinicalExtractor

            _extractor = ClinicalExtractor()
        return _extractor


def result_key(document_id: str, name: str) -> str:
    """Where an output of the documents pipeline lives in the results bucket."""
    return f"documents/{document_id}/{name}"


def extract_checked(text: str, filename: str) -> ClinicalResult:
    """Extract entities, refusing text the extractor could not analyse.

    Raises:
        EmptyInputError, UnsupportedFileError: empty or binary text (from the extractor).
        UnsupportedFileError: the text is not English (the reason says what was not done).
        NoResultsError: the text holds no clinical entity at all.
    """
    result = clinical_extractor().extract(text, filename)
    if not result.language_supported:
        raise UnsupportedFileError(filename, "; ".join(result.warnings))
    if not result.entities:
        raise NoResultsError(filename, "no clinical findings, medicines or tests were found")
    return result


def load_result(ctx: StepContext, document_id: str) -> tuple[ClinicalResult, str]:
    """The stored result and text of ``document_id``."""
    from medflow.domain.clinical import ClinicalResult

    store = ctx.services.store
    result = ClinicalResult.model_validate_json(
        store.get(RESULTS_BUCKET, result_key(document_id, "result.json"))
    )
    text = store.get(RESULTS_BUCKET, result_key(document_id, "text.txt")).decode("utf-8")
    return result, text


def read_step(ctx: StepContext) -> dict[str, Any]:
    """Read the original's text and keep it as ``text.txt``. InputError on a bad file."""
    from medflow.analyzers.labs.inputcheck import PdfLimits
    from medflow.pipelines.document_text import read_document_text

    document_id = require_document(ctx)
    data, filename = read_original(ctx)
    ctx.progress(0.05, "reading the document")
    labs = ctx.services.settings.labs
    limits = PdfLimits(
        max_bytes=ctx.services.settings.storage.max_upload_bytes,
        max_pages=labs.max_pdf_pages,
        max_pixels=labs.max_image_pixels,
        dpi=labs.ocr_dpi,
    )
    doc = read_document_text(data, filename, limits)
    key = result_key(document_id, "text.txt")
    ctx.services.store.put(
        RESULTS_BUCKET, key, doc.text.encode("utf-8"), {"document_id": document_id}, "text/plain"
    )
    log.info("document %s: %s, %d characters", document_id, doc.kind, len(doc.text))
    return {
        "text_key": key,
        "kind": doc.kind,
        "pages": doc.pages,
        "ocr_pages": doc.ocr_pages,
        "characters": len(doc.text),
    }


def extract_step(ctx: StepContext) -> dict[str, Any]:
    """Extract entities; store ``result.json`` and the Comprehend-shaped ``entities.json``."""
    from medflow.analyzers.clinical import to_comprehend

    document_id = require_document(ctx)
    ctx.progress(0.3, "finding clinical entities")
    store = ctx.services.store
    text = store.get(RESULTS_BUCKET, result_key(document_id, "text.txt")).decode("utf-8")
    result = extract_checked(text, original_filename(ctx))
    meta = {"document_id": document_id}
    store.put(
        RESULTS_BUCKET,
        result_key(document_id, "result.json"),
        result.model_dump_json().encode(),
        meta,
        "application/json",
    )
    store.put(
        RESULTS_BUCKET,
        result_key(document_id, "entities.json"),
        json.dumps(to_comprehend(result), indent=2).encode(),
        meta,
        "application/json",
    )
    return {
        "entities": len(result.entities),
        "entities_key": result_key(document_id, "entities.json"),
    }


def publish_step(ctx: StepContext) -> dict[str, Any]:
    """Write the FHIR R4 Bundle and the patient's plain-language summary page."""
    from medflow.analyzers.clinical import patient_summary
    from medflow.reports.fhir_clinical import clinical_bundle
    from medflow.reports.resume import render_summary_html

    document_id = require_document(ctx)
    ctx.progress(0.7, "writing the summary")
    meta = ctx.object_event.metadata
    patient_id = meta.get("patient_id") or "unknown"
    result, text = load_result(ctx, document_id)
    services = ctx.services
    if patient_id != "unknown":
        services.db.patients.upsert(
            patient_id,
            name=meta.get("patient_name") or None,
            email=meta.get("patient_email") or None,
        )
    store = services.store
    tags = {"document_id": document_id}
    bundle = clinical_bundle(result, patient_id, text)
    store.put(
        RESULTS_BUCKET,
        result_key(document_id, "fhir.json"),
        json.dumps(bundle, indent=2).encode(),
        tags,
        "application/fhir+json",
    )
    summary = patient_summary(result, text)
    page = render_summary_html(summary.html, summary.grade_level, "Your health summary")
    store.put(
        RESULTS_BUCKET,
        result_key(document_id, "summary.html"),
        page.encode(),
        tags,
        "text/html; charset=utf-8",
    )
    plain_enough = summary.grade_level <= MAX_GRADE_LEVEL
    if not plain_enough:
        log.warning(
            "document %s: summary reads at grade %.1f, above %.0f",
            document_id,
            summary.grade_level,
            MAX_GRADE_LEVEL,
        )
    return {
        "grade_level": summary.grade_level,
        "plain_enough": plain_enough,
        "fhir_resources": len(bundle["entry"]),
    }


def notify_step(ctx: StepContext) -> dict[str, Any]:
    """Email the patient a signed, expiring link to the summary, once per document.

    The email holds no clinical content (only the link), so nothing clinical travels by mail;
    the link expires after ``storage.signed_url_ttl_s``.
    """
    document_id = require_document(ctx)
    services = ctx.services
    patient = ctx.object_event.metadata.get("patient_email")
    if not patient:
        return {"notified": None}
    ttl = services.settings.storage.signed_url_ttl_s
    url = services.store.signed_url(
        RESULTS_BUCKET, result_key(document_id, "summary.html"), "GET", ttl
    )
    hours = max(1, round(ttl / 3600))
    text = (
        "Hello,\n\nA plain-language summary of your recent clinical document is ready:\n\n"
        f"{url}\n\nThe link works for {hours} hour(s). If it has expired, ask your care team "
        "for a new one.\n\nThis is an automated message from medflow."
    )
    notification_id = services.notifier.send(
        Message(
            to=patient,
            subject="Your health summary is ready",
            text=text,
            related_document_id=document_id,
            idempotency_key=f"{NAME}:{document_id}:patient",
        )
    )
    return {"notified": notification_id}


def build_pipeline() -> Pipeline:
    """The documents pipeline declaration."""
    return Pipeline(
        name=NAME,
        version=VERSION,
        steps=(
            Step("read", read_step, RetryPolicy(max_attempts=2, timeout_s=600.0)),
            Step("extract", extract_step, RetryPolicy(max_attempts=2, timeout_s=600.0)),
            Step("publish", publish_step, RetryPolicy(max_attempts=5, timeout_s=120.0)),
            Step("notify", notify_step, RetryPolicy(max_attempts=5, timeout_s=120.0)),
        ),
        on_failure=Step("quarantine", quarantine_step, RetryPolicy(max_attempts=5)),
    )
