"""Account administration (admins only): create staff, doctor and admin accounts, disable
and re-enable accounts, issue and revoke API tokens for machine clients. Every form carries
the session's CSRF token and every action goes to the audit log."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, HTTPException, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse

from medflow.platform.db import RecordNotFoundError
from medflow.web.accounts.repository import AccountExistsError
from medflow.web.deps import PageSession, Portal, PortalDep, check_csrf, require_role
from medflow.web.routes.auth import render
from medflow.web.security import password_problem

router = APIRouter(tags=["pages"], include_in_schema=False)

FormStr = Annotated[str, Form(max_length=1024)]
STAFF_ROLES: tuple[str, ...] = ("staff", "doctor", "admin")
"""Roles an admin creates here; patients sign up by invitation."""


def _page(
    portal: Portal,
    request: Request,
    session: Any,
    *,
    code: int = 200,
    **extra: Any,
) -> HTMLResponse:
    users = portal.accounts.list()
    tokens = portal.accounts.api_tokens()
    emails = {u.id: u.email for u in users}
    context = {
        "session": session,
        "users": users,
        "tokens": [(t, emails.get(t.user_id, t.user_id)) for t in tokens],
        "roles": STAFF_ROLES,
        **extra,
    }
    return render(portal, request, "admin.html", context, code)


@router.get("/admin/users", response_class=HTMLResponse)
def accounts_page(request: Request, portal: PortalDep, session: PageSession) -> HTMLResponse:
    """Every account with its status and API tokens, and the forms to change them."""
    require_role(session.user, "admin")
    portal.db.audit.record(session.user.id, "list", "user", "*")
    return _page(portal, request, session)


@router.post("/admin/users", response_class=HTMLResponse)
def create_account(
    request: Request,
    portal: PortalDep,
    session: PageSession,
    email: FormStr,
    password: FormStr,
    role: Annotated[Literal["staff", "doctor", "admin"], Form()],
    name: FormStr = "",
    csrf_token: FormStr = "",
) -> Response:
    """Create a staff, doctor or admin account."""
    check_csrf(session, csrf_token)
    require_role(session.user, "admin")
    email = email.strip().lower()
    problem = password_problem(password)
    if "@" not in email or len(email) > 320:
        problem = "give the person's email address"
    if problem:
        return _page(portal, request, session, code=400, error=problem)
    try:
        user = portal.accounts.create_user(email, password, role, name=name.strip()[:256])
    except AccountExistsError:
        error = "an account with this email exists"
        return _page(portal, request, session, code=409, error=error)
    portal.db.audit.record(session.user.id, "admin-create-user", "user", user.id, {"role": role})
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users/{user_id}/active")
def set_active(
    user_id: str,
    portal: PortalDep,
    session: PageSession,
    active: Annotated[Literal["0", "1"], Form()],
    csrf_token: FormStr = "",
) -> Response:
    """Disable (``active=0``: sessions end, tokens stop working) or re-enable an account."""
    check_csrf(session, csrf_token)
    require_role(session.user, "admin")
    if user_id == session.user.id and active == "0":
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "you cannot disable your own account")
    try:
        portal.accounts.set_active(user_id, active == "1")
    except RecordNotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such account") from exc
    action = "admin-enable-user" if active == "1" else "admin-disable-user"
    portal.db.audit.record(session.user.id, action, "user", user_id)
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users/{user_id}/tokens", response_class=HTMLResponse)
def issue_token(
    request: Request,
    user_id: str,
    portal: PortalDep,
    session: PageSession,
    label: FormStr = "",
    csrf_token: FormStr = "",
) -> Response:
    """Issue an API token acting as the account; the page shows it once."""
    check_csrf(session, csrf_token)
    require_role(session.user, "admin")
    try:
        owner = portal.accounts.get(user_id)
    except RecordNotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such account") from exc
    token = portal.accounts.issue_api_token(owner.id, label.strip()[:128])
    portal.db.audit.record(
        session.user.id, "admin-issue-token", "user", owner.id, {"label": label.strip()[:128]}
    )
    return _page(portal, request, session, new_token=token, token_owner=owner.email)


@router.post("/admin/tokens/{token_id}/revoke")
def revoke_token(
    token_id: str, portal: PortalDep, session: PageSession, csrf_token: FormStr = ""
) -> Response:
    """Revoke an API token (by its digest); it stops working at once."""
    check_csrf(session, csrf_token)
    require_role(session.user, "admin")
    revoked = portal.accounts.revoke_api_token(token_id[:64])
    if revoked is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such token")
    portal.db.audit.record(
        session.user.id, "admin-revoke-token", "api-token", token_id[:12], {"user": revoked.user_id}
    )
    return RedirectResponse("/admin/users", status_code=303)
