"""``/storage/{bucket}/{key}``: the local object store's signed-URL endpoint.

S3 serves presigned URLs itself; the embedded stores have no server, so the portal checks the
signature and expiry (HMAC over method, bucket, key, expiry) and does the put or get. A PUT
must match the upload ticket issued with the URL: same declared type, no more bytes than
declared, bytes that start like that type; it then stores the ticket's metadata, which fires
the object event that starts the pipeline.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool

from medflow.errors import FileTooLargeError, InputError, SignatureError
from medflow.platform.db.models import utcnow
from medflow.platform.storage.base import InvalidKeyError
from medflow.web.deps import PortalDep
from medflow.web.schemas import Problem, StoredPublic
from medflow.web.uploads import (
    HEAD_BYTES,
    check_archive_upload,
    check_content,
    pipeline_of_key,
)

router = APIRouter(tags=["storage"])

Sig = Annotated[str, Query(pattern=r"^[0-9a-f]{64}$", description="Hex HMAC-SHA256.")]
Expires = Annotated[str, Query(pattern=r"^[0-9]{1,12}$", description="Unix seconds.")]
MethodQ = Annotated[str, Query(alias="method", max_length=8)]


def _verify(portal: PortalDep, bucket: str, key: str, method: str, expires: str, sig: str) -> None:
    try:
        portal.platform.services.store.verify_signed(bucket, key, method, expires, sig)
    except (SignatureError, InvalidKeyError) as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"link refused: {exc}") from exc


@router.put(
    "/storage/{bucket}/{key:path}",
    status_code=status.HTTP_201_CREATED,
    responses={
        400: {"model": Problem},
        403: {"model": Problem},
        413: {"model": Problem},
        415: {"model": Problem},
    },
)
async def put_object(
    bucket: str,
    key: str,
    request: Request,
    portal: PortalDep,
    expires: Expires,
    signature: Sig,
    method: MethodQ = "PUT",
) -> StoredPublic:
    """Store the request body at ``bucket``/``key`` under a signed PUT URL.

    Raises:
        HTTPException: 403 bad or expired signature, or no ticket; 413 more bytes than
            declared, or a ZIP-based file that would unpack past the limit; 415 wrong type or
            bytes; 400 a ZIP-based file compressed past the ratio limit, with too many
            entries, or damaged.
    """
    _verify(portal, bucket, key, "PUT", expires, signature)
    if method != "PUT":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "link refused: not a PUT link")
    ticket = portal.accounts.ticket_for(bucket, key)
    if ticket is None or ticket.expires_at <= utcnow():
        raise HTTPException(status.HTTP_403_FORBIDDEN, "link refused: no upload was approved")
    if ticket.document_id is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, "this upload link was used already")
    name = ticket.meta.get("filename", key)
    declared = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if declared != ticket.content_type.split(";", 1)[0].strip().lower():
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"{name}: send Content-Type {ticket.content_type} as approved",
        )
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > ticket.size:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE, f"{name}: more than the {ticket.size} bytes declared"
        )
    pipeline = pipeline_of_key(portal.platform.settings.triggers, bucket, key)
    services = portal.platform.services
    # The body goes to a temporary file, not memory: dictations and images may be large. Its
    # first bytes are checked before the object is stored.
    with tempfile.TemporaryDirectory(prefix="medflow-upload-") as tmp:
        body = Path(tmp) / "body"
        head = bytearray()
        total = 0
        with body.open("wb") as fh:
            async for chunk in request.stream():
                total += len(chunk)
                if total > ticket.size:
                    raise HTTPException(
                        status.HTTP_413_CONTENT_TOO_LARGE,
                        f"{name}: more than the {ticket.size} bytes declared",
                    )
                if len(head) < HEAD_BYTES:
                    head += chunk[: HEAD_BYTES - len(head)]
                fh.write(chunk)
        try:
            if total == 0:
                raise InputError(name, "the file is empty (0 bytes)")
            check_content(name, pipeline, ticket.content_type, bytes(head))
        except InputError as exc:
            raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, str(exc)) from exc
        # A ZIP-based file (DOCX) is checked from its central directory before it is stored:
        # a zip bomb never reaches the store, let alone a reader that unpacks it.
        try:
            await run_in_threadpool(check_archive_upload, name, bytes(head), body)
        except FileTooLargeError as exc:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, str(exc)) from exc
        except InputError as exc:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc
        obj = await run_in_threadpool(
            services.store.put_file, bucket, key, body, ticket.meta, ticket.content_type
        )
    doc, _ = services.db.documents.get_or_create(
        bucket=obj.bucket,
        key=obj.key,
        sha256=obj.sha256,
        size=obj.size,
        filename=name,
        content_type=obj.content_type,
        pipeline=pipeline,
        patient_id=ticket.meta.get("patient_id"),
        meta=dict(obj.metadata),
    )
    portal.accounts.attach_document(ticket.id, doc.id)
    runs = portal.platform.runner.list_executions(document_id=doc.id, limit=1)
    services.db.audit.record(ticket.created_by, "upload", "document", doc.id, {"size": obj.size})
    return StoredPublic(
        bucket=obj.bucket,
        key=obj.key,
        sha256=obj.sha256,
        size=obj.size,
        document_id=doc.id,
        execution_id=runs[0].id if runs else None,
    )


@router.get("/storage/{bucket}/{key:path}", responses={403: {"model": Problem}})
def get_object(
    bucket: str,
    key: str,
    portal: PortalDep,
    expires: Expires,
    signature: Sig,
    method: MethodQ = "GET",
) -> Response:
    """The object's bytes under a signed GET URL (e.g. a link in an email).

    Raises:
        HTTPException: 403 bad or expired signature; 404 no object.
    """
    _verify(portal, bucket, key, "GET", expires, signature)
    if method != "GET":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "link refused: not a GET link")
    store = portal.platform.services.store
    try:
        head = store.head(bucket, key)
        data = store.get(bucket, key)
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such object") from exc
    services = portal.platform.services
    services.db.audit.record("signed-link", "read", "object", f"{bucket}/{key}"[:128])
    return Response(
        data,
        media_type=head.content_type,
        headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
    )
