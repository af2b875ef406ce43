"""Links medflow sends (password reset, invitation, signed upload URL, the doctor's report
email, the patient's summary link) start with ``web.public_url``; without it, with the
request's host only when that host is on ``web.allowed_hosts``, else with the address the
portal listens on, never with a Host header an attacker chose."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.unit.web.conftest import SAMPLES, Portal, api_token, login, make_portal, upload

from medflow.platform import Settings
from medflow.platform.notify import MemoryNotifier
from medflow.web.links import loopback_warning

PUBLIC = "https://portal.hospital.example"


def _mail_links(portal: Portal) -> list[str]:
    notifier = portal.platform.services.notifier
    assert isinstance(notifier, MemoryNotifier)
    links = []
    for _, message in notifier.sent:
        body = message.get_body(("plain",))
        assert body is not None
        links += re.findall(r"https?://\S+", body.get_content())
    return links


def _client(portal: Portal, base: str) -> TestClient:
    return TestClient(portal.client.app, base_url=base)


def _forgot(client: TestClient, email: str) -> None:
    page = client.get("/password/forgot")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    r = client.post("/password/forgot", data={"email": email, "csrf_token": token.group(1)})
    assert r.status_code == 200, r.text


def _links_from(portal: Portal, client: TestClient) -> list[str]:
    """Ask for a reset link, an invitation and an upload URL through ``client``."""
    _forgot(client, "pat@example.org")
    csrf = login(client, "staff@example.org")
    r = client.post("/patients/P2/invite", data={"email": "bob@example.org", "csrf_token": csrf})
    assert r.status_code == 200
    body = {"filename": "a.pdf", "content_type": "application/pdf", "size": 9, "patient_id": "P1"}
    ticket = client.post("/api/v1/uploads", json=body, headers={"X-CSRF-Token": csrf})
    assert ticket.status_code == 201, ticket.text
    return [*_mail_links(portal), ticket.json()["upload_url"]]


@pytest.fixture
def public(tmp_path: Path) -> Iterator[Portal]:
    with make_portal(tmp_path, web={"public_url": PUBLIC + "/"}) as made:
        yield made


def test_links_start_with_the_public_url_whatever_the_host(public: Portal) -> None:
    links = _links_from(public, _client(public, "https://evil.example"))
    assert len(links) == 3
    assert all(link.startswith(PUBLIC + "/") for link in links), links
    assert any("/password/reset?token=" in link for link in links)
    assert any("/signup?invite=" in link for link in links)
    assert any("/storage/raw/labs/" in link for link in links)


def test_pipeline_emails_link_to_the_public_url(public: Portal) -> None:
    pdf = (SAMPLES / "us-reference-lab.pdf").read_bytes()
    doc = upload(public, pdf)
    public.platform.runner.run_pending()
    assert f"{PUBLIC}/reports/{doc}" in _mail_links(public)


def test_an_allowed_request_host_is_used_without_a_public_url(tmp_path: Path) -> None:
    web = {"allowed_hosts": ["portal.test", "alias.test:8443"]}
    with make_portal(tmp_path, web=web) as portal:
        links = _links_from(portal, _client(portal, "http://portal.test"))
        assert all(link.startswith("http://portal.test/") for link in links), links
        upload_url = _links_from(portal, _client(portal, "https://alias.test:8443"))[-1]
        assert upload_url.startswith("https://alias.test:8443/storage/")


def test_a_host_off_the_list_falls_back_to_the_listening_address(tmp_path: Path) -> None:
    web = {"allowed_hosts": ["portal.test"], "host": "10.0.0.5", "port": 9000}
    with make_portal(tmp_path, web=web) as portal:
        links = _links_from(portal, _client(portal, "http://evil.example"))
        assert all(link.startswith("http://10.0.0.5:9000/") for link in links), links
        assert not any("evil.example" in link for link in links)


def test_a_staff_api_token_gets_an_upload_url_on_the_public_url(public: Portal) -> None:
    body = {"filename": "a.pdf", "content_type": "application/pdf", "size": 9, "patient_id": "P1"}
    r = public.client.post("/api/v1/uploads", json=body, headers=api_token(public, "staff"))
    assert r.json()["upload_url"].startswith(f"{PUBLIC}/storage/raw/")


@pytest.mark.parametrize(
    ("web", "warns"),
    [
        ({}, True),
        ({"public_url": "http://127.0.0.1:8000"}, True),
        ({"public_url": "http://localhost:9000"}, True),
        ({"public_url": "http://[::1]:9000"}, True),
        ({"host": "0.0.0.0"}, True),
        ({"public_url": PUBLIC}, False),
        ({"base_url": "http://portal.lan:8000"}, False),  # the former name still counts
    ],
)
def test_serve_warns_when_emails_would_carry_a_loopback_url(
    web: dict[str, object], warns: bool
) -> None:
    warning = loopback_warning(Settings(web=web).web)
    assert (warning is not None) == warns
    if warning:
        assert "web.public_url" in warning and "MEDFLOW_WEB__PUBLIC_URL" in warning


def test_bad_public_settings_are_refused() -> None:
    from pydantic import ValidationError

    for web in (
        {"public_url": "portal.example.org"},
        {"public_url": "ftp://portal.example.org"},
        {"trusted_proxies": ["not-an-address"]},
        {"allowed_hosts": ["bad host"]},
    ):
        with pytest.raises(ValidationError):
            Settings(web=web)
