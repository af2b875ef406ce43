"""Login, logout, password reset by emailed token, and patient sign-up (by invitation or
open, per ``web.signup``).

Forms shown before login carry a double-submit CSRF token (a random cookie echoed in a hidden
field; OWASP CSRF Prevention Cheat Sheet); forms after login carry the session's token.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse

from medflow.platform.db.models import utcnow
from medflow.platform.notify import Message
from medflow.web.accounts.repository import AccountExistsError
from medflow.web.deps import (
    SESSION_COOKIE,
    OptionalSession,
    PageSession,
    Portal,
    PortalDep,
    check_csrf,
    client_address,
)
from medflow.web.security import (
    ADDRESS_LOGIN_BUDGET,
    PASSWORD_LOGIN_BUDGET,
    RESET_ACCOUNT_BUDGET,
    RESET_ADDRESS_BUDGET,
    digest,
    new_token,
    password_key,
    password_problem,
    same,
    slowdown_s,
)

router = APIRouter(tags=["pages"], include_in_schema=False)

ANON_CSRF_COOKIE = "medflow_csrf"
RESET_TTL_S = 3600
INVITE_TTL_S = 7 * 24 * 3600
FormStr = Annotated[str, Form(max_length=1024)]


def render(
    portal: Portal, request: Request, name: str, context: dict[str, Any], code: int = 200
) -> HTMLResponse:
    """Render a template; anonymous visitors get a double-submit CSRF cookie."""
    token = request.cookies.get(ANON_CSRF_COOKIE) or new_token()
    context.setdefault("anon_csrf", token)
    response = portal.templates.TemplateResponse(request, name, context, status_code=code)
    if request.cookies.get(ANON_CSRF_COOKIE) != token:
        response.set_cookie(
            ANON_CSRF_COOKIE,
            token,
            httponly=True,
            samesite="lax",
            secure=portal.secure_cookies(request),
        )
    return response


def check_anon_csrf(request: Request, token: str) -> None:
    """Refuse a pre-login form post whose token is not the cookie's.

    Raises:
        HTTPException: 403.
    """
    cookie = request.cookies.get(ANON_CSRF_COOKIE, "")
    if not cookie or not token or not same(cookie, token):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token")


def _safe_next(target: str) -> str:
    # Only local paths: an open redirect would let a phishing link borrow our login page.
    return target if target.startswith("/") and not target.startswith("//") else "/"


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, portal: PortalDep, next: str = "/") -> HTMLResponse:
    """The login form."""
    return render(portal, request, "login.html", {"next": _safe_next(next)})


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    portal: PortalDep,
    email: FormStr,
    password: FormStr,
    csrf_token: FormStr = "",
    next: FormStr = "/",
) -> Response:
    """Check the password; on success open a session and redirect.

    Three throttles, each answering 429 without checking the password: consecutive failures
    for one (email, client address) pair are slowed exponentially; failures from one address
    across all accounts, and failures with one password across all accounts and addresses
    (credential stuffing, password spraying), each have a budget that refills with time, not
    with a success.
    """
    check_anon_csrf(request, csrf_token)
    address = client_address(request, portal)
    throttle_key = f"{email.strip().lower()}|{address}"
    budgets = (
        (f"ip:{address}", ADDRESS_LOGIN_BUDGET),
        (password_key(password, portal.budget_secret), PASSWORD_LOGIN_BUDGET),
    )
    failures, last = portal.accounts.login_failures(throttle_key)
    waits = [slowdown_s(failures) - (utcnow() - last).total_seconds() if last else 0.0]
    waits += [portal.accounts.budget_wait(key, budget) for key, budget in budgets]
    if max(waits) > 0:
        response = render(
            portal,
            request,
            "login.html",
            {"next": next, "error": "Too many failed logins; wait and try again."},
            status.HTTP_429_TOO_MANY_REQUESTS,
        )
        response.headers["Retry-After"] = str(int(max(waits)) + 1)
        return response
    user = portal.accounts.authenticate(email, password)
    portal.accounts.record_login(throttle_key, success=user is not None)
    if user is None:
        for key, budget in budgets:
            portal.accounts.spend(key, budget)
        return render(
            portal,
            request,
            "login.html",
            {"next": next, "error": "Wrong email or password."},
            status.HTTP_401_UNAUTHORIZED,
        )
    token, session = portal.accounts.open_session(user.id, portal.session_ttl_s)
    portal.db.audit.record(user.id, "login", "user", user.id)
    redirect = RedirectResponse(_safe_next(next), status_code=303)
    set_session_cookie(portal, request, redirect, token, session.expires_at)
    return redirect


def set_session_cookie(
    portal: Portal, request: Request, response: Response, token: str, expires: datetime
) -> None:
    """The session cookie: HttpOnly, SameSite=Lax, Secure whenever served over https."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=portal.session_ttl_s,
        httponly=True,
        samesite="lax",
        secure=portal.secure_cookies(request),
        path="/",
    )


@router.post("/logout")
def logout(
    request: Request, portal: PortalDep, session: PageSession, csrf_token: FormStr = ""
) -> Response:
    """End the session."""
    check_csrf(session, csrf_token)
    portal.accounts.close_session(request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        secure=portal.secure_cookies(request),
        httponly=True,
        samesite="lax",
    )
    return response


@router.get("/password/forgot", response_class=HTMLResponse)
def forgot_page(request: Request, portal: PortalDep) -> HTMLResponse:
    """Ask for a reset link."""
    return render(portal, request, "forgot.html", {})


