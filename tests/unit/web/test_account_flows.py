"""Accounts: invitation sign-up bound to one patient, password reset by emailed single-use
token, logout, session cookie flags, session expiry."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update
from tests.unit.web.conftest import PASSWORD, Portal, login

from medflow.platform.db.accounts import SessionRow
from medflow.platform.db.models import utcnow
from medflow.platform.notify import MemoryNotifier


def _last_link(portal: Portal, path: str) -> str:
    notifier = portal.platform.services.notifier
    assert isinstance(notifier, MemoryNotifier)
    body = notifier.sent[-1][1].get_body(("plain",))
    assert body is not None
    match = re.search(rf"http://testserver({re.escape(path)}\S+)", body.get_content())
    assert match is not None
    return match.group(1)


def _anon_csrf(client: TestClient, path: str) -> str:
    page = client.get(path)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None, page.text
    return found.group(1)


def test_invited_patient_signs_up_and_sees_only_their_own_records(portal: Portal) -> None:
    csrf = login(portal.client, "staff@example.org")
    r = portal.client.post(
        "/patients/P2/invite", data={"email": "bob@example.org", "csrf_token": csrf}
    )
    assert r.status_code == 200
    link = _last_link(portal, "/signup?invite=")
    patient = TestClient(portal.client.app, base_url="http://testserver")
    token = _anon_csrf(patient, link)
    r = patient.post(
        "/signup",
        data={
            "email": "bob@example.org",
            "password": "a long enough password",
            "invite": link.split("invite=", 1)[1],
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    user = portal.accounts.by_email("bob@example.org")
    assert user is not None and user.role == "patient" and user.patient_id == "P2"
    assert patient.get("/api/v1/patients").json()["data"][0]["id"] == "P2"
    # The invitation is single-use.
    again = TestClient(portal.client.app, base_url="http://testserver")
    assert again.get(link).status_code == 403


def test_signup_without_an_invitation_is_refused_when_invite_only(portal: Portal) -> None:
    assert portal.client.get("/signup").status_code == 403


def test_password_reset_by_emailed_token(portal: Portal) -> None:
    token = _anon_csrf(portal.client, "/password/forgot")
    r = portal.client.post(
        "/password/forgot", data={"email": "doc@example.org", "csrf_token": token}
    )
    assert r.status_code == 200
    link = _last_link(portal, "/password/reset?token=")
    reset_token = link.split("token=", 1)[1]
    r = portal.client.post(
        "/password/reset",
        data={"token": reset_token, "password": "a brand new password", "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert portal.accounts.authenticate("doc@example.org", PASSWORD) is None
    assert portal.accounts.authenticate("doc@example.org", "a brand new password") is not None
    reused = portal.client.post(
        "/password/reset",
        data={"token": reset_token, "password": "yet another password", "csrf_token": token},
    )
    assert reused.status_code == 404


def test_unknown_email_gets_the_same_answer_and_no_mail(portal: Portal) -> None:
    notifier = portal.platform.services.notifier
    assert isinstance(notifier, MemoryNotifier)
    token = _anon_csrf(portal.client, "/password/forgot")
    r = portal.client.post(
        "/password/forgot", data={"email": "nobody@example.org", "csrf_token": token}
    )
    assert r.status_code == 200 and "If the account exists" in r.text
    assert notifier.sent == []


def test_session_cookie_flags_and_logout(portal: Portal) -> None:
    page = portal.client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    r = portal.client.post(
        "/login",
        data={"email": "staff@example.org", "password": PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    cookie = r.headers["set-cookie"]
    assert "medflow_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    home = portal.client.get("/")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', home.text)
    assert csrf is not None
    portal.client.post("/logout", data={"csrf_token": csrf.group(1)})
    assert portal.client.get("/", follow_redirects=False).status_code == 303


def test_expired_sessions_are_refused(portal: Portal) -> None:
    login(portal.client, "staff@example.org")
    with portal.platform.services.db.transaction() as s:
        s.execute(update(SessionRow).values(expires_at=utcnow() - timedelta(seconds=1)))
    r = portal.client.get("/upload", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
