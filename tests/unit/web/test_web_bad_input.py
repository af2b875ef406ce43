"""Bad input and abuse: refused before storage, with a clear message."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from tests.unit.web.conftest import PASSWORD, Portal, api_token, login

PDF = b"%PDF-1.4\n" + b"0" * 100


def _ticket(portal: Portal, **overrides: object) -> dict[str, object]:
    body = {
        "filename": "r.pdf",
        "content_type": "application/pdf",
        "size": len(PDF),
        "patient_id": "P1",
        **overrides,
    }
    r = portal.client.post("/api/v1/uploads", json=body, headers=api_token(portal, "staff"))
    assert r.status_code == 201, r.text
    ticket: dict[str, object] = r.json()
    return ticket


def _raw_objects(portal: Portal) -> int:
    return len(portal.platform.services.store.list("raw"))


def test_wrong_type_is_refused_before_any_url_is_issued(portal: Portal) -> None:
    body = {"filename": "x.exe", "content_type": "application/x-msdownload", "size": 10}
    r = portal.client.post(
        "/api/v1/uploads", json={**body, "patient_id": "P1"}, headers=api_token(portal, "staff")
    )
    assert r.status_code == 415
    assert "x.exe" in r.json()["detail"] and "application/pdf" in r.json()["detail"]
    assert _raw_objects(portal) == 0


def test_oversized_upload_is_refused_with_the_limit(portal: Portal) -> None:
    body = {"filename": "big.pdf", "content_type": "application/pdf", "size": 10**9}
    r = portal.client.post(
        "/api/v1/uploads", json={**body, "patient_id": "P1"}, headers=api_token(portal, "staff")
    )
    assert r.status_code == 413
    assert "2000000-byte upload limit" in r.json()["detail"]


def test_put_with_more_bytes_than_declared_is_refused(portal: Portal) -> None:
    t = _ticket(portal)
    r = portal.client.put(str(t["upload_url"]), content=PDF + b"extra", headers=t["headers"])  # type: ignore[arg-type]
    assert r.status_code == 413
    assert _raw_objects(portal) == 0


def test_bytes_that_are_not_the_declared_type_are_refused(portal: Portal) -> None:
    t = _ticket(portal, size=len(b"MZ" + PDF[2:]))
    r = portal.client.put(str(t["upload_url"]), content=b"MZ" + PDF[2:], headers=t["headers"])  # type: ignore[arg-type]
    assert r.status_code == 415
    assert "not a application/pdf file" in r.json()["detail"]
    assert _raw_objects(portal) == 0


def test_tampered_signed_url_is_refused(portal: Portal) -> None:
    t = _ticket(portal)
    url = str(t["upload_url"])
    parts = urlsplit(url)
    q = parse_qs(parts.query)
    forged = url.replace(q["expires"][0], str(int(q["expires"][0]) + 3600))
    r = portal.client.put(forged, content=PDF, headers=t["headers"])  # type: ignore[arg-type]
    assert r.status_code == 403
    other_key = url.replace("/r.pdf?", "/evil.pdf?")
    assert portal.client.put(other_key, content=PDF, headers=t["headers"]).status_code == 403  # type: ignore[arg-type]
    assert _raw_objects(portal) == 0


def test_expired_signed_url_is_refused(portal: Portal) -> None:
    store = portal.platform.services.store
    t = _ticket(portal)
    key = str(t["key"])
    expired = store.signed_url("raw", key, "PUT", 1)
    sig = parse_qs(urlsplit(expired).query)
    # Re-sign with an expiry in the past: valid HMAC, but too late.
    from medflow.platform import crypto

    past = "1000000000"
    secret = b"test-secret-for-web-unit-tests"
    bad_sig = crypto.sign(secret, "PUT", "raw", key, past)
    url = expired.replace(sig["expires"][0], past).replace(sig["signature"][0], bad_sig)
    r = portal.client.put(url, content=PDF, headers=t["headers"])  # type: ignore[arg-type]
    assert r.status_code == 403
    assert "link refused" in r.json()["detail"]


def test_an_upload_link_works_once(portal: Portal) -> None:
    t = _ticket(portal)
    first = portal.client.put(str(t["upload_url"]), content=PDF, headers=t["headers"])  # type: ignore[arg-type]
    assert first.status_code == 201
    again = portal.client.put(str(t["upload_url"]), content=PDF, headers=t["headers"])  # type: ignore[arg-type]
    assert again.status_code == 409


def test_api_post_from_a_browser_session_needs_the_csrf_header(portal: Portal) -> None:
    csrf = login(portal.client, "staff@example.org")
    body = {"filename": "r.pdf", "content_type": "application/pdf", "size": 9, "patient_id": "P1"}
    assert portal.client.post("/api/v1/uploads", json=body).status_code == 403
    ok = portal.client.post("/api/v1/uploads", json=body, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201


@pytest.mark.parametrize("path", ["/patients", "/patients/P1/invite", "/logout"])
def test_form_posts_without_the_csrf_token_are_refused(portal: Portal, path: str) -> None:
    login(portal.client, "staff@example.org")
    r = portal.client.post(
        path, data={"patient_id": "P7", "email": "x@example.org"}, follow_redirects=False
    )
    assert r.status_code == 403
    assert portal.client.get("/upload").status_code == 200  # still logged in


def test_login_form_without_its_csrf_cookie_is_refused(portal: Portal) -> None:
    r = portal.client.post(
        "/login", data={"email": "staff@example.org", "password": PASSWORD, "csrf_token": "x"}
    )
    assert r.status_code == 403


def test_brute_force_logins_are_slowed_down(portal: Portal) -> None:
    page = portal.client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    codes = []
    for _ in range(5):
        r = portal.client.post(
            "/login",
            data={"email": "staff@example.org", "password": "wrong", "csrf_token": token.group(1)},
        )
        codes.append(r.status_code)
    assert codes[:3] == [401, 401, 401]
    assert 429 in codes[3:]
    # Even the right password waits out the slow-down.
    r = portal.client.post(
        "/login",
        data={"email": "staff@example.org", "password": PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) >= 1


def test_html_in_names_is_escaped(portal: Portal) -> None:
    csrf = login(portal.client, "staff@example.org")
    evil = "<script>alert(1)</script>"
    r = portal.client.post(
        "/patients",
        data={"patient_id": "P5", "name": evil, "csrf_token": csrf},
        follow_redirects=True,
    )
    assert r.status_code == 200
    assert evil not in r.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text


def test_open_redirect_after_login_is_not_followed(portal: Portal) -> None:
    page = portal.client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    r = portal.client.post(
        "/login",
        data={
            "email": "staff@example.org",
            "password": PASSWORD,
            "csrf_token": token.group(1),
            "next": "//evil.example/",
        },
        follow_redirects=False,
    )
    assert r.headers["location"] == "/"
