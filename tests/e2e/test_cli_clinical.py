"""``medflow extract``, ``transcribe`` and ``analyze`` on clinical files, end to end."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle

from tests.e2e.conftest import run_medflow

pytestmark = pytest.mark.e2e

DOCUMENTS = Path(str(resources.files("medflow.samples").joinpath("documents")))
DICTATION = Path(str(resources.files("medflow.samples").joinpath("dictation")))


def test_extract_prints_the_entities_table(tmp_path: Path) -> None:
    done = run_medflow(["extract", str(DOCUMENTS / "discharge-summary.txt")], tmp_path)
    assert done.returncode == 0, done.stderr
    for header in ("category", "type", "traits", "attributes", "codes"):
        assert header in done.stdout
    assert "Furosemide" in done.stdout and "DOSAGE=40 mg" in done.stdout
    assert "NEGATION" in done.stdout and "ICD-10-CM I50" in done.stdout


def test_extract_comprehend_json_has_exact_offsets(tmp_path: Path) -> None:
    note = DOCUMENTS / "referral-letter.txt"
    done = run_medflow(["extract", str(note), "--format", "comprehend"], tmp_path)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    text = note.read_text("utf-8")
    assert out["ModelVersion"] and out["Entities"]
    for e in out["Entities"]:
        assert text[e["BeginOffset"] : e["EndOffset"]] == e["Text"]
    omeprazole = next(e for e in out["Entities"] if e["Text"] == "Omeprazole")
    assert {a["Type"] for a in omeprazole["Attributes"]} >= {"DOSAGE", "ROUTE_OR_MODE"}


def test_extract_fhir_is_a_valid_bundle_for_the_patient(tmp_path: Path) -> None:
    note = DOCUMENTS / "discharge-summary.txt"
    done = run_medflow(["extract", str(note), "-f", "fhir", "--patient-id", "P-9"], tmp_path)
    assert done.returncode == 0, done.stderr
    bundle = Bundle.model_validate(json.loads(done.stdout))
    assert bundle.entry
    assert all(
        e.resource.subject.reference == "Patient/P-9"  # type: ignore[union-attr]
        for e in bundle.entry
        if e.resource.get_resource_type() == "Condition"  # type: ignore[union-attr]
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "empty"), (b"\x00\x01\x02\xff" * 300, "binary data")],
)
def test_extract_refuses_bad_input_in_one_line(
    tmp_path: Path, content: bytes, message: str
) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(content)
    done = run_medflow(["extract", str(bad)], tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("medflow: bad.txt:") and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and done.stdout == ""


def test_transcribe_json_has_words_with_timings_and_confidence(tmp_path: Path) -> None:
    done = run_medflow(
        [
            "transcribe",
            str(DICTATION / "dict02_afib.ogg"),
            "--format",
            "json",
            "--vocabulary",
            "apixaban,metoprolol,furosemide",
        ],
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert "metabolic panel" in out["text"].lower()
    assert out["vocabulary_hints"][:3] == ["apixaban", "metoprolol", "furosemide"]
    assert out["words"] and {"text", "start", "end", "confidence"} <= set(out["words"][0])
    starts = [w["start"] for w in out["words"]]
    assert starts == sorted(starts)


def test_transcribe_refuses_a_file_that_is_not_audio(tmp_path: Path) -> None:
    fake = tmp_path / "visit.mp3"
    fake.write_text("not a recording\n" * 50)
    done = run_medflow(["transcribe", str(fake)], tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("medflow: visit.mp3:")
    assert len(done.stderr.strip().splitlines()) == 1


def test_analyze_routes_a_text_note_to_the_documents_pipeline(tmp_path: Path) -> None:
    note = DOCUMENTS / "referral-letter.txt"
    done = run_medflow(["analyze", str(note), "--patient-id", "P-5"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Omeprazole" in done.stdout and "summary.html" in done.stdout
    stored = list((tmp_path / "objects" / "results" / "documents").glob("*/entities.json"))
    assert stored
    doc_id = stored[0].parent.name
    page = run_medflow(["results", doc_id, "--format", "html"], tmp_path)
    assert page.returncode == 0, page.stderr
    assert "omeprazole" in page.stdout.lower()


def test_analyze_routes_a_recording_to_the_dictation_pipeline(tmp_path: Path) -> None:
    audio = DICTATION / "dict01_htn_dm.mp3"
    done = run_medflow(["analyze", str(audio), "--patient-id", "P-6", "-f", "json"], tmp_path)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert "hypertension" in out["transcript"]["text"].lower()
    assert out["resume"]["patient"]["id"] == "P-6"
    assert any(m["name"].lower() == "lisinopril" for m in out["resume"]["medications"])
    assert out["entities"]["Entities"]