@router.post("/password/forgot", response_class=HTMLResponse)
def forgot(
    request: Request, portal: PortalDep, email: FormStr, csrf_token: FormStr = ""
) -> Response:
    """Email a single-use reset link if the account exists; answer the same either way.

    Requests are limited per address and per email (counted whether or not the account
    exists, so a 429 says nothing about it): the form cannot flood an inbox.
    """
    check_anon_csrf(request, csrf_token)
    budgets = (
        (f"reset-ip:{client_address(request, portal)}", RESET_ADDRESS_BUDGET),
        (f"reset:{digest(email.strip().lower())[:32]}", RESET_ACCOUNT_BUDGET),
    )
    wait = max(portal.accounts.budget_wait(key, budget) for key, budget in budgets)
    if wait > 0:
        message = "Too many reset requests; wait and try again."
        response = render(
            portal, request, "message.html", {"message": message}, status.HTTP_429_TOO_MANY_REQUESTS
        )
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response
    for key, budget in budgets:
        portal.accounts.spend(key, budget)
    user = portal.accounts.by_email(email)
    if user is not None:
        token = portal.accounts.issue_one_time("reset", user.email, RESET_TTL_S, user_id=user.id)
        link = f"{portal.link_base(request)}/password/reset?token={quote(token)}"
        portal.platform.services.notifier.send(
            Message(
                to=user.email,
                subject="medflow: reset your password",
                text=f"Open this link within an hour to choose a new password:\n{link}\n",
            )
        )
        portal.db.audit.record(user.id, "password-reset-request", "user", user.id)
    return render(
        portal, request, "message.html", {"message": "If the account exists, a link was sent."}
    )


@router.get("/password/reset", response_class=HTMLResponse)
def reset_page(request: Request, portal: PortalDep, token: str = "") -> HTMLResponse:
    """The new-password form for a valid reset token."""
    if portal.accounts.peek_one_time("reset", token[:100]) is None:
        return render(portal, request, "message.html", {"message": "This link is not valid."}, 404)
    return render(portal, request, "reset.html", {"token": token})


@router.post("/password/reset", response_class=HTMLResponse)
def reset(
    request: Request,
    portal: PortalDep,
    token: FormStr,
    password: FormStr,
    csrf_token: FormStr = "",
) -> Response:
    """Set the new password (ends every session of the account)."""
    check_anon_csrf(request, csrf_token)
    problem = password_problem(password)
    if problem:
        return render(portal, request, "reset.html", {"token": token, "error": problem}, 400)
    used = portal.accounts.use_one_time("reset", token)
    if used is None or not used["user_id"]:
        return render(portal, request, "message.html", {"message": "This link is not valid."}, 404)
    portal.accounts.set_password(used["user_id"], password)
    portal.db.audit.record(used["user_id"], "password-reset", "user", used["user_id"])
    return RedirectResponse("/login", status_code=303)


@router.get("/signup", response_class=HTMLResponse)
def signup_page(request: Request, portal: PortalDep, invite: str = "") -> HTMLResponse:
    """The patient sign-up form (needs a valid invitation unless sign-up is open)."""
    found = portal.accounts.peek_one_time("invite", invite[:100]) if invite else None
    if found is None and portal.platform.settings.web.signup != "open":
        return render(
            portal, request, "message.html", {"message": "Sign-up needs an invitation."}, 403
        )
    email = (found or {}).get("email") or ""
    return render(portal, request, "signup.html", {"invite": invite, "email": email})


@router.post("/signup", response_class=HTMLResponse)
def signup(
    request: Request,
    portal: PortalDep,
    email: FormStr,
    password: FormStr,
    name: FormStr = "",
    invite: FormStr = "",
    csrf_token: FormStr = "",
) -> Response:
    """Create a patient account, linked to the invited patient's records."""
    check_anon_csrf(request, csrf_token)
    context = {"invite": invite, "email": email}
    problem = password_problem(password)
    if problem:
        return render(portal, request, "signup.html", {**context, "error": problem}, 400)
    found = portal.accounts.peek_one_time("invite", invite) if invite else None
    if found is None and portal.platform.settings.web.signup != "open":
        return render(
            portal, request, "message.html", {"message": "Sign-up needs an invitation."}, 403
        )
    if found is not None and found["email"] != email.strip().lower():
        error = "Use the email address the invitation was sent to."
        return render(portal, request, "signup.html", {**context, "error": error}, 400)
    try:
        user = portal.accounts.create_user(
            email, password, "patient", name=name, patient_id=(found or {}).get("patient_id")
        )
    except AccountExistsError:
        error = "An account with this email exists; log in instead."
        return render(portal, request, "signup.html", {**context, "error": error}, 409)
    if invite:
        portal.accounts.use_one_time("invite", invite)
    portal.db.audit.record(user.id, "signup", "user", user.id, {"invited": found is not None})
    token, session = portal.accounts.open_session(user.id, portal.session_ttl_s)
    response = RedirectResponse("/", status_code=303)
    set_session_cookie(portal, request, response, token, session.expires_at)
    return response


def send_invitation(
    portal: Portal, request: Request, patient_id: str, email: str, actor: str
) -> str:
    """Email a patient a sign-up link bound to ``patient_id``; return the link."""
    token = portal.accounts.issue_one_time("invite", email, INVITE_TTL_S, patient_id=patient_id)
    link = f"{portal.link_base(request)}/signup?invite={quote(token)}"
    portal.platform.services.notifier.send(
        Message(
            to=email.strip().lower(),
            subject="medflow: your results portal invitation",
            text=f"Create your account to read your results:\n{link}\n",
        )
    )
    portal.db.audit.record(actor, "invite", "patient", patient_id)
    return link


__all__ = ["OptionalSession", "router", "send_invitation"]
