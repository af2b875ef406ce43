"""``medflow demo``, clinical part: the documents and dictation pipelines on bundled samples.

Documents: the synthetic notes of ``medflow/samples/documents`` (a discharge summary and a
referral letter, analysed and summarised for the patient, who is emailed a signed link; a note
in Spanish, quarantined with the reason). Dictation: the espeak-ng dictations of
``medflow/samples/dictation`` and, when Debian's ``pocketsphinx-testdata`` is installed, one real
human LibriVox recording, each with its word error rate against the reference transcript.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

from rich.rule import Rule
from rich.table import Table

from medflow.cli.common import out_console
from medflow.cli.labs import failure_reason
from medflow.platform.config import Settings

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
_LIBRIVOX_CLIP = "sense_and_sensibility_01_austen_64kb-0870"


def _samples(folder: str, suffixes: tuple[str, ...]) -> list[tuple[str, bytes]]:
    root = resources.files("medflow.samples").joinpath(folder)
    return sorted(
        (item.name, item.read_bytes())
        for item in root.iterdir()
        if item.name.endswith(suffixes) and item.name != "README.md"
    )


def run_documents_demo(data_dir: Path) -> None:
    """The documents pipeline on the bundled clinical notes, one of them not in English."""
    from medflow.pipelines import default_pipelines
    from medflow.pipelines.documents import result_key
    from medflow.platform import Platform

    settings = Settings(data_dir=data_dir)
    out_console.print(Rule("documents: clinical notes -> entities, FHIR, patient summary, email"))
    table = Table("file", "entities", "medicines", "conditions (negated)", "grade", "result")
    with Platform(settings, pipelines=default_pipelines(settings)) as platform:
        for i, (name, data) in enumerate(_samples("documents", (".txt", ".docx", ".pdf"))):
            meta = {"patient_id": f"P-N{i + 1:02d}", "patient_email": f"patient{i + 1}@home.test"}
            eid = platform.ingest(data, name, "documents", meta, "text/plain")
            rec = platform.runner.wait(eid, timeout=600)
            if rec.status != "succeeded" or rec.document_id is None:
                table.add_row(
                    name, "", "", "", "", f"[red]quarantined:[/red] {failure_reason(rec)}"
                )
                continue
            raw = platform.services.store.get(
                "results", result_key(rec.document_id, "entities.json")
            )
            entities = json.loads(raw)["Entities"]
            meds = sorted({e["Text"].lower() for e in entities if e["Category"] == "MEDICATION"})
            conditions = [e for e in entities if e["Category"] == "MEDICAL_CONDITION"]
            negated = sum(any(t["Name"] == "NEGATION" for t in e["Traits"]) for e in conditions)
            table.add_row(
                name,
                str(len(entities)),
                ", ".join(meds),
                f"{len(conditions)} ({negated})",
                f"{rec.state.get('grade_level', 0.0):.1f}",
                f"summary emailed to {meta['patient_email']}",
            )
    out_console.print(table)
    out_console.print(
        f"documents results: {data_dir}/objects/results/documents/<document id>/"
        "(entities.json, fhir.json, summary.html)\n"
        f"patient emails:    {data_dir}/outbox/*.eml (a signed link, no clinical content)",
        soft_wrap=True,
    )


def _librivox() -> list[tuple[str, bytes, str]]:
    listing = LIBRIVOX / "transcription"
    wav = LIBRIVOX / f"{_LIBRIVOX_CLIP}.wav"
    if not (listing.is_file() and wav.is_file()):
        return []
    for line in listing.read_text("utf-8").splitlines():
        if _LIBRIVOX_CLIP in line:
            reference = re.sub(r"</?s>|\(.*\)", "", line)
            return [(wav.name, wav.read_bytes(), " ".join(reference.split()))]
    return []


def run_dictation_demo(data_dir: Path) -> None:
    """The dictation pipeline on the bundled dictations (and a real recording when installed)."""
    from medflow.analyzers.speech import word_error_rate
    from medflow.pipelines import default_pipelines
    from medflow.platform import Platform
    from medflow.platform.db.health_records import health_record_repository

    settings = Settings(data_dir=data_dir)
    out_console.print(Rule("dictation: recordings -> transcript, entities, medical resume record"))
    folder = resources.files("medflow.samples").joinpath("dictation")
    refs: dict[str, dict[str, str]] = json.loads(folder.joinpath("dictations.json").read_text())
    clips = [
        (n, d, refs[n]["reference"], refs[n]["patient_id"])
        for n, d in _samples("dictation", (".mp3", ".ogg", ".wav", ".m4a", ".webm"))
    ]
    clips += [(n, d, ref, "P-LIBRIVOX") for n, d, ref in _librivox()]
    table = Table("file", "seconds", "words", "WER", "medications (dose, frequency)", "record")
    with Platform(settings, pipelines=default_pipelines(settings)) as platform:
        records = health_record_repository(platform.services.db)
        for name, data, reference, patient_id in clips:
            eid = platform.ingest(data, name, "dictation", {"patient_id": patient_id})
            rec = platform.runner.wait(eid, timeout=600)
            if rec.status != "succeeded" or rec.document_id is None:
                table.add_row(
                    name, "", "", "", "", f"[red]quarantined:[/red] {failure_reason(rec)}"
                )
                continue
            record = records.get(rec.document_id)
            wer = word_error_rate(reference, record.transcript).wer
            meds = "; ".join(
                f"{m['name']} {m.get('dosage') or ''} {m.get('frequency') or ''}".strip()
                for m in record.resume["medications"]
            )
            table.add_row(
                name,
                f"{rec.state['duration_s']:.1f}",
                str(rec.state["words"]),
                f"{wer:.1%}",
                meds or "-",
                f"{patient_id}: {record.id[:8]}",
            )
    out_console.print(table)
    out_console.print(
        f"dictation results: {data_dir}/objects/results/dictation/<document id>/"
        "(transcript.json, entities.json, fhir.json, resume.html)\n"
        f"health records:    table health_records in {data_dir}/medflow.db",
        soft_wrap=True,
    )
