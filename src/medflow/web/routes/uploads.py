"""``POST /api/v1/uploads``: a signed URL to PUT one file straight into the raw bucket.

The request is checked (pipeline, type, extension, size, name) before anything is stored; the
metadata (patient, doctor, uploader) is recorded with the ticket, and the PUT stores exactly that.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi import APIRouter, HTTPException, Request, status

from medflow.errors import FileTooLargeError, InputError, UnsupportedFileError
from medflow.platform.db.models import utcnow
from medflow.web.accounts.repository import ticket_meta
from medflow.web.deps import ApiUser, PortalDep, require_role
from medflow.web.links import rebase
from medflow.web.schemas import Problem, UploadCreate, UploadPublic
from medflow.web.uploads import check_declared, safe_filename, upload_kinds

router = APIRouter(prefix="/api/v1", tags=["uploads"])


@router.post(
    "/uploads",
    status_code=status.HTTP_201_CREATED,
    responses={400: {"model": Problem}, 413: {"model": Problem}, 415: {"model": Problem}},
)
def create_upload(
    body: UploadCreate, user: ApiUser, portal: PortalDep, request: Request
) -> UploadPublic:
    """Issue a signed upload URL (staff and admins) for one file and the pipeline that is to
    run on it (``labs`` when the request names none): the pipeline must be registered and
    accept the file's type, extension and size (``upload_types.yaml``).

    Raises:
        HTTPException: 403 for other roles; 415 wrong type; 413 too large; 400 other bad input.
    """
    require_role(user, "staff", "admin")
    platform = portal.platform
    settings = platform.settings
    rule = next(
        (r for r in settings.triggers if r.bucket == "raw" and r.pipeline == body.pipeline), None
    )
    registered = platform.registry.names()
    if rule is None or body.pipeline not in registered or body.pipeline not in upload_kinds():
        known = ", ".join(p for p in upload_kinds() if p in registered)
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, f"no pipeline {body.pipeline!r}; choose one of {known}"
        )
    try:
        name = safe_filename(body.filename)
        check_declared(
            name, body.pipeline, body.content_type, body.size, settings.storage.max_upload_bytes
        )
    except FileTooLargeError as exc:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, str(exc)) from exc
    except UnsupportedFileError as exc:
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, str(exc)) from exc
    except InputError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc
    # The doctor named here is told about this document and may read it; the patient's care
    # team (who may read the whole record) is not changed by an upload (issue 13).
    doctor = body.doctor_email.lower() if body.doctor_email else None
    platform.services.db.patients.upsert(
        body.patient_id, name=body.patient_name or None, sex=body.sex.lower() or None
    )
    key = f"{rule.prefix.rstrip('/')}/{uuid.uuid4().hex}/{name}"
    ttl = settings.storage.signed_url_ttl_s
    meta = ticket_meta(
        {
            "filename": body.filename,
            "patient_id": body.patient_id,
            "patient_name": body.patient_name,
            "sex": body.sex,
            "age": body.age,
            "doctor_email": doctor,
            "uploaded_by": user.id,
        }
    )
    ticket = portal.accounts.create_ticket(
        bucket="raw",
        key=key,
        content_type=body.content_type,
        size=body.size,
        meta=meta,
        created_by=user.id,
        ttl_s=ttl,
    )
    url = rebase(
        platform.services.store.signed_url("raw", key, "PUT", ttl),
        settings.web,
        portal.link_base(request),
    )
    detail = {"ticket": ticket.id, **({"doctor": doctor} if doctor else {})}
    platform.services.db.audit.record(user.id, "upload-url", "patient", body.patient_id, detail)
    return UploadPublic(
        upload_url=url,
        bucket="raw",
        key=key,
        expires_at=utcnow() + timedelta(seconds=ttl),
        headers={"Content-Type": body.content_type},
    )
