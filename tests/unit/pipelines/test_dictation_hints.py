"""Which vocabulary hints a recording gets: the upload's, else the patient's earlier records."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from medflow.analyzers.speech import Transcriber
from medflow.pipelines.dictation import (
    PATIENT_TERMS,
    LazyTranscriber,
    build_pipeline,
    patient_vocabulary,
)
from medflow.platform import Platform, Settings
from medflow.platform.db.health_records import HealthRecord, health_record_repository

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures" / "audio"))
from speech_testkit import EnergyEngine, tone_bursts

EARLIER_RESUME: dict[str, Any] = {
    "medications": [
        {"name": "dabigatran", "negated": False},
        {"name": "metoprolol", "negated": False},
        {"name": "warfarin", "negated": True},  # "no longer on warfarin"
    ],
    "allergies": [{"substance": "penicillin"}],
    "conditions": [
        {"text": "atrial fibrillation", "negated": False},
        {"text": "stroke", "negated": True},
    ],
}


def _record(document_id: str, resume: dict[str, Any], age_days: int) -> HealthRecord:
    when = datetime(2026, 11, 1, tzinfo=UTC) - timedelta(days=age_days)
    return HealthRecord(
        id=f"r-{document_id}",
        document_id=document_id,
        patient_id="P-7",
        kind="dictation",
        title="visit",
        transcript="",
        resume=resume,
        html_key="",
        created_at=when,
        updated_at=when,
    )


def test_patient_terms_are_newest_first_without_negated_findings_or_this_recording() -> None:
    older = _record("doc-old", {"medications": [{"name": "lisinopril"}]}, age_days=300)
    newer = _record("doc-new", EARLIER_RESUME, age_days=10)
    itself = _record("doc-this", {"medications": [{"name": "apixaban"}]}, age_days=0)
    terms = patient_vocabulary([older, itself, newer], "doc-this")
    assert terms == [
        "dabigatran",
        "metoprolol",
        "penicillin",
        "atrial fibrillation",
        "lisinopril",
    ]


def test_patient_terms_are_capped_and_unique() -> None:
    meds = [{"name": f"drug{i}"} for i in range(PATIENT_TERMS + 10)]
    twice = [_record("a", {"medications": meds}, 1), _record("b", {"medications": meds}, 2)]
    terms = patient_vocabulary(twice, "new")
    assert len(terms) == PATIENT_TERMS
    assert len(set(terms)) == len(terms)


@pytest.fixture
def engine() -> EnergyEngine:
    return EnergyEngine()


@pytest.fixture
def platform(tmp_path: Path, engine: EnergyEngine) -> Iterator[Platform]:
    settings = Settings(data_dir=tmp_path, notify={"backend": "memory"})
    lazy = LazyTranscriber(lambda: Transcriber(engine=engine))
    with Platform(settings, pipelines=[build_pipeline(lazy)]) as p:
        yield p


@pytest.fixture
def tones(tmp_path: Path) -> bytes:
    return tone_bursts(tmp_path)


def _seed_earlier_visit(platform: Platform) -> None:
    """P-7's earlier dictation, as the record step would have stored it."""
    health_record_repository(platform.services.db).upsert(
        "doc-earlier",
        "P-7",
        kind="dictation",
        title="visit",
        transcript="",
        resume=EARLIER_RESUME,
        html_key="",
    )


def _hints_of_run(
    platform: Platform, engine: EnergyEngine, data: bytes, meta: dict[str, str]
) -> tuple[str, ...]:
    engine.calls.clear()
    rec = platform.runner.wait(platform.ingest(data, "visit.wav", "dictation", meta), timeout=120)
    assert rec.status == "succeeded", rec.error
    final = [hints for draft, hints, _s in engine.calls if not draft]
    assert final
    return final[0]


def test_a_returning_patient_s_recording_is_hinted_with_their_earlier_lists(
    platform: Platform, engine: EnergyEngine, tones: bytes
) -> None:
    _seed_earlier_visit(platform)
    hints = _hints_of_run(platform, engine, tones, {"patient_id": "P-7"})
    assert hints[:4] == ("dabigatran", "metoprolol", "penicillin", "atrial fibrillation")
    assert "warfarin" not in hints and "stroke" not in hints
    # A new patient gets the bundled prior (the most prescribed drugs), not P-7's lists.
    # (Two trailing bytes make it a new upload: the same bytes would be recognised as done.)
    prior = _hints_of_run(platform, engine, tones + b"\0\0", {"patient_id": "P-NEW"})
    assert "dabigatran" not in prior and prior[0] == "atorvastatin"


def test_the_upload_s_own_vocabulary_wins_over_the_patient_s_records(
    platform: Platform, engine: EnergyEngine, tones: bytes
) -> None:
    _seed_earlier_visit(platform)
    meta = {"patient_id": "P-7", "vocabulary": "sacubitril, valsartan"}
    assert _hints_of_run(platform, engine, tones, meta) == ("sacubitril", "valsartan")
