"""Uploads of other kinds than lab reports, end to end in Debian's Chromium (Playwright,
headless) on a real uvicorn server: staff choose a dictation (the page picks "Dictation" from
the file type), a PDF switched from lab report to clinical document and a DICOM file without an
extension marked as a medical image; all reach succeeded through the real Whisper, clinical and
imaging pipelines, the dashboard names their kinds and the dictation's report shows its
transcript with the entities found."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from medflow.pipelines.dictation import build_pipeline as dictation_pipeline
from medflow.pipelines.documents import build_pipeline as documents_pipeline
from medflow.pipelines.imaging import ImagingConfig, imaging_pipelines
from medflow.pipelines.labs import build_pipeline as labs_pipeline
from medflow.platform import Platform, Settings
from medflow.web.accounts import AccountRepository
from medflow.web.server import serve
from tests.e2e.browser_kit import (
    CHROMIUM,
    PASSWORD,
    ROOT,
    free_port,
    launch_chromium,
    log_in,
)

SAMPLES = ROOT / "src" / "medflow" / "samples"
DICTATION = SAMPLES / "dictation" / "dict01_htn_dm.mp3"
LETTER = SAMPLES / "labs" / "us-reference-lab.pdf"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings(data_dir=tmp_path, notify={"backend": "memory"}, web={"base_url": base})
    imaging = imaging_pipelines(
        ImagingConfig(deid_secret=b"e2e-imaging-secret-0123456789ab", provider_email="")
    )
    pipelines = [labs_pipeline(), documents_pipeline(), dictation_pipeline(), *imaging]
    stop, started = threading.Event(), threading.Event()
    with Platform(settings, pipelines=pipelines) as platform:
        platform.start(inbox=False)
        accounts = AccountRepository(platform.services.db)
        accounts.create_user("staff@hospital.test", PASSWORD, "staff", name="Sam Staff")
        platform.services.db.patients.upsert("MRN-9", name="Dee Kay")
        thread = threading.Thread(
            target=serve,
            args=(platform, "127.0.0.1", port),
            kwargs={"stop": stop, "started": started},
        )
        thread.start()
        try:
            assert started.wait(30)
            yield base
        finally:
            stop.set()
            thread.join(30)


def _dicom_named_by_uid(tmp_path: Path) -> Path:
    sys.path.insert(0, str(ROOT / "tests" / "fixtures" / "imaging"))
    import imaging_fixtures

    ds = imaging_fixtures.ct_image(seed=5)
    return imaging_fixtures.save(ds, tmp_path / str(ds.SOPInstanceUID))


def test_staff_upload_a_dictation_a_clinical_pdf_and_an_image(site: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    base = site
    dicom = _dicom_named_by_uid(tmp_path)
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            csp: list[str] = []
            page = log_in(browser, base, "staff@hospital.test", csp=csp)
            page.goto(f"{base}/upload?patient_id=MRN-9")
            page.set_input_files("#files", [str(DICTATION), str(LETTER), str(dicom)])
            kinds = page.locator("#chosen select.file-kind")
            expect(kinds.nth(0)).to_have_value("dictation")  # from the file type
            expect(kinds.nth(1)).to_have_value("labs")  # a PDF is a lab report by default...
            kinds.nth(1).select_option("documents")  # ...unless the uploader says otherwise
            # A DICOM file named by its UID has no type the browser knows: staff say what it is.
            expect(page.locator("#chosen tr").nth(2)).to_contain_text("no kind of upload")
            kinds.nth(2).select_option("imaging")
            page.click("#upload-form button[type=submit]")
            rows = page.locator("#progress tr")
            expect(rows.nth(1)).to_contain_text("Dictation")
            expect(rows.nth(2)).to_contain_text("Clinical document")
            expect(rows.nth(3)).to_contain_text("Medical image")
            for n in (1, 2, 3):
                expect(rows.nth(n).locator(".status")).to_contain_text("succeeded", timeout=300_000)

            page.goto(f"{base}/")
            uploads = page.locator("#uploads")
            expect(uploads.locator("tr", has_text=DICTATION.name)).to_contain_text("Dictation")
            expect(uploads.locator("tr", has_text=LETTER.name)).to_contain_text("Clinical document")
            uploads.locator("tr", has_text=DICTATION.name).locator("a", has_text="report").click()
            text = page.locator("#clinical-text")
            expect(text).to_contain_text("metformin")
            expect(text.locator("mark", has_text="metformin").first).to_be_visible()
            assert csp == [], "the pages run under their CSP without a violation"
        finally:
            browser.close()
