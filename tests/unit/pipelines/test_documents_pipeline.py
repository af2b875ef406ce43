"""The documents pipeline on the platform: stored outputs, the patient's signed link, bad input."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from email import message_from_string
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import pytest
from fhir.resources.R4B.bundle import Bundle

from medflow.errors import SignatureError
from medflow.pipelines.documents import build_pipeline, result_key
from medflow.platform import Platform, Settings

SAMPLES = Path(str(resources.files("medflow.samples").joinpath("documents")))
META = {"patient_id": "P-11", "patient_name": "Margaret Ellison", "patient_email": "pt@home.test"}


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    settings = Settings(data_dir=tmp_path, notify={"backend": "memory"})
    with Platform(settings, pipelines=[build_pipeline()]) as p:
        yield p


def _run(platform: Platform, data: bytes, name: str, meta: dict[str, str] | None = None) -> str:
    eid = platform.ingest(data, name, "documents", META if meta is None else meta)
    rec = platform.runner.wait(eid, timeout=600)
    assert rec.status == "succeeded", rec.error
    assert rec.document_id is not None
    return rec.document_id


def _quarantined(platform: Platform, data: bytes, name: str) -> dict[str, str]:
    eid = platform.ingest(data, name, "documents", META)
    rec = platform.runner.wait(eid, timeout=600)
    assert rec.status == "quarantined"
    store = platform.services.store
    listed = store.list("quarantine", "documents/")
    keys = [o.key for o in listed if o.key.endswith(".reason.json")]
    assert len(keys) == 1
    reason: dict[str, str] = json.loads(store.get("quarantine", keys[0]))
    assert store.get("quarantine", keys[0].removesuffix(".reason.json")) == data, "original kept"
    assert store.get(rec.event["bucket"], rec.event["key"]) == data, "raw original kept"
    assert platform.services.notifier.sent == []  # type: ignore[attr-defined]
    return reason


def test_a_discharge_summary_gives_entities_fhir_and_a_plain_summary(platform: Platform) -> None:
    doc = _run(platform, (SAMPLES / "discharge-summary.txt").read_bytes(), "discharge.txt")
    store = platform.services.store
    entities = json.loads(store.get("results", result_key(doc, "entities.json")))
    assert {"Entities", "UnmappedAttributes", "ModelVersion"} <= set(entities)
    meds = {e["Text"].lower() for e in entities["Entities"] if e["Category"] == "MEDICATION"}
    assert {"furosemide", "lisinopril", "metformin"} <= meds
    text = store.get("results", result_key(doc, "text.txt")).decode()
    for e in entities["Entities"]:
        assert text[e["BeginOffset"] : e["EndOffset"]] == e["Text"], "offsets index the text"
    chest = next(e for e in entities["Entities"] if e["Text"] == "chest pain")
    assert "NEGATION" in {t["Name"] for t in chest["Traits"]}
    bundle = Bundle.model_validate(json.loads(store.get("results", result_key(doc, "fhir.json"))))
    kinds = {e.resource.get_resource_type() for e in bundle.entry or [] if e.resource}
    assert {"Condition", "MedicationStatement", "AllergyIntolerance"} <= kinds
    page = store.get("results", result_key(doc, "summary.html")).decode()
    assert "Your medicines" in page and "Metformin" in page
    rec = platform.services.db.executions.list(document_id=doc)[0]
    assert rec.state["grade_level"] <= 8.0, "the summary is written at a low reading level"
    assert rec.state["plain_enough"] is True


def test_the_patient_gets_one_email_with_a_signed_expiring_link(platform: Platform) -> None:
    data = (SAMPLES / "referral-letter.txt").read_bytes()
    doc = _run(platform, data, "referral.txt")
    sent = platform.services.db.notifications.list(document_id=doc)
    assert [n.recipient for n in sent] == ["pt@home.test"]
    body = message_from_string(sent[0].payload).get_payload(decode=True)
    assert isinstance(body, bytes)
    assert b"ibuprofen" not in body.lower(), "no clinical content travels by email"
    url = next(w for w in body.decode().split() if "/storage/results/" in w)
    parsed = urlparse(url)
    bucket, key = unquote(parsed.path).removeprefix("/storage/").split("/", 1)
    assert key == result_key(doc, "summary.html")
    query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
    store = platform.services.store
    store.verify_signed(bucket, key, "GET", query["expires"], query["signature"])
    with pytest.raises(SignatureError):
        store.verify_signed(bucket, key, "GET", query["expires"], query["signature"], now=10.0**10)
    # Re-running from the extract step rewrites the outputs and sends no second email.
    execution = platform.services.db.executions.list(document_id=doc)[0]
    platform.runner.retry(execution.id, from_step=1)
    assert platform.runner.wait(execution.id, timeout=600).status == "succeeded"
    assert len(platform.services.db.notifications.list(document_id=doc)) == 1


def test_a_docx_and_a_text_pdf_are_read(platform: Platform) -> None:
    import docx
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    note = "Assessment: atrial fibrillation.\nPlan: start apixaban 5 mg PO BID."
    document = docx.Document()
    for line in note.splitlines():
        document.add_paragraph(line)
    buffer = io.BytesIO()
    document.save(buffer)
    pdf = io.BytesIO()
    page = canvas.Canvas(pdf, pagesize=A4)
    for i, line in enumerate(note.splitlines()):
        page.drawString(72, 760 - 16 * i, line)
    page.save()
    for data, name in ((buffer.getvalue(), "note.docx"), (pdf.getvalue(), "note.pdf")):
        doc = _run(platform, data, name, {"patient_id": "P-12"})
        entities = json.loads(
            platform.services.store.get("results", result_key(doc, "entities.json"))
        )
        apixaban = next(e for e in entities["Entities"] if e["Text"].lower() == "apixaban")
        assert {a["Type"] for a in apixaban["Attributes"]} >= {"DOSAGE", "FREQUENCY"}, name


def test_blank_text_is_quarantined_with_its_reason(platform: Platform) -> None:
    reason = _quarantined(platform, b"   \n\n \t \n", "blank.txt")
    assert reason["error"] == "EmptyInputError"
    assert "empty" in reason["reason"]


def test_binary_garbage_is_quarantined_with_its_reason(platform: Platform) -> None:
    garbage = bytes(range(256)) * 8
    reason = _quarantined(platform, garbage, "scan.txt")
    assert reason["error"] == "UnsupportedFileError"
    assert "binary" in reason["reason"]


def test_text_in_another_language_is_quarantined_saying_what_was_not_done(
    platform: Platform,
) -> None:
    data = (SAMPLES / "clinic-note-spanish.txt").read_bytes()
    reason = _quarantined(platform, data, "nota.txt")
    assert reason["error"] == "UnsupportedFileError"
    assert "English only" in reason["reason"] and "(es)" in reason["reason"]
