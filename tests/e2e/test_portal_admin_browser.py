"""The admin accounts page and a documents report page in Debian's Chromium (Playwright,
headless) on a real uvicorn server: an admin creates a doctor and issues an API token; a
clinical note analysed by the real documents pipeline shows its entities highlighted at their
offsets, negated ones marked. Screenshots go to docs/screenshots/."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from medflow.pipelines.documents import build_pipeline
from medflow.platform import Platform, Settings
from medflow.web.accounts import AccountRepository
from medflow.web.server import serve
from tests.e2e.browser_kit import (
    CHROMIUM,
    PASSWORD,
    ROOT,
    SHOTS,
    free_port,
    launch_chromium,
    log_in,
)

NOTE = ROOT / "src" / "medflow" / "samples" / "documents" / "discharge-summary.txt"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, AccountRepository]]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings(
        data_dir=tmp_path,
        notify={"backend": "memory"},
        web={"base_url": base, "admin_email": "admin@hospital.test", "admin_password": PASSWORD},
    )
    stop, started = threading.Event(), threading.Event()
    with Platform(settings, pipelines=[build_pipeline()]) as platform:
        platform.start(inbox=False)
        accounts = AccountRepository(platform.services.db)
        accounts.create_user("staff@hospital.test", PASSWORD, "staff", name="Sam Staff")
        thread = threading.Thread(
            target=serve,
            args=(platform, "127.0.0.1", port),
            kwargs={"stop": stop, "started": started},
        )
        thread.start()
        try:
            assert started.wait(30)
            yield base, accounts
        finally:
            stop.set()
            thread.join(30)


def _analyse_note(base: str, token: str) -> str:
    """Upload the sample note through the API (signed URL) and wait for the pipeline."""
    auth = {"Authorization": f"Bearer {token}"}
    data = NOTE.read_bytes()
    ticket = httpx.post(
        f"{base}/api/v1/uploads",
        headers=auth,
        json={
            "filename": NOTE.name,
            "content_type": "text/plain",
            "size": len(data),
            "patient_id": "MRN-42",
            "patient_name": "Lee <i>Park</i>",
            "pipeline": "documents",
        },
    )
    assert ticket.status_code == 201, ticket.text
    t = ticket.json()
    put = httpx.put(t["upload_url"], content=data, headers=t["headers"])
    assert put.status_code == 201, put.text
    doc: str = put.json()["document_id"]
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        run = httpx.get(f"{base}/api/v1/documents/{doc}", headers=auth).json()["execution"]
        if run and run["status"] in ("succeeded", "failed", "quarantined"):
            assert run["status"] == "succeeded", run
            return doc
        time.sleep(0.5)
    raise AssertionError("the documents pipeline did not finish")


def test_admin_page_and_documents_report(site: tuple[str, AccountRepository]) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, accounts = site
    staff = accounts.by_email("staff@hospital.test")
    assert staff is not None
    doc = _analyse_note(base, accounts.issue_api_token(staff.id, "e2e"))
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            csp: list[str] = []
            page = log_in(browser, base, "admin@hospital.test", csp=csp)
            page.goto(f"{base}/admin/users")
            form = page.locator("#create-user")
            form.locator("input[name=email]").fill("dr.osei@hospital.test")
            form.locator("input[name=name]").fill("Dr Osei")
            form.locator("select[name=role]").select_option("doctor")
            form.locator("input[name=password]").fill("a long first password")
            form.locator("button").click()
            expect(page.locator('#users tr[data-user="dr.osei@hospital.test"]')).to_contain_text(
                "active"
            )
            row = page.locator('#users tr[data-user="staff@hospital.test"]')
            row.locator("input[name=label]").fill("lab feed")
            row.locator("form.issue button").click()
            token = page.locator("#new-token").inner_text()
            assert accounts.token_user(token) == accounts.by_email("staff@hospital.test")
            expect(page.locator("#tokens")).to_contain_text("lab feed")
            page.screenshot(path=str(SHOTS / "admin.png"), full_page=True)

            page.goto(f"{base}/reports/{doc}")
            expect(page.locator("#clinical-text mark.neg").first).to_be_visible()
            # Every highlighted span is exactly the text at its stored offsets.
            text = NOTE.read_text(encoding="utf-8")
            marks = page.eval_on_selector_all(
                "#clinical-text mark",
                "ms => ms.map(m => [+m.dataset.begin, +m.dataset.end, m.textContent])",
            )
            assert len(marks) > 10
            assert all(text[b:e] == content for b, e, content in marks)
            shown = page.eval_on_selector("#clinical-text", "el => el.textContent")
            assert shown == text
            page.screenshot(path=str(SHOTS / "report-documents.png"), full_page=True)
            assert csp == [], "the pages run under their CSP without a violation"
        finally:
            browser.close()
