"""``create_app(platform)``: the FastAPI portal and API on a running :class:`Platform`."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from medflow.platform import Platform
from medflow.platform.config import signing_secret
from medflow.web.accounts import AccountRepository
from medflow.web.accounts.repository import AccountExistsError
from medflow.web.deps import LoginRequiredError, Portal
from medflow.web.routes import (
    admin,
    auth,
    care_team,
    documents,
    executions,
    pages,
    patients,
    records,
    storage,
    uploads,
)
from medflow.web.sessions import SessionStoreError, build_session_store

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).with_name("templates")

HSTS = "max-age=31536000"
"""Strict-Transport-Security when the portal is public over https: one year (RFC 6797)."""


def content_security_policy(nonce: str) -> str:
    """The pages' CSP: our own scripts and styles only, the inline ones by this response's
    nonce (CSP Level 3 section 8.2: no 'unsafe-inline', so an injected script never runs);
    no plugins, no <base> rewriting, no framing, forms post to us only."""
    return (
        f"default-src 'self'; img-src 'self' data:; style-src 'self' 'nonce-{nonce}'; "
        f"script-src 'self' 'nonce-{nonce}'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    )


def _csp_nonce(request: Request) -> dict[str, str]:
    """Template context: the response's CSP nonce, for every inline <script> and <style>."""
    return {"csp_nonce": getattr(request.state, "csp_nonce", "")}


def bootstrap_admin(accounts: AccountRepository, email: str | None, password: str | None) -> None:
    """Create the first admin account when ``email`` and ``password`` are given and no account
    with that email exists (idempotent across restarts)."""
    if not email or not password:
        return
    if accounts.by_email(email) is not None:
        return
    try:
        accounts.create_user(email, password, "admin", name="Administrator")
        log.info("created the admin account")
    except AccountExistsError:
        pass


def create_app(
    platform: Platform, *, admin_email: str | None = None, admin_password: str | None = None
) -> FastAPI:
    """The portal (pages) and the REST API (``/api/v1``, OpenAPI at ``/openapi.json``).

    Args:
        platform: the platform whose store, database, runner and notifier the app uses; the
            caller starts and closes it.
        admin_email: with ``admin_password``, an admin account created if missing; when both
            are None, ``settings.web.admin_email`` and ``admin_password`` (environment
            ``MEDFLOW_ADMIN_EMAIL`` / ``MEDFLOW_ADMIN_PASSWORD``) are used.
        admin_password: its password.

    Returns:
        The ASGI application.
    """
    web = platform.settings.web
    sessions = build_session_store(
        platform.services.db, web.session_backend, web.session_redis_url, web.session_redis_prefix
    )
    accounts = AccountRepository(platform.services.db, sessions)
    if admin_email is None and admin_password is None:
        admin_email = web.admin_email
        admin_password = web.admin_password.get_secret_value() if web.admin_password else None
    bootstrap_admin(accounts, admin_email, admin_password)
    templates = Jinja2Templates(directory=str(TEMPLATES), context_processors=[_csp_nonce])
    templates.env.autoescape = True
    portal = Portal(
        platform=platform,
        accounts=accounts,
        templates=templates,
        budget_secret=hmac.new(
            signing_secret(platform.settings), b"medflow login password budget", hashlib.sha256
        ).digest(),
    )
    app = FastAPI(
        title="medflow",
        summary="Medical documents in; checked, structured, explained results out.",
        version="1",
        openapi_url="/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.portal = portal
    routers = (uploads, storage, documents, patients, care_team, executions, auth, pages, records)
    for module in (*routers, admin):
        app.include_router(module.router)

    @app.exception_handler(LoginRequiredError)
    async def _to_login(request: Request, exc: LoginRequiredError) -> Response:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    @app.exception_handler(SessionStoreError)
    async def _store_down(request: Request, exc: SessionStoreError) -> Response:
        log.error("session store: %s", exc)
        return JSONResponse(
            {"detail": "sessions are unavailable; try again shortly"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    @app.middleware("http")
    async def _security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        nonce = secrets.token_urlsafe(18)
        request.state.csp_nonce = nonce
        response: Response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if (web.configured_url or "").startswith("https://"):
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        if response.headers.get("content-type", "").startswith("text/html"):
            response.headers.setdefault("Content-Security-Policy", content_security_policy(nonce))
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """Liveness: the app answers."""
        return {"status": "ok"}

    return app
