"""Uploads for every pipeline through the signed-URL API: the object is stored with its
metadata, the right pipeline runs to the end, the dashboard and report page show it; wrong
kinds, binary "CSV" files and oversized audio are refused before anything is stored.

Real pipelines on small real fixtures: the bundled lab PDF and discharge summary, an espeak-ng
dictation (transcribed by the test kit's deterministic energy engine, so no speech model loads),
a generated CT DICOM, a generated admissions CSV.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
from tests.unit.web.conftest import (
    SAMPLES,
    Portal,
    api_token,
    every_pipeline,
    login,
    make_portal,
    upload,
)

from medflow.pipelines.imaging import submit_stable_studies

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
for sub in ("audio", "imaging", "records"):
    sys.path.insert(0, str(FIXTURES / sub))
import generate_admissions  # noqa: E402
import imaging_fixtures  # noqa: E402
from make_dictations import speak, tools_available  # noqa: E402

DOCUMENTS = Path(str(resources.files("medflow.samples").joinpath("documents")))
needs_speech_tools = pytest.mark.skipif(
    not (tools_available() and shutil.which("ffmpeg") and shutil.which("ffprobe")),
    reason="espeak-ng, sox and ffmpeg make and decode the test dictation",
)


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    with make_portal(tmp_path_factory.mktemp("every"), every_pipeline()) as made:
        yield made


@pytest.fixture(scope="module")
def dictation_wav(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    out = tmp_path_factory.mktemp("audio") / "visit.wav"
    text = "Patient reports chest pain for two days. Start aspirin eighty one milligrams daily."
    return speak(text, out).read_bytes()


@pytest.fixture(scope="module")
def dicom_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("dicom") / "ct.dcm"
    return imaging_fixtures.save(imaging_fixtures.ct_image(seed=3), path).read_bytes()


@pytest.fixture(scope="module")
def records_csv(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("records") / "admissions.csv"
    generate_admissions.generate(200, 11, path)
    return path.read_bytes()


def _finished(portal: Portal, doc_id: str) -> dict[str, object]:
    portal.platform.runner.run_pending()
    r = portal.client.get(f"/api/v1/documents/{doc_id}", headers=api_token(portal, "staff"))
    assert r.status_code == 200
    status: dict[str, object] = r.json()
    return status


def _stored(portal: Portal, doc_id: str, data: bytes, pipeline: str) -> None:
    doc = portal.platform.services.db.documents.get(doc_id)
    assert doc.pipeline == pipeline
    assert doc.key.startswith(f"{pipeline}/")
    assert portal.platform.services.store.get(doc.bucket, doc.key) == data
    head = portal.platform.services.store.head(doc.bucket, doc.key)
    assert head.metadata["patient_id"] == "P1"


def _succeeded(portal: Portal, doc_id: str, pipeline: str) -> list[str]:
    """Run what is pending; the document's run (as the API shows it) succeeded with
    ``pipeline``. Returns the names of the steps that ran."""
    status = _finished(portal, doc_id)
    execution = status["execution"]
    assert isinstance(execution, dict)
    assert execution["pipeline"] == pipeline
    assert execution["status"] == "succeeded", execution.get("error")
    run = portal.platform.runner.list_executions(document_id=doc_id, limit=1)[0]
    return [s.step for s in run.steps]


def test_a_lab_pdf_without_a_pipeline_in_the_request_still_runs_labs(portal: Portal) -> None:
    pdf = (SAMPLES / "us-reference-lab.pdf").read_bytes()
    doc_id = upload(portal, pdf)
    _stored(portal, doc_id, pdf, "labs")
    _succeeded(portal, doc_id, "labs")


def test_a_pdf_switched_to_clinical_document_runs_documents(portal: Portal) -> None:
    pdf = (SAMPLES / "uk-nhs-lab.pdf").read_bytes()
    doc_id = upload(portal, pdf, filename="letter.pdf", pipeline="documents")
    _stored(portal, doc_id, pdf, "documents")
    _succeeded(portal, doc_id, "documents")


def test_a_clinical_text_reaches_done_and_its_report_highlights_entities(portal: Portal) -> None:
    text = (DOCUMENTS / "discharge-summary.txt").read_bytes()
    doc_id = upload(
        portal, text, filename="discharge.txt", content_type="text/plain", pipeline="documents"
    )
    _stored(portal, doc_id, text, "documents")
    _succeeded(portal, doc_id, "documents")
    login(portal.client, "doc@example.org")
    page = portal.client.get(f"/reports/{doc_id}")
    assert page.status_code == 200
    assert 'id="clinical-text"' in page.text and "<mark" in page.text


@needs_speech_tools
def test_a_dictation_reaches_done_with_a_transcript_and_a_resume(
    portal: Portal, dictation_wav: bytes
) -> None:
    doc_id = upload(
        portal, dictation_wav, filename="visit.wav", content_type="audio/wav", pipeline="dictation"
    )
    _stored(portal, doc_id, dictation_wav, "dictation")
    assert _succeeded(portal, doc_id, "dictation") == ["transcribe", "extract", "record"]
    login(portal.client, "doc@example.org")
    assert portal.client.get(f"/reports/{doc_id}/resume").status_code == 200
    html = portal.client.get(f"/reports/{doc_id}/html")
    assert html.status_code == 200
    assert "sandbox" in html.headers["content-security-policy"]


def test_a_dicom_image_registers_then_its_study_report_is_linked(
    portal: Portal, dicom_bytes: bytes
) -> None:
    doc_id = upload(
        portal, dicom_bytes, filename="ct.dcm", content_type="application/dicom", pipeline="imaging"
    )
    _stored(portal, doc_id, dicom_bytes, "imaging")
    assert _succeeded(portal, doc_id, "imaging") == ["register"]
    login(portal.client, "doc@example.org")
    waiting = portal.client.get(f"/reports/{doc_id}")
    assert waiting.status_code == 200
    assert 'id="waiting"' in waiting.text and 'id="html-report"' not in waiting.text
    # The study goes quiet: the sweep starts imaging_study, which writes the study report.
    store, runner = portal.platform.services.store, portal.platform.runner
    assert len(submit_stable_studies(store, runner, quiet_s=0)) == 1
    runner.run_pending()
    page = portal.client.get(f"/reports/{doc_id}")
    assert 'id="html-report"' in page.text
    assert f"/reports/{doc_id}/download/findings.sr.dcm" in page.text
    html = portal.client.get(f"/reports/{doc_id}/html")
    assert html.status_code == 200 and "<html" in html.text.lower()
    assert "sandbox" in html.headers["content-security-policy"]
    api = portal.client.get(
        f"/api/v1/documents/{doc_id}/results", headers=api_token(portal, "doctor")
    )
    assert api.status_code == 200 and len(api.json()["report"]["images"]) == 1


def test_a_records_csv_reaches_done_and_its_insight_report_is_linked(
    portal: Portal, records_csv: bytes
) -> None:
    doc_id = upload(
        portal, records_csv, filename="admissions.csv", content_type="text/csv", pipeline="records"
    )
    _stored(portal, doc_id, records_csv, "records")
    assert _succeeded(portal, doc_id, "records") == ["initiate", "transform", "analyze", "move"]
    login(portal.client, "staff@example.org")
    page = portal.client.get(f"/reports/{doc_id}")
    assert page.status_code == 200
    assert 'id="facts"' in page.text and "Rows curated" in page.text
    assert 'id="html-report"' in page.text
    curated = portal.client.get(f"/reports/{doc_id}/download/curated.csv")
    assert curated.status_code == 200
    assert curated.text.splitlines()[0].startswith("encounter_id")
    report = portal.client.get(
        f"/api/v1/documents/{doc_id}/results", headers=api_token(portal, "staff")
    )
    assert report.status_code == 200


def test_the_dashboard_names_each_upload_kind_and_links_its_report(portal: Portal) -> None:
    text = b"Follow-up visit. Blood pressure controlled on lisinopril 10 mg daily.\n"
    doc_id = upload(
        portal, text, filename="follow-up.txt", content_type="text/plain", pipeline="documents"
    )
    portal.platform.runner.run_pending()
    login(portal.client, "staff@example.org")
    page = portal.client.get("/")
    row = next(r for r in page.text.split("<tr>") if "follow-up.txt" in r)
    assert "Clinical document" in row
    assert "succeeded" in row
    assert f'href="/reports/{doc_id}"' in row


def test_the_upload_page_offers_every_registered_kind(portal: Portal) -> None:
    login(portal.client, "staff@example.org")
    page = portal.client.get("/upload").text
    kinds = re.findall(r'<option value="(\w+)">([^<]+)</option>', page)
    assert [k for k, _ in kinds] == ["labs", "documents", "dictation", "imaging", "records"]
    accept = re.search(r'accept="([^"]+)"', page)
    assert accept is not None
    assert {".pdf", ".wav", ".mp3", ".dcm", ".csv", ".docx"} <= set(accept.group(1).split(","))
    table = json.loads(re.search(r"const KINDS = (\[.*?\]);", page).group(1))  # type: ignore[union-attr]
    assert next(k for k in table if k["pipeline"] == "dictation")["extensions"][".m4a"]


def test_patients_and_doctors_reach_every_kind_of_their_results(
    portal: Portal, dicom_bytes: bytes, records_csv: bytes
) -> None:
    ids = {
        "scan.dcm": upload(
            portal,
            dicom_bytes[:-2] + b"\x00\x00",  # another instance's bytes, the same study
            filename="scan.dcm",
            content_type="application/dicom",
            pipeline="imaging",
        ),
        "visits.csv": upload(
            portal,
            records_csv + b"\n",
            filename="visits.csv",
            content_type="text/csv",
            pipeline="records",
        ),
    }
    portal.platform.runner.run_pending()
    login(portal.client, "pat@example.org")
    home = portal.client.get("/").text
    for name, doc_id in ids.items():
        assert f'{name}: <a href="/reports/{doc_id}">see the report</a>' in home
        assert portal.client.get(f"/reports/{doc_id}").status_code == 200
    login(portal.client, "doc@example.org")
    inbox = portal.client.get("/inbox").text
    assert all(f'href="/reports/{doc_id}"' in inbox for doc_id in ids.values())


# -- refused before storage -----------------------------------------------------------------


def _ticket(portal: Portal, **body: object) -> tuple[int, str]:
    request = {"patient_id": "P1", **body}
    r = portal.client.post("/api/v1/uploads", json=request, headers=api_token(portal, "staff"))
    detail = r.json().get("detail", "") if r.status_code >= 400 else ""
    return r.status_code, str(detail)


def _nothing_stored_under(portal: Portal, prefix: str) -> bool:
    return not portal.platform.services.store.list("raw", prefix)


def test_an_audio_file_declared_as_a_lab_report_is_refused_naming_the_right_kind(
    portal: Portal, dictation_wav: bytes
) -> None:
    code, detail = _ticket(
        portal, filename="visit.wav", content_type="audio/wav", size=len(dictation_wav)
    )
    assert code == 415
    assert detail.startswith("visit.wav: audio/wav is not accepted by labs")
    assert "pipeline 'dictation'" in detail
    # Declared as a PDF lab report, the bytes give it away at the PUT.
    r = portal.client.post(
        "/api/v1/uploads",
        json={
            "filename": "visit.pdf",
            "content_type": "application/pdf",
            "size": len(dictation_wav),
            "patient_id": "P1",
        },
        headers=api_token(portal, "staff"),
    )
    assert r.status_code == 201
    ticket = r.json()
    put = portal.client.put(ticket["upload_url"], content=dictation_wav, headers=ticket["headers"])
    assert put.status_code == 415
    assert put.json()["detail"] == "visit.pdf: the bytes are not a application/pdf file"
    assert not portal.platform.services.store.exists("raw", ticket["key"])


def test_a_binary_csv_is_refused_at_the_put_and_nothing_is_stored(portal: Portal) -> None:
    data = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    r = portal.client.post(
        "/api/v1/uploads",
        json={
            "filename": "export.csv",
            "content_type": "text/csv",
            "size": len(data),
            "patient_id": "P1",
            "pipeline": "records",
        },
        headers=api_token(portal, "staff"),
    )
    assert r.status_code == 201, r.text
    ticket = r.json()
    put = portal.client.put(ticket["upload_url"], content=data, headers=ticket["headers"])
    assert put.status_code == 415
    assert put.json()["detail"].startswith("export.csv: the bytes are a image/png file, not text")
    nul = b"id,value\n1,\x00\x00\x00\x01\n" * 20
    r = portal.client.post(
        "/api/v1/uploads",
        json={
            "filename": "nul.csv",
            "content_type": "text/csv",
            "size": len(nul),
            "patient_id": "P1",
            "pipeline": "records",
        },
        headers=api_token(portal, "staff"),
    )
    ticket2 = r.json()
    put = portal.client.put(ticket2["upload_url"], content=nul, headers=ticket2["headers"])
    assert put.status_code == 415 and "NUL bytes" in put.json()["detail"]
    for key in (ticket["key"], ticket2["key"]):
        assert not portal.platform.services.store.exists("raw", key)
    assert all(
        d.filename not in {"export.csv", "nul.csv"}
        for d in portal.platform.services.db.documents.list()
    )


def test_a_utf16_csv_with_a_byte_order_mark_is_text(portal: Portal) -> None:
    data = "\ufeffencounter_id,patient_id\nE1,P1\n".encode("utf-16")
    from medflow.web.uploads import check_content

    check_content("export.csv", "records", "text/csv", data)


def test_an_oversized_audio_file_is_refused_by_the_site_and_by_the_dictation_limit(
    portal: Portal, tmp_path: Path
) -> None:
    code, detail = _ticket(
        portal,
        filename="long.mp3",
        content_type="audio/mpeg",
        size=3_000_000,
        pipeline="dictation",
    )
    assert code == 413
    assert detail == "long.mp3: 3000000 bytes is over the 2000000-byte upload limit for dictation"
    # With a generous site limit, the dictation pipeline's own limit (upload_types.yaml) binds.
    with make_portal(tmp_path, every_pipeline(), max_upload_bytes=1 << 40) as big:
        code, detail = _ticket(
            big,
            filename="long.mp3",
            content_type="audio/mpeg",
            size=600 << 20,
            pipeline="dictation",
        )
        assert code == 413
        assert detail.endswith(f"over the {512 << 20}-byte upload limit for dictation")
        code, _ = _ticket(
            big, filename="scan.dcm", content_type="application/dicom", size=600 << 20,
            pipeline="imaging",
        )  # fmt: skip
        assert code == 201  # imaging takes up to 1 GiB
        assert _nothing_stored_under(big, "dictation/")


def test_unknown_or_internal_pipelines_and_wrong_extensions_are_refused(portal: Portal) -> None:
    code, detail = _ticket(
        portal, filename="a.pdf", content_type="application/pdf", size=10, pipeline="x-ray"
    )
    assert code == 400 and "'x-ray'" in detail and "dictation" in detail
    code, _ = _ticket(
        portal,
        filename="a.dcm",
        content_type="application/dicom",
        size=10,
        pipeline="imaging_study",
    )
    assert code == 400
    code, detail = _ticket(
        portal, filename="notes.exe", content_type="text/plain", size=10, pipeline="documents"
    )
    assert code == 415
    assert detail.startswith("notes.exe: a .exe file (text/plain) is not accepted by documents")
    code, detail = _ticket(
        portal, filename="scan.png", content_type="image/png", size=10, pipeline="imaging"
    )
    assert code == 201, detail  # a PNG is a medical image too: a one-image study
