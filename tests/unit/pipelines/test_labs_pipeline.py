"""The labs pipeline on the platform: stored results, history, idempotence, email, narration."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_string
from importlib import resources
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle

from medflow.pipelines.labs import build_pipeline, load_report_for_document, result_key
from medflow.platform import Platform, Settings
from medflow.platform.db import Observation

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures" / "llm"))
from chat_server import ChatServer, running_chat_server

SAMPLES = Path(str(resources.files("medflow.samples").joinpath("labs")))
META = {"patient_id": "P-7", "patient_name": "Ada Lovelace", "sex": "female", "age": "39"}


def _settings(tmp_path: Path, **extra: object) -> Settings:
    return Settings(data_dir=tmp_path, notify={"backend": "memory"}, **extra)  # type: ignore[arg-type]


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    with Platform(_settings(tmp_path), pipelines=[build_pipeline()]) as p:
        yield p


def _run(platform: Platform, name: str, meta: dict[str, str], data: bytes | None = None) -> str:
    data = data if data is not None else (SAMPLES / name).read_bytes()
    eid = platform.ingest(data, name, "labs", meta, "application/pdf")
    rec = platform.runner.wait(eid, timeout=300)
    assert rec.status == "succeeded", rec.error
    assert rec.document_id is not None
    return rec.document_id


def test_results_are_stored_as_rows_json_fhir_and_html(platform: Platform) -> None:
    doc = _run(platform, "india-lab.pdf", META)
    store, db = platform.services.store, platform.services.db
    report = load_report_for_document(store, doc)
    rows = db.results.observations(document_id=doc)
    assert [r.loinc for r in rows] == [r.loinc for r in report.results]
    assert all(r.patient_id == "P-7" for r in rows)
    critical = [r for r in rows if r.significance == "critical"]
    assert critical, "the sample carries a critical platelet count"
    assert db.results.findings(doc), "findings are stored with their evidence"
    bundle = Bundle.model_validate(json.loads(store.get("results", result_key(doc, "fhir.json"))))
    assert bundle.type == "collection"
    html = store.get("results", result_key(doc, "report.html")).decode()
    assert "<svg" in html and "Platelet" in html
    assert db.documents.get(doc).status == "processed"


def test_the_doctor_is_emailed_once_with_critical_values_first(platform: Platform) -> None:
    meta = {**META, "doctor_email": "dr.who@clinic.example"}
    doc = _run(platform, "india-lab.pdf", meta)
    sent = platform.services.db.notifications.list(document_id=doc)
    assert len(sent) == 1
    assert sent[0].recipient == "dr.who@clinic.example"
    assert sent[0].subject.startswith("CRITICAL")
    assert "Ada" not in sent[0].subject, "no patient name in the subject line"
    body = message_from_string(sent[0].payload).get_payload()[0].get_payload(decode=True)
    assert f"/reports/{doc}".encode() in body, "the email links to the report page"
    # The same bytes again: deduplicated, no second execution and no second email.
    again = platform.ingest((SAMPLES / "india-lab.pdf").read_bytes(), "india-lab.pdf", "labs", meta)
    platform.runner.wait(again, timeout=60)
    assert len(platform.services.db.notifications.list(document_id=doc)) == 1


def test_rerunning_the_publish_step_rewrites_rather_than_duplicates(platform: Platform) -> None:
    doc = _run(platform, "us-reference-lab.pdf", META)
    db = platform.services.db
    before = len(db.results.observations(document_id=doc))
    execution = db.executions.list(document_id=doc)[0]
    platform.runner.retry(execution.id, from_step=2)
    platform.runner.wait(execution.id, timeout=120)
    assert len(db.results.observations(document_id=doc)) == before


def test_earlier_reports_of_the_patient_feed_the_trends(platform: Platform) -> None:
    db = platform.services.db
    # An earlier report of the same patient, as an earlier run would have stored it:
    # hemoglobin 3 g/dL higher and creatinine 0.5 mg/dL lower, two days before.
    earlier, _ = db.documents.get_or_create(
        bucket="raw",
        key="labs/earlier/old.pdf",
        sha256="0" * 64,
        size=1,
        pipeline="labs",
        patient_id="P-7",
    )
    taken = datetime(2026, 6, 8, 8, 0, tzinfo=UTC)
    pdf = (SAMPLES / "india-lab.pdf").read_bytes()
    probe = _run(platform, "probe.pdf", {**META, "patient_id": "P-probe"}, pdf)
    hb = next(
        r
        for r in load_report_for_document(platform.services.store, probe).results
        if r.test_id == "hemoglobin"
    )
    assert hb.value is not None
    db.results.replace_observations(
        earlier.id,
        [
            Observation(
                name="Hemoglobin",
                value=hb.value + 3.0,
                unit=hb.unit,
                test_id="hemoglobin",
                loinc="718-7",
                collected_at=taken,
            )
        ],
        patient_id="P-7",
    )
    meta = {**META, "collected_at": "2026-06-10T08:00:00+00:00"}
    doc = _run(platform, "india-lab.pdf", meta, pdf + b"\n% second copy\n")
    report = load_report_for_document(platform.services.store, doc)
    trend = next(t for t in report.summary.trends if t.test_id == "hemoglobin")
    assert trend.change == pytest.approx(-3.0, abs=0.01)


def test_an_llm_narration_is_added_only_when_its_numbers_are_in_the_input(
    tmp_path: Path,
) -> None:
    with running_chat_server() as server:
        llm = {"provider": "openai", "endpoint": server.url, "model": "local-test"}
        settings = _settings(tmp_path, llm=llm)
        with Platform(settings, pipelines=[build_pipeline()]) as platform:
            _check_narration(platform, server)


def _check_narration(platform: Platform, server: ChatServer) -> None:
    server.reply("The platelet count is markedly raised and needs prompt review.")
    server.reply("The platelet count is 9999, which is alarming.")
    good = _run(platform, "india-lab.pdf", META)
    bad = _run(platform, "uk-nhs-lab.pdf", META)
    store = platform.services.store
    assert load_report_for_document(store, good).summary.narrative is not None
    assert load_report_for_document(store, bad).summary.narrative is None, "invented number"
    prompts = json.dumps([r.body for r in server.received])
    assert "Ada" not in prompts and "Lovelace" not in prompts, "the LLM never sees the name"


def test_collection_date_printed_on_the_report_is_used(platform: Platform) -> None:
    doc = _run(platform, "uk-nhs-lab.pdf", META)
    report = load_report_for_document(platform.services.store, doc)
    assert report.collected_at is not None
    assert report.collected_at.date().isoformat() == "2026-08-03"  # printed on the sample
    assert report.lab_name


def test_collection_date_given_at_upload_wins(platform: Platform) -> None:
    meta = {**META, "collected_at": "2026-09-01T07:30:00+00:00"}
    doc = _run(platform, "uk-nhs-lab.pdf", meta)
    report = load_report_for_document(platform.services.store, doc)
    assert report.collected_at == datetime(2026, 9, 1, 7, 30, tzinfo=UTC)


def test_an_upload_without_sex_or_name_never_erases_what_is_known(platform: Platform) -> None:
    _run(platform, "india-lab.pdf", META)
    patients = platform.services.db.patients
    assert (patients.get("P-7").sex, patients.get("P-7").name) == ("female", "Ada Lovelace")
    # A later report of the same patient uploaded with only the id: sex unknown, no name.
    _run(platform, "us-reference-lab.pdf", {"patient_id": "P-7"})
    after = patients.get("P-7")
    assert (after.sex, after.name) == ("female", "Ada Lovelace")
    # A known value still updates.
    _run(platform, "uk-nhs-lab.pdf", {"patient_id": "P-7", "sex": "male", "patient_name": "A. L."})
    assert (patients.get("P-7").sex, patients.get("P-7").name) == ("male", "A. L.")


def test_values_held_for_review_feed_no_trend(platform: Platform) -> None:
    db = platform.services.db
    earlier, _ = db.documents.get_or_create(
        bucket="raw",
        key="labs/held/old.pdf",
        sha256="1" * 64,
        size=1,
        pipeline="labs",
        patient_id="P-7",
    )
    taken = datetime(2026, 6, 8, 8, 0, tzinfo=UTC)
    db.results.replace_observations(
        earlier.id,
        [
            Observation(
                name="Hemoglobin",
                value=135.0,
                unit="g/dL",
                test_id="hemoglobin",
                loinc="718-7",
                significance="review",
                collected_at=taken,
            ),
            Observation(
                name="Sodium",
                value=139.0,
                unit="mmol/L",
                test_id="sodium",
                loinc="2951-2",
                significance="normal",
                collected_at=taken,
            ),
        ],
        patient_id="P-7",
    )
    from medflow.domain import PatientInfo
    from medflow.pipelines.labs import history_for

    history = history_for(db, PatientInfo(patient_id="P-7"), "another-document")
    assert [h.test_id for h in history] == ["sodium"]


def test_reanalysing_the_same_bytes_for_other_patient_details_reinterprets(
    platform: Platform,
) -> None:
    from medflow.pipelines.labs import patient_changes, reinterpret_execution

    doc = _run(platform, "india-lab.pdf", META)
    stored = load_report_for_document(platform.services.store, doc)
    again = {**META, "sex": "male", "age": "70"}
    eid = platform.ingest((SAMPLES / "india-lab.pdf").read_bytes(), "india-lab.pdf", "labs", again)
    rec = platform.runner.wait(eid, timeout=60)
    assert rec.document_id == doc, "the same bytes are the same stored document"
    assert patient_changes(rec.event["metadata"], again) == ["sex", "age"]
    assert patient_changes(rec.event["metadata"], META) == []
    fresh = reinterpret_execution(platform.services.settings, platform.services.db, rec, again)
    assert (fresh.patient.sex.value, fresh.patient.age) == ("male", 70.0)
    assert [r.test_id for r in fresh.results] == [r.test_id for r in stored.results]
    hb_old = next(r for r in stored.results if r.test_id == "hemoglobin")
    hb_new = next(r for r in fresh.results if r.test_id == "hemoglobin")
    if hb_old.reference_range is not None and hb_old.reference_range.source != "report":
        assert hb_new.reference_range != hb_old.reference_range
    # the stored result is unchanged
    assert load_report_for_document(platform.services.store, doc) == stored
