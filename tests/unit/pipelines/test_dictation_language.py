"""Dictation in other languages: the transcript is kept, entities come from English only, and
every output says so; the model and language are chosen by settings, loaded lazily."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from medflow.analyzers.speech import Transcriber
from medflow.pipelines import default_pipelines
from medflow.pipelines.dictation import (
    LazyTranscriber,
    build_pipeline,
    result_key,
    settings_transcriber,
    shared_transcriber,
    transcriber_for,
)
from medflow.platform import Platform, Settings
from medflow.platform.config import DictationSettings

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures" / "audio"))
from speech_testkit import EnergyEngine, tone_bursts


@pytest.fixture
def tones(tmp_path: Path) -> bytes:
    return tone_bursts(tmp_path)


def _platform(tmp_path: Path, engine: EnergyEngine) -> Platform:
    settings = Settings(data_dir=tmp_path, notify={"backend": "memory"})
    lazy = LazyTranscriber(lambda: Transcriber(engine=engine))
    return Platform(settings, pipelines=[build_pipeline(lazy)])


@pytest.fixture
def spanish(tmp_path: Path) -> Iterator[Platform]:
    """A platform whose speech engine hears Spanish in every recording."""
    with _platform(tmp_path, EnergyEngine(language=None, detects=("es", 0.88))) as p:
        yield p


def test_a_spanish_recording_keeps_its_transcript_and_says_why_no_entities(
    spanish: Platform, tones: bytes
) -> None:
    rec = spanish.runner.wait(
        spanish.ingest(tones, "consulta.wav", "dictation", {"patient_id": "P-ES"}), timeout=120
    )
    assert rec.status == "succeeded", rec.error
    doc = rec.document_id
    assert doc is not None
    store = spanish.services.store

    def stored(name: str) -> dict[str, object]:
        return dict(json.loads(store.get("results", result_key(doc, name))))

    transcript = stored("transcript.json")
    assert transcript["language"] == "es" and transcript["language_probability"] == 0.88
    assert transcript["text"], "the transcript is kept as spoken"
    result = stored("result.json")
    assert result["entities"] == [] and result["language_supported"] is False
    note = str(result["warnings"][0])  # type: ignore[index]
    assert "Spanish (es)" in note and "English only" in note
    assert stored("entities.json")["Entities"] == []
    resume = stored("resume.json")
    assert resume["language"] == "es" and resume["notes"] == [note]
    page = store.get("results", result_key(doc, "resume.html")).decode()
    assert "English only" in page and 'lang="es"' in page
    assert "None recorded" not in page, "nothing was looked for, so nothing is 'not recorded'"
    assert rec.state["language"] == "es" and rec.state["entities"] == 0


def test_tiny_en_with_another_language_is_refused_in_the_settings() -> None:
    with pytest.raises(ValidationError, match=r"tiny\.en transcribes English only"):
        DictationSettings(model="tiny.en", language="es")
    with pytest.raises(ValidationError):
        DictationSettings(language="Spanish")  # a code, not a name
    assert DictationSettings(model="base", language="es").language == "es"


def test_the_model_setting_chooses_the_pipeline_transcriber_without_loading_it(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path, dictation={"model": "base", "language": "es"})
    lazy = settings_transcriber(settings)
    assert lazy is not shared_transcriber()
    assert lazy is transcriber_for("base", "es", tmp_path / "models"), "one per process"
    names = {p.name for p in default_pipelines(settings)}
    assert "dictation" in names
    assert not lazy.loaded
    assert not (tmp_path / "models").exists(), "nothing is joined until a dictation runs"
    default = Settings(data_dir=tmp_path)
    assert settings_transcriber(default) is shared_transcriber()
    assert default.speech_models_dir == tmp_path / "models"
