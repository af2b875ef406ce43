"""``/api/v1/executions``: pipeline runs, and retrying a failed one (staff and admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from medflow.platform.db import RecordNotFoundError
from medflow.web.deps import ApiUser, PortalDep, require_role
from medflow.web.schemas import ExecutionPublic, ExecutionsPublic, Problem

router = APIRouter(prefix="/api/v1/executions", tags=["executions"])


@router.get("", responses={403: {"model": Problem}})
def list_executions(
    user: ApiUser,
    portal: PortalDep,
    status_: Annotated[str | None, Query(alias="status", max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ExecutionsPublic:
    """Runs, newest first."""
    require_role(user, "staff", "admin")
    runs = portal.platform.runner.list_executions(status=status_, limit=limit)
    return ExecutionsPublic(data=[ExecutionPublic.of(r) for r in runs], count=len(runs))


@router.post(
    "/{execution_id}/retry",
    responses={403: {"model": Problem}, 404: {"model": Problem}, 409: {"model": Problem}},
)
def retry_execution(execution_id: str, user: ApiUser, portal: PortalDep) -> ExecutionPublic:
    """Run a failed or quarantined execution again.

    Raises:
        HTTPException: 403 other roles; 404 unknown; 409 still pending or running.
    """
    require_role(user, "staff", "admin")
    try:
        rec = portal.platform.runner.retry(execution_id)
    except RecordNotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such execution") from exc
    except ValueError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    portal.db.audit.record(user.id, "retry", "execution", rec.id)
    return ExecutionPublic.of(rec)
