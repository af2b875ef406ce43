"""The dictation pipeline on the platform: transcript, resume, health record, bad audio.

Uses the real Whisper tiny.en model (loaded once for the module, ~1-3 s) on a bundled espeak-ng
dictation; the bad-audio cases are refused before any decoding by the model.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path

import pytest

from medflow.analyzers.speech import Transcriber
from medflow.pipelines.dictation import LazyTranscriber, build_pipeline, result_key
from medflow.platform import Platform, Settings
from medflow.platform.db.health_records import health_record_repository

SAMPLES = Path(str(resources.files("medflow.samples").joinpath("dictation")))
META = {"patient_id": "P-D01", "patient_name": "Test Patient"}

pytestmark = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("ffmpeg", "ffprobe", "sox")),
    reason="ffmpeg and sox are needed to decode and make test audio",
)


@pytest.fixture(scope="module")
def transcriber() -> LazyTranscriber:
    """One Whisper transcriber for the module (the model loads on first use)."""
    return LazyTranscriber()


@pytest.fixture
def platform(tmp_path: Path, transcriber: LazyTranscriber) -> Iterator[Platform]:
    settings = Settings(data_dir=tmp_path, notify={"backend": "memory"})
    with Platform(settings, pipelines=[build_pipeline(transcriber)]) as p:
        yield p


def _sox(tmp_path: Path, name: str, effects: Sequence[str]) -> bytes:
    out = tmp_path / name
    subprocess.run(
        ["sox", "-n", "-r", "16000", "-c", "1", "-b", "16", str(out), *effects],
        check=True,
        capture_output=True,
    )
    return out.read_bytes()


def _quarantined(platform: Platform, data: bytes, name: str) -> dict[str, str]:
    eid = platform.ingest(data, name, "dictation", META)
    rec = platform.runner.wait(eid, timeout=600)
    assert rec.status == "quarantined"
    store = platform.services.store
    keys = [o.key for o in store.list("quarantine", "dictation/") if o.key.endswith(".reason.json")]
    assert len(keys) == 1
    assert store.get("quarantine", keys[0].removesuffix(".reason.json")) == data, "original kept"
    reason: dict[str, str] = json.loads(store.get("quarantine", keys[0]))
    assert reason["step"] == "transcribe"
    assert health_record_repository(platform.services.db).list_by_patient("P-D01") == []
    return reason


def test_a_dictation_becomes_a_resume_record_queryable_by_patient(platform: Platform) -> None:
    data = (SAMPLES / "dict01_htn_dm.mp3").read_bytes()
    eid = platform.ingest(data, "visit.mp3", "dictation", META, "audio/mpeg")
    rec = platform.runner.wait(eid, timeout=600)
    assert rec.status == "succeeded", rec.error
    doc = rec.document_id
    assert doc is not None
    store = platform.services.store
    transcript = json.loads(store.get("results", result_key(doc, "transcript.json")))
    assert "metformin" in transcript["text"].lower()
    words = transcript["words"]
    assert words and all(0 <= w["start"] <= w["end"] and 0 <= w["confidence"] <= 1 for w in words)
    records = health_record_repository(platform.services.db).list_by_patient("P-D01")
    assert [r.document_id for r in records] == [doc]
    resume = records[0].resume
    assert (resume["language"], resume["notes"]) == ("en", []), "English: no language note"
    metformin = next(m for m in resume["medications"] if m["name"].lower() == "metformin")
    assert metformin["dosage"] and "500" in metformin["dosage"]
    assert metformin["frequency"] and "daily" in metformin["frequency"]
    negated = {s["text"] for s in resume["symptoms"] if s["negated"]}
    assert "chest pain" in negated, "denied symptoms are kept, marked negated"
    # Whisper writes "Follow up in three months" or "follow up in 3 months": both are the plan.
    assert any(re.search(r"follow up in (three|3) months", p, re.I) for p in resume["plan"])
    html = store.get("results", records[0].html_key).decode()
    assert "negated" in html and "metformin" in html.lower()
    entities = json.loads(store.get("results", result_key(doc, "entities.json")))
    assert entities["Entities"], "Comprehend-shaped entities are stored too"
    # Re-running the extract and record steps updates the one record.
    platform.runner.retry(eid, from_step=1)
    assert platform.runner.wait(eid, timeout=600).status == "succeeded"
    again = health_record_repository(platform.services.db).list_by_patient("P-D01")
    assert [(r.id, r.document_id) for r in again] == [(records[0].id, doc)]
    assert health_record_repository(platform.services.db).list_by_patient("someone-else") == []


def test_silent_audio_is_quarantined(platform: Platform, tmp_path: Path) -> None:
    reason = _quarantined(platform, _sox(tmp_path, "s.wav", ["trim", "0", "3"]), "quiet.wav")
    assert reason["error"] == "SilentAudioError"


def test_too_short_audio_is_quarantined(platform: Platform, tmp_path: Path) -> None:
    tone = _sox(tmp_path, "t.wav", ["synth", "0.2", "sine", "440"])
    reason = _quarantined(platform, tone, "blip.wav")
    assert reason["error"] == "AudioTooShortError"


def test_corrupt_audio_is_quarantined(platform: Platform, tmp_path: Path) -> None:
    wav = _sox(tmp_path, "c.wav", ["synth", "4", "sine", "440"])
    reason = _quarantined(platform, wav[: len(wav) // 3], "cut.wav")
    assert reason["error"] == "TruncatedAudioError"


def test_a_file_that_is_not_audio_is_quarantined(platform: Platform) -> None:
    reason = _quarantined(platform, b"Patient notes, not a recording.\n" * 20, "notes.mp3")
    assert reason["error"] == "NotAudioError"
    assert "notes.mp3" in reason["reason"]


def test_registering_the_pipelines_loads_no_speech_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from medflow.pipelines import default_pipelines, dictation

    def no_model() -> Transcriber:
        raise AssertionError("the speech model was loaded while registering pipelines")

    # A fresh process-wide transcriber: an earlier test in this process may have loaded the
    # real one by running a dictation.
    monkeypatch.setattr(dictation, "_shared", LazyTranscriber(no_model))
    names = {p.name for p in default_pipelines(Settings(data_dir=tmp_path))}
    assert {"documents", "dictation"} <= names
    assert not dictation.shared_transcriber().loaded, "the model loads when a dictation first runs"
