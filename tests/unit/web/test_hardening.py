"""What the outside probe asked for beyond access: a CSP without 'unsafe-inline' (a nonce per
response), HSTS when the public URL is https, Secure cookies behind an https proxy (forwarded
headers believed only from trusted proxies), a global login failure budget per address and per
password, and a limit on password-reset requests per account and per address."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from tests.unit.web.conftest import (
    PASSWORD,
    SAMPLES,
    Portal,
    entity,
    login,
    make_portal,
    store_clinical,
    upload,
)

from medflow.platform.db.accounts import LoginAttemptRow
from medflow.platform.notify import MemoryNotifier
from medflow.web import security


def _csp(response: object) -> dict[str, list[str]]:
    header = response.headers["content-security-policy"]  # type: ignore[attr-defined]
    out = {}
    for part in header.split(";"):
        name, *values = part.split()
        out[name] = values
    return out


def _nonce(response: object) -> str:
    policy = _csp(response)
    [script] = [v for v in policy["script-src"] if v.startswith("'nonce-")]
    assert f"{script}" in policy["style-src"]
    return script[len("'nonce-") : -1]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Portal, dict[str, str]]]:
    with make_portal(Path(tmp_path_factory.mktemp("csp"))) as portal:
        lab = upload(portal, (SAMPLES / "us-reference-lab.pdf").read_bytes())
        portal.platform.runner.run_pending()
        text = "Denies chest pain."
        note = store_clinical(
            portal,
            "documents",
            text,
            [entity(text, "chest pain", "MEDICAL_CONDITION", "DX_NAME", id_=1)],
        )
        yield portal, {"lab": lab, "note": note}


def test_pages_have_a_csp_without_unsafe_inline_and_a_nonce_on_every_inline_block(
    site: tuple[Portal, dict[str, str]],
) -> None:
    portal, docs = site
    client = TestClient(portal.client.app, base_url="http://testserver")
    assert "'unsafe-inline'" not in client.get("/login").headers["content-security-policy"]
    login(client, "staff@example.org")
    nonces = set()
    for path in (
        "/login",
        "/",
        "/upload",
        f"/reports/{docs['lab']}",
        f"/reports/{docs['note']}",
        "/patients/P1",
        "/patients/P1/trends",
        "/inbox",
    ):
        r = client.get(path)
        assert r.status_code == 200, path
        header = r.headers["content-security-policy"]
        assert "'unsafe-inline'" not in header and "'unsafe-eval'" not in header, path
        assert _csp(r)["object-src"] == ["'none'"] and _csp(r)["base-uri"] == ["'none'"]
        nonce = _nonce(r)
        nonces.add(nonce)
        blocks = re.findall(r"<(script|style)\b([^>]*)>", r.text)
        assert blocks, path
        for tag, attrs in blocks:
            assert f'nonce="{nonce}"' in attrs, (path, tag)
        # Inline style attributes would be blocked: none are left in the portal's pages.
        assert not re.search(r"<[^>]+\sstyle=", r.text), path
        assert not re.search(r"<[^>]+\son[a-z]+=", r.text), path
    assert len(nonces) == 8, "a fresh nonce for every response"


def test_stored_html_reports_allow_only_their_own_styles_by_hash(
    site: tuple[Portal, dict[str, str]],
) -> None:
    portal, docs = site
    client = TestClient(portal.client.app, base_url="http://testserver")
    login(client, "staff@example.org")
    r = client.get(f"/reports/{docs['lab']}/html")
    assert r.status_code == 200
    policy = _csp(r)
    assert "sandbox" in policy and policy["default-src"] == ["'none'"]
    assert "'unsafe-inline'" not in r.headers["content-security-policy"]
    styles = re.findall(r"<style[^>]*>(.*?)</style>", r.text, re.S)
    assert styles
    for css in styles:
        digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy["style-src"]
    assert not re.search(r"<[^>]+\sstyle=", r.text)


def test_hsts_is_sent_when_the_public_url_is_https(tmp_path: Path) -> None:
    with make_portal(tmp_path / "a", web={"public_url": "https://portal.test"}) as portal:
        hsts = portal.client.get("/login").headers["strict-transport-security"]
        assert int(re.search(r"max-age=(\d+)", hsts).group(1)) >= 31_536_000  # type: ignore[union-attr]
        assert "strict-transport-security" in portal.client.get("/healthz").headers
    with make_portal(tmp_path / "b", web={"public_url": "http://portal.lan"}) as portal:
        assert "strict-transport-security" not in portal.client.get("/login").headers


def test_cookies_are_secure_behind_a_trusted_https_proxy_only(tmp_path: Path) -> None:
    with make_portal(tmp_path, web={"trusted_proxies": ["10.0.0.0/8"]}) as portal:
        app = portal.client.app

        def cookie(peer: str, headers: dict[str, str]) -> str:
            client = TestClient(app, base_url="http://testserver", client=(peer, 5000))
            r = client.get("/login", headers=headers)
            return str(r.headers["set-cookie"])

        https = {"X-Forwarded-Proto": "https"}
        assert "Secure" in cookie("10.1.2.3", https)
        assert "Secure" not in cookie("203.0.113.9", https), "a client cannot claim https"
        assert "Secure" not in cookie("10.1.2.3", {})
        direct = TestClient(app, base_url="https://testserver")
        assert "Secure" in direct.get("/login").headers["set-cookie"]


def _attempt(app: object, peer: str, email: str, password: str, **headers: str) -> int:
    client = TestClient(app, base_url="http://testserver", client=(peer, 5000))  # type: ignore[arg-type]
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    r = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token.group(1)},
        headers=headers,
        follow_redirects=False,
    )
    return r.status_code


def test_one_password_tried_across_many_accounts_and_addresses_is_stopped(
    portal: Portal,
) -> None:
    app, budget = portal.client.app, security.PASSWORD_LOGIN_BUDGET
    codes = [
        _attempt(app, f"198.51.100.{i}", f"user{i}@example.org", "Summer2026!")
        for i in range(budget.burst + 2)
    ]
    assert codes[: budget.burst] == [401] * budget.burst
    assert codes[budget.burst :] == [429, 429]
    # The budget is the password's: another password from a fresh address is still checked,
    # and the right password of a real account still logs in.
    assert _attempt(app, "192.0.2.1", "staff@example.org", "another wrong one") == 401
    assert _attempt(app, "192.0.2.2", "staff@example.org", PASSWORD) == 303


def test_one_address_failing_across_many_accounts_is_stopped(tmp_path: Path) -> None:
    with make_portal(tmp_path, web={"trusted_proxies": ["10.0.0.1"]}) as portal:
        app, budget = portal.client.app, security.ADDRESS_LOGIN_BUDGET
        proxy = {"X-Forwarded-For": "203.0.113.7"}
        codes = [
            _attempt(app, "10.0.0.1", f"u{i}@example.org", f"guess number {i}", **proxy)
            for i in range(budget.burst + 1)
        ]
        assert codes[: budget.burst] == [401] * budget.burst and codes[-1] == 429
        # Another client behind the same proxy is its own address, and keeps its budget.
        other = {"X-Forwarded-For": "203.0.113.8"}
        assert _attempt(app, "10.0.0.1", "staff@example.org", PASSWORD, **other) == 303


def test_budgets_refill_with_time(portal: Portal) -> None:
    budget = security.Budget(burst=2, leak_s=60)
    accounts = portal.accounts
    for _ in range(2):
        accounts.spend("ip:192.0.2.9", budget)
    wait = accounts.budget_wait("ip:192.0.2.9", budget)
    assert 0 < wait <= 60
    with portal.platform.services.db.transaction() as s:
        row = s.get(LoginAttemptRow, "ip:192.0.2.9")
        assert row is not None
        s.execute(
            update(LoginAttemptRow)
            .where(LoginAttemptRow.id == "ip:192.0.2.9")
            .values(last_at=row.last_at - timedelta(seconds=61))
        )
    assert accounts.budget_wait("ip:192.0.2.9", budget) == 0


def _forgot(app: object, peer: str, email: str) -> int:
    client = TestClient(app, base_url="http://testserver", client=(peer, 5000))  # type: ignore[arg-type]
    page = client.get("/password/forgot")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    r = client.post("/password/forgot", data={"email": email, "csrf_token": token.group(1)})
    return r.status_code


def test_reset_requests_are_limited_per_account(portal: Portal) -> None:
    notifier = portal.platform.services.notifier
    assert isinstance(notifier, MemoryNotifier)
    app, budget = portal.client.app, security.RESET_ACCOUNT_BUDGET
    codes = [_forgot(app, f"198.51.100.{i}", "pat@example.org") for i in range(budget.burst + 2)]
    assert codes == [200] * budget.burst + [429, 429]
    assert len([m for _, m in notifier.sent if m["To"] == "pat@example.org"]) == budget.burst
    # Unknown accounts are counted the same way, so a 429 tells nothing about existence.
    codes = [_forgot(app, f"198.51.101.{i}", "ghost@example.org") for i in range(budget.burst + 1)]
    assert codes[-1] == 429


def test_reset_requests_are_limited_per_address(portal: Portal) -> None:
    notifier = portal.platform.services.notifier
    assert isinstance(notifier, MemoryNotifier)
    app, budget = portal.client.app, security.RESET_ADDRESS_BUDGET
    codes = [_forgot(app, "203.0.113.50", f"flood{i}@example.org") for i in range(budget.burst + 1)]
    assert codes == [200] * budget.burst + [429]
    assert _forgot(app, "203.0.113.51", "doc@example.org") == 200
    assert notifier.sent and notifier.sent[-1][1]["To"] == "doc@example.org"
