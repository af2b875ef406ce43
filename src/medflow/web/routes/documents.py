"""``/api/v1/documents``: uploaded originals, their status and their results (JSON, FHIR)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status

from medflow.platform.db import DocumentRecord
from medflow.web import result_files
from medflow.web.access import NotVisibleError, document_for, visible_documents
from medflow.web.accounts import User
from medflow.web.deps import ApiUser, Portal, PortalDep
from medflow.web.schemas import (
    DocumentPublic,
    DocumentsPublic,
    DocumentStatus,
    ExecutionPublic,
    Problem,
    ResultsPublic,
)

router = APIRouter(prefix="/api/v1/documents", tags=["documents"])

RESULTS_BUCKET = "results"
RESULT_JSON = {
    "labs": "report.json",
    "documents": "result.json",
    "dictation": "result.json",
    "imaging": "report.json",
    "records": "report.json",
}
"""Each pipeline's JSON result file (what ``medflow results --format json`` prints)."""
LOCATED = frozenset({"imaging", "records"})
"""Pipelines whose results are not kept per document id (see :mod:`medflow.web.result_files`)."""
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Problem}}


def visible(portal: Portal, user: User, document_id: str) -> DocumentRecord:
    """The document if ``user`` may see it, else 404 (also for ids that exist).

    Raises:
        HTTPException: 404.
    """
    try:
        return document_for(portal.db, user, document_id)
    except NotVisibleError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such document") from exc


def result_json(portal: Portal, doc: DocumentRecord, name: str) -> dict[str, Any]:
    """A JSON result file of ``doc`` (``report.json``, ``fhir.json``).

    Raises:
        HTTPException: 404 when the pipeline has not produced it (yet).
    """
    if (doc.pipeline or "labs") in LOCATED:
        raw = result_files.read(portal, doc, name)
        if raw is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no results for this document yet")
    else:
        key = f"{doc.pipeline or 'labs'}/{doc.id}/{name}"
        try:
            raw = portal.platform.services.store.get(RESULTS_BUCKET, key)
        except LookupError as exc:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, "no results for this document yet"
            ) from exc
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no results for this document yet")
    return value


@router.get("")
def list_documents(
    user: ApiUser,
    portal: PortalDep,
    patient_id: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> DocumentsPublic:
    """Documents the caller may see, newest first."""
    docs = visible_documents(portal.db, user, patient_id=patient_id, limit=limit, offset=offset)
    portal.db.audit.record(user.id, "list", "document", patient_id or "*", {"n": len(docs)})
    return DocumentsPublic(data=[DocumentPublic.of(d) for d in docs], count=len(docs))


@router.get("/{document_id}", responses=NOT_FOUND)
def get_document(document_id: str, user: ApiUser, portal: PortalDep) -> DocumentStatus:
    """One document with its latest pipeline run."""
    doc = visible(portal, user, document_id)
    runs = portal.platform.runner.list_executions(document_id=doc.id, limit=1)
    portal.db.audit.record(user.id, "read", "document", doc.id)
    return DocumentStatus(
        document=DocumentPublic.of(doc),
        execution=ExecutionPublic.of(runs[0]) if runs else None,
    )


@router.get("/{document_id}/results", responses=NOT_FOUND)
def get_results(document_id: str, user: ApiUser, portal: PortalDep) -> ResultsPublic:
    """The analysis as JSON: the labs pipeline's ``report.json``; the documents and
    dictation pipelines' ``result.json`` (entities with exact character offsets); the imaging
    study's ``report.json``; the records file's insight ``report.json``."""
    doc = visible(portal, user, document_id)
    report = result_json(portal, doc, RESULT_JSON.get(doc.pipeline or "labs", "report.json"))
    portal.db.audit.record(user.id, "read-results", "document", doc.id)
    return ResultsPublic(document_id=doc.id, report=report)


@router.get("/{document_id}/fhir", responses=NOT_FOUND)
def get_fhir(document_id: str, user: ApiUser, portal: PortalDep) -> dict[str, Any]:
    """The FHIR R4 Bundle of the results (``fhir.json``)."""
    doc = visible(portal, user, document_id)
    bundle = result_json(portal, doc, "fhir.json")
    portal.db.audit.record(user.id, "read-fhir", "document", doc.id)
    return bundle
