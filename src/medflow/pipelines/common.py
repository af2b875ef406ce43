"""Steps and helpers every pipeline shares: reading the original, quarantining it."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from medflow.errors import InputError, PipelineError
from medflow.platform.events import safe_name
from medflow.platform.runner import StepContext
from medflow.platform.storage import ObjectStore, sha256_hex

log = logging.getLogger(__name__)

QUARANTINE_BUCKET = "quarantine"


def require_document(ctx: StepContext) -> str:
    """The execution's document id; a document-less execution is a programming error."""
    if ctx.document_id is None:
        raise PipelineError(f"execution {ctx.execution_id} has no document")
    return ctx.document_id


def original_filename(ctx: StepContext) -> str:
    """The name the user gave the file (upload metadata), else the key's last part."""
    event = ctx.object_event
    return event.metadata.get("filename") or event.key.rsplit("/", 1)[-1]


def read_original(ctx: StepContext) -> tuple[bytes, str]:
    """The original's bytes and the name the user gave it."""
    event = ctx.object_event
    return ctx.services.store.get(event.bucket, event.key), original_filename(ctx)


def quarantine_key(key: str) -> str:
    """Where the copy of a failed original lands in the quarantine bucket."""
    return key


def quarantine_step(ctx: StepContext) -> dict[str, Any]:
    """Copy the original to the quarantine bucket beside a ``.reason.json``; never delete.

    The original stays in the raw bucket too (originals are kept forever); the quarantine copy
    and its reason are what staff review. Safe to run twice: both writes are overwrites.
    """
    event = ctx.object_event
    store = ctx.services.store
    error = dict(ctx.state.get("error", {}))
    dest = quarantine_key(event.key)
    if store.exists(event.bucket, event.key):
        store.copy(event.bucket, event.key, QUARANTINE_BUCKET, dest)
    reason = {
        "file": original_filename(ctx),
        "source": {"bucket": event.bucket, "key": event.key, "sha256": event.sha256},
        "pipeline": ctx.pipeline,
        "execution_id": ctx.execution_id,
        "document_id": ctx.document_id,
        "step": error.get("step"),
        "error": error.get("type"),
        "reason": error.get("message"),
        "quarantined_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    store.put(
        QUARANTINE_BUCKET,
        dest + ".reason.json",
        json.dumps(reason, indent=2).encode(),
        {"source_key": event.key},
        "application/json",
    )
    if ctx.document_id is not None:
        ctx.services.db.documents.set_status(ctx.document_id, "quarantined")
    log.info("execution %s: quarantined %s (%s)", ctx.execution_id, event.key, error.get("type"))
    return {"quarantined": dest}


def quarantine_refused_upload(
    store: ObjectStore, pipeline: str, filename: str, data: bytes, error: InputError
) -> str:
    """Keep an upload refused before storage (empty, over the size limit) in quarantine.

    The bytes the user handed over are kept as they were (nothing is lost) beside a
    ``.reason.json``; returns the quarantine key.
    """
    key = f"{pipeline}/refused/{sha256_hex(data)[:16]}/{safe_name(filename)}"
    store.put(QUARANTINE_BUCKET, key, data, {"filename": filename}, "application/octet-stream")
    reason = {
        "file": filename,
        "pipeline": pipeline,
        "step": "upload",
        "error": type(error).__name__,
        "reason": str(error),
        "quarantined_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    store.put(
        QUARANTINE_BUCKET,
        key + ".reason.json",
        json.dumps(reason, indent=2).encode(),
        {"source_key": key},
        "application/json",
    )
    return key
