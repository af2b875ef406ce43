"""The admin accounts page: create staff/doctor/admin accounts, disable and enable them,
issue and revoke API tokens; CSRF on every form, admins only, every action audited."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from tests.unit.web.conftest import PASSWORD, Portal, login


def _actions(portal: Portal, actor: str) -> list[str]:
    return [e.action for e in portal.platform.services.db.audit.list(actor=actor, limit=500)]


def test_admin_creates_an_account_that_can_log_in(portal: Portal) -> None:
    csrf = login(portal.client, "admin@example.org")
    r = portal.client.post(
        "/admin/users",
        data={
            "email": "New.Doc@Example.org",
            "name": "Dr <b>New</b>",
            "role": "doctor",
            "password": "a long initial password",
            "csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    user = portal.accounts.by_email("new.doc@example.org")
    assert user is not None and user.role == "doctor" and user.active
    assert "admin-create-user" in _actions(portal, portal.users["admin"])
    page = portal.client.get("/admin/users").text
    assert "Dr &lt;b&gt;New&lt;/b&gt;" in page and "<b>New</b>" not in page
    fresh = TestClient(portal.client.app, base_url="http://testserver")
    login(fresh, "new.doc@example.org", "a long initial password")
    assert fresh.get("/inbox").status_code == 200


def test_bad_account_requests_are_refused_with_a_reason(portal: Portal) -> None:
    csrf = login(portal.client, "admin@example.org")
    base = {"email": "x@example.org", "role": "staff", "csrf_token": csrf}
    short = portal.client.post("/admin/users", data={**base, "password": "short"})
    assert short.status_code == 400 and "at least 10 characters" in short.text
    taken = portal.client.post(
        "/admin/users", data={**base, "email": "doc@example.org", "password": PASSWORD}
    )
    assert taken.status_code == 409 and "exists" in taken.text
    patient = portal.client.post(
        "/admin/users", data={**base, "role": "patient", "password": PASSWORD}
    )
    assert patient.status_code == 422  # patients sign up by invitation
    assert portal.accounts.by_email("x@example.org") is None


def test_forms_without_the_csrf_token_change_nothing(portal: Portal) -> None:
    login(portal.client, "admin@example.org")
    posts = [
        ("/admin/users", {"email": "y@example.org", "role": "staff", "password": PASSWORD}),
        (f"/admin/users/{portal.users['doctor']}/active", {"active": "0"}),
        (f"/admin/users/{portal.users['doctor']}/tokens", {"label": "x"}),
    ]
    for path, data in posts:
        for token in ("", "wrong"):
            r = portal.client.post(path, data={**data, "csrf_token": token})
            assert r.status_code == 403, path
    assert portal.accounts.by_email("y@example.org") is None
    assert portal.accounts.get(portal.users["doctor"]).active
    assert portal.accounts.api_tokens() == []


def test_only_admins_may_administer(portal: Portal) -> None:
    csrf = login(portal.client, "staff@example.org")
    assert portal.client.get("/admin/users").status_code == 403
    r = portal.client.post(
        "/admin/users",
        data={"email": "z@example.org", "role": "admin", "password": PASSWORD, "csrf_token": csrf},
    )
    assert r.status_code == 403 and portal.accounts.by_email("z@example.org") is None


def test_disabling_ends_sessions_tokens_and_logins_until_enabled(portal: Portal) -> None:
    doctor = TestClient(portal.client.app, base_url="http://testserver")
    login(doctor, "doc@example.org")
    token = portal.accounts.issue_api_token(portal.users["doctor"])
    bearer = {"Authorization": f"Bearer {token}"}
    csrf = login(portal.client, "admin@example.org")
    path = f"/admin/users/{portal.users['doctor']}/active"
    r = portal.client.post(path, data={"active": "0", "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert doctor.get("/inbox", follow_redirects=False).headers["location"].startswith("/login")
    assert portal.client.get("/api/v1/documents", headers=bearer).status_code == 401
    assert portal.accounts.authenticate("doc@example.org", PASSWORD) is None
    assert 'data-user="doc@example.org"' in portal.client.get("/admin/users").text
    r = portal.client.post(path, data={"active": "1", "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert portal.client.get("/api/v1/documents", headers=bearer).status_code == 200
    actions = _actions(portal, portal.users["admin"])
    assert "admin-disable-user" in actions and "admin-enable-user" in actions


def test_an_admin_cannot_disable_their_own_account(portal: Portal) -> None:
    csrf = login(portal.client, "admin@example.org")
    r = portal.client.post(
        f"/admin/users/{portal.users['admin']}/active", data={"active": "0", "csrf_token": csrf}
    )
    assert r.status_code == 400
    assert portal.accounts.get(portal.users["admin"]).active


def test_tokens_are_shown_once_work_and_stop_when_revoked(portal: Portal) -> None:
    csrf = login(portal.client, "admin@example.org")
    r = portal.client.post(
        f"/admin/users/{portal.users['staff']}/tokens",
        data={"label": "lab feed", "csrf_token": csrf},
    )
    assert r.status_code == 200
    found = re.search(r'<code id="new-token">([^<]+)</code>', r.text)
    assert found is not None
    token = found.group(1)
    bearer = {"Authorization": f"Bearer {token}"}
    assert portal.client.get("/api/v1/executions", headers=bearer).status_code == 200
    listing = portal.client.get("/admin/users").text
    assert token not in listing and "lab feed" in listing  # never shown again
    (issued,) = portal.accounts.api_tokens(portal.users["staff"])
    r = portal.client.post(
        f"/admin/tokens/{issued.id}/revoke", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert r.status_code == 303
    assert portal.client.get("/api/v1/executions", headers=bearer).status_code == 401
    again = portal.client.post(f"/admin/tokens/{issued.id}/revoke", data={"csrf_token": csrf})
    assert again.status_code == 404
    actions = _actions(portal, portal.users["admin"])
    assert "admin-issue-token" in actions and "admin-revoke-token" in actions
