"""The portal end to end in Debian's Chromium (Playwright, headless), on a real uvicorn server
and a real SMTP server on loopback: staff upload a lab PDF, the doctor is emailed and sees the
critical value first, an invited patient sees only their own summary. Screenshots of the main
pages go to docs/screenshots/."""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "contract"))
from smtp_server import SmtpServer

from medflow.pipelines.labs import build_pipeline
from medflow.platform import Platform, Settings
from medflow.web.accounts import AccountRepository
from medflow.web.server import serve
from tests.e2e.browser_kit import (
    CHROMIUM,
    PASSWORD,
    ROOT,
    SHOTS,
    csp_watch,
    free_port,
    launch_chromium,
    log_in,
)

pytestmark = pytest.mark.service("smtp")

SAMPLE = ROOT / "src" / "medflow" / "samples" / "labs" / "india-lab.pdf"


def _wait_for_mail(smtp: SmtpServer, to: str, timeout: float = 60) -> EmailMessage:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for msg in list(smtp.handler.messages):
            if msg["To"] == to:
                return msg
        time.sleep(0.2)
    raise AssertionError(f"no mail to {to}")


def _text(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, SmtpServer, AccountRepository]]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed")
    smtp = SmtpServer().start()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings(
        data_dir=tmp_path,
        notify={
            "backend": "smtp",
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp.port,
            "smtp_security": "none",
            "from_address": "portal@hospital.test",
        },
        web={"base_url": base},
    )
    stop, started = threading.Event(), threading.Event()
    with Platform(settings, pipelines=[build_pipeline()]) as platform:
        platform.start(inbox=False)
        accounts = AccountRepository(platform.services.db)
        accounts.create_user("staff@hospital.test", PASSWORD, "staff", name="Sam Staff")
        accounts.create_user("dr.rao@hospital.test", PASSWORD, "doctor", name="Dr Rao")
        thread = threading.Thread(
            target=serve,
            args=(platform, "127.0.0.1", port),
            kwargs={"stop": stop, "started": started},
        )
        thread.start()
        try:
            assert started.wait(30)
            yield base, smtp, accounts
        finally:
            stop.set()
            thread.join(30)
            smtp.stop()


def test_upload_to_doctor_to_patient(site: tuple[str, SmtpServer, AccountRepository]) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, smtp, accounts = site
    SHOTS.mkdir(parents=True, exist_ok=True)
    csp: list[str] = []  # violations of the pages' Content-Security-Policy (none allowed)
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            # Staff: log in, create the patient, upload the PDF, watch it finish.
            staff = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
            csp_watch(staff, csp)
            staff.goto(f"{base}/login")
            staff.screenshot(path=str(SHOTS / "login.png"))
            staff.fill("input[name=email]", "staff@hospital.test")
            staff.fill("input[name=password]", PASSWORD)
            staff.click("button[type=submit]")
            staff.goto(f"{base}/upload")
            form = staff.locator("#new-patient")
            form.locator("input[name=patient_id]").fill("MRN-7")
            form.locator("input[name=name]").fill("Asha <b>Verma</b>")
            form.locator("select[name=sex]").select_option("female")
            form.locator("input[name=doctor_email]").fill("dr.rao@hospital.test")
            form.locator("button").click()
            expect(staff.locator("#patient")).to_have_value("MRN-7")
            # The name's markup is shown as text, never interpreted.
            expect(staff.locator("#patient")).to_contain_text("Asha <b>Verma</b>")
            assert "<b>Verma</b>" not in staff.content()
            staff.set_input_files("#files", str(SAMPLE))
            staff.click("#upload-form button[type=submit]")
            status = staff.locator("#progress .status").first
            expect(status).to_contain_text("succeeded", timeout=120_000)
            staff.screenshot(path=str(SHOTS / "upload.png"))
            # The doctor named when the patient was saved is on the care team.
            staff.goto(f"{base}/patients/MRN-7")
            expect(staff.locator("#care-team")).to_contain_text("dr.rao@hospital.test")
            staff.screenshot(path=str(SHOTS / "patient-care-team.png"))
            staff.goto(f"{base}/")
            expect(staff.locator("#uploads")).to_contain_text("succeeded")
            staff.screenshot(path=str(SHOTS / "dashboard.png"))
            staff.goto(f"{base}/")
            staff.locator("#uploads a", has_text="report").first.click()
            expect(staff.locator("#results")).to_be_visible()
            report_url = staff.url

            # The doctor's email arrives over SMTP with a working link.
            mail = _wait_for_mail(smtp, "dr.rao@hospital.test")
            link = re.search(r"https?://127\.0\.0\.1:\d+/reports/\S+", _text(mail))
            assert link is not None
            assert link.group(0) == report_url, "the email links to this report's page"
            # Without a login the page sends the reader to the login form, never the data.
            anonymous = httpx.get(link.group(0))
            assert anonymous.status_code in {302, 303, 401}
            assert "Platelet" not in anonymous.text

            # The doctor logs in and sees the critical value first.
            doctor = log_in(browser, base, "dr.rao@hospital.test", csp=csp)
            expect(doctor.locator("#inbox tr.crit").first).to_contain_text("critical")
            doctor.screenshot(path=str(SHOTS / "doctor-inbox.png"))
            doctor.goto(link.group(0))  # the link in the email works once logged in
            first = doctor.locator("#results tr[data-significance]").first
            expect(first).to_have_attribute("data-significance", "critical")
            doctor.screenshot(path=str(SHOTS / "report.png"), full_page=True)

            # Staff invite the patient; the patient signs up and sees only their summary.
            staff.goto(report_url)
            staff.fill("#invite input[name=email]", "asha@example.test")
            staff.click("#invite button")
            invite = _wait_for_mail(smtp, "asha@example.test")
            signup = re.search(r"https?://\S+/signup\?invite=\S+", _text(invite))
            assert signup is not None
            patient = browser.new_context(viewport={"width": 1000, "height": 800}).new_page()
            csp_watch(patient, csp)
            patient.goto(signup.group(0))
            patient.fill("input[name=password]", "asha's long password")
            patient.click("button[type=submit]")
            expect(patient.locator(".summary")).to_have_count(1)
            patient.screenshot(path=str(SHOTS / "patient.png"), full_page=True)
            user = accounts.by_email("asha@example.test")
            assert user is not None and user.patient_id == "MRN-7"
            other = patient.request.get(f"{base}/api/v1/patients")
            assert [p["id"] for p in other.json()["data"]] == ["MRN-7"]
            assert csp == [], "the pages run under their CSP without a violation"
        finally:
            browser.close()
