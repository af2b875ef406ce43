"""Where each pipeline keeps the result files of one uploaded document.

The labs, documents and dictation pipelines write ``results/<pipeline>/<document id>/<name>``.
The records pipeline writes under a prefix made of the file's name and content hash, split
between the ``insights``, ``curated`` and ``quarantine`` buckets; the imaging pipeline writes
one report per study, ``results/imaging/<Study Instance UID>/``, the study being the one the
upload's ``register`` step recorded. The portal only reads these places; the pipelines own them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from medflow.platform.db import DocumentRecord

if TYPE_CHECKING:
    from medflow.web.deps import Portal

RESULTS_BUCKET = "results"
_JSON, _FHIR, _HTML, _CSV = (
    "application/json",
    "application/fhir+json",
    "text/html; charset=utf-8",
    "text/csv; charset=utf-8",
)
DOWNLOADS: dict[str, dict[str, str]] = {
    "labs": {"report.json": _JSON, "fhir.json": _FHIR, "report.html": _HTML},
    "documents": {
        "result.json": _JSON,
        "entities.json": _JSON,
        "fhir.json": _FHIR,
        "summary.html": _HTML,
    },
    "dictation": {
        "result.json": _JSON,
        "entities.json": _JSON,
        "fhir.json": _FHIR,
        "transcript.json": _JSON,
        "resume.html": _HTML,
    },
    "imaging": {
        "report.html": _HTML,
        "report.json": _JSON,
        "findings.sr.dcm": "application/dicom",
    },
    "records": {
        "report.html": _HTML,
        "report.json": _JSON,
        "anomalies.csv": _CSV,
        "curated.csv": _CSV,
        "quarantined_rows.csv": _CSV,
        "unparsed_rows.csv": _CSV,
    },
}
"""The result files each pipeline keeps per document that the report page offers, with the
media type they are served as."""
HTML_REPORT = {
    "labs": "report.html",
    "documents": "summary.html",
    "dictation": "resume.html",
    "imaging": "report.html",
    "records": "report.html",
}
"""Each pipeline's standalone HTML result."""
_RECORDS_BUCKETS = {
    "report.html": "insights",
    "report.json": "insights",
    "anomalies.csv": "insights",
    "curated.csv": "curated",
    "quarantined_rows.csv": "quarantine",
    "unparsed_rows.csv": "quarantine",
}


def study_uid(portal: Portal, doc: DocumentRecord) -> str | None:
    """The study an imaging upload belongs to, as its ``register`` step recorded it."""
    for run in portal.platform.runner.list_executions(document_id=doc.id, limit=5):
        uid = run.state.get("study_uid")
        if isinstance(uid, str) and uid:
            return uid
    return None


def locate(portal: Portal, doc: DocumentRecord, name: str) -> tuple[str, str] | None:
    """``(bucket, key)`` of result file ``name`` of ``doc``; None when the pipeline keeps no
    such file or cannot have written it yet (an imaging upload not yet registered). The labs,
    documents and dictation pipelines' other working files (``text.txt``) are found too."""
    pipeline = doc.pipeline or "labs"
    if pipeline in ("records", "imaging") and name not in DOWNLOADS[pipeline]:
        return None
    if pipeline == "records":
        from medflow.pipelines.records import output_prefix

        return _RECORDS_BUCKETS[name], output_prefix(doc.key, doc.sha256) + name
    if pipeline == "imaging":
        uid = study_uid(portal, doc)
        return (RESULTS_BUCKET, f"imaging/{uid}/{name}") if uid else None
    return RESULTS_BUCKET, f"{pipeline}/{doc.id}/{name}"


def read(portal: Portal, doc: DocumentRecord, name: str) -> bytes | None:
    """The bytes of result file ``name`` of ``doc``, or None when it is not (yet) there."""
    where = locate(portal, doc, name)
    if where is None:
        return None
    try:
        return portal.platform.services.store.get(*where)
    except LookupError:
        return None


def available(portal: Portal, doc: DocumentRecord) -> list[str]:
    """The result files of ``doc`` that exist now, in the order of :data:`DOWNLOADS`."""
    store = portal.platform.services.store
    names = []
    for name in DOWNLOADS.get(doc.pipeline or "labs", {}):
        where = locate(portal, doc, name)
        if where is not None and store.exists(*where):
            names.append(name)
    return names
