"""Request dependencies, as ``Annotated`` aliases: the portal state, the current user (by
session cookie or bearer token), role checks and CSRF checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status
from fastapi.templating import Jinja2Templates

from medflow.platform import Platform
from medflow.platform.db import Database
from medflow.web import links
from medflow.web.accounts import AccountRepository, SessionInfo, User
from medflow.web.links import is_https, link_base
from medflow.web.security import same

SESSION_COOKIE = "medflow_session"
CSRF_HEADER = "X-CSRF-Token"


@dataclass
class Portal:
    """What every request handler needs: the platform, accounts and templates.

    Attributes:
        platform: the running platform.
        accounts: the account repository on the platform's database.
        templates: the Jinja2 templates (autoescaping on).
        budget_secret: the key of the password budget's hashes (derived from the site's
            signing secret).
    """

    platform: Platform
    accounts: AccountRepository
    templates: Jinja2Templates
    budget_secret: bytes

    @property
    def db(self) -> Database:
        """The platform database."""
        return self.platform.services.db

    @property
    def session_ttl_s(self) -> int:
        """Idle session lifetime, seconds."""
        return self.platform.settings.web.session_ttl_s

    def secure_cookies(self, request: Request) -> bool:
        """Send cookies with ``Secure``: the public URL is https, or this request came over
        https (directly, or as a trusted proxy reports)."""
        return is_https(request, self.platform.settings.web)

    def link_base(self, request: Request) -> str:
        """Where links made for this request start (``web/links.py``)."""
        return link_base(request, self.platform.settings.web)


class LoginRequiredError(Exception):
    """A page needs a logged-in user; the app answers with a redirect to the login page."""


def get_portal(request: Request) -> Portal:
    """The portal state stored on the app."""
    portal: Portal = request.app.state.portal
    return portal


PortalDep = Annotated[Portal, Depends(get_portal)]


def get_session(request: Request, portal: PortalDep) -> SessionInfo | None:
    """The live session named by the session cookie, if any."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    return portal.accounts.session(token, portal.session_ttl_s)


OptionalSession = Annotated[SessionInfo | None, Depends(get_session)]


def get_api_user(
    request: Request,
    portal: PortalDep,
    session: OptionalSession,
    authorization: Annotated[str | None, Header()] = None,
) -> User:
    """The caller of an API route: a bearer token, or a browser session.

    A browser session calling a state-changing route must send the session's CSRF token in
    the ``X-CSRF-Token`` header (a cross-site form cannot set headers).

    Raises:
        HTTPException: 401 without valid credentials, 403 on a missing or wrong CSRF token.
    """
    if authorization:
        scheme, _, token = authorization.partition(" ")
        user = portal.accounts.token_user(token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "invalid API token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return user
    if session is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "log in or send an API token (Authorization: Bearer ...)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not same(sent, session.csrf_token):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token")
    return session.user


ApiUser = Annotated[User, Depends(get_api_user)]


def require_session(session: OptionalSession) -> SessionInfo:
    """The session of a logged-in page visitor; otherwise redirect to the login page."""
    if session is None:
        raise LoginRequiredError
    return session


PageSession = Annotated[SessionInfo, Depends(require_session)]


def require_role(user: User, *roles: str) -> None:
    """Refuse a user whose role is not one of ``roles``.

    Raises:
        HTTPException: 403.
    """
    if user.role not in roles:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "your role may not do this")


def check_csrf(session: SessionInfo, token: str | None) -> None:
    """Refuse a form post whose ``csrf_token`` field is not the session's.

    Raises:
        HTTPException: 403.
    """
    if not token or not same(token, session.csrf_token):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token")


def client_address(request: Request, portal: Portal) -> str:
    """The client's address (the throttles' key part): the peer, or behind a trusted proxy
    the address it reports."""
    return links.client_address(request, portal.platform.settings.web)
