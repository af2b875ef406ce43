"""``medflow extract`` (clinical entities of a note) and ``medflow transcribe`` (a recording).

Both run the analyzers directly, without the platform: nothing is stored, output goes to stdout
(tables for people, JSON for programs), a bad input is one line on stderr and exit status 2.
``extract --format comprehend`` prints what AWS Comprehend Medical's DetectEntitiesV2 returns, so
code written against AWS reads it unchanged.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from medflow.cli.common import (
    EXIT_FAILED,
    err_console,
    fail,
    load_settings,
    out_console,
    quiet_logging,
)
from medflow.errors import ConfigError, InputError, MedflowError

if TYPE_CHECKING:
    from medflow.domain.clinical import ClinicalResult, Entity
    from medflow.domain.speech import Transcript

MAX_INPUT_BYTES = 100 * 1024 * 1024


class ExtractFormat(StrEnum):
    """Output formats of ``medflow extract``."""

    TABLE = "table"
    COMPREHEND = "comprehend"
    FHIR = "fhir"


class TranscribeFormat(StrEnum):
    """Output formats of ``medflow transcribe``."""

    TEXT = "text"
    JSON = "json"


def _read(path: Path) -> bytes:
    if not path.is_file():
        fail(f"{path}: no such file")
    size = path.stat().st_size
    if size > MAX_INPUT_BYTES:
        fail(f"{path.name}: {size} bytes is over the {MAX_INPUT_BYTES}-byte limit")
    return path.read_bytes()


def _codes(e: Entity) -> str:
    codes = [f"ICD-10-CM {c.code}" for c in e.icd10cm[:1]]
    codes += [f"RxNorm {c.code}" for c in e.rxnorm[:1]]
    return ", ".join(codes)


def entities_table(result: ClinicalResult, title: str) -> Table:
    """Every entity: category, type, text, traits, linked attributes, codes and section.

    Args:
        result: the extraction result.
        title: the table's title (the file's name).

    Returns:
        A rich table; negated entities are shown struck through.
    """
    table = Table(
        "category", "type", "text", "traits", "attributes", "codes", "section", title=title
    )
    for e in result.entities:
        traits = ", ".join(t.name for t in e.traits)
        attributes = "; ".join(f"{a.type}={a.text}" for a in e.attributes)
        style = "strike dim" if e.has_trait("NEGATION") else None
        table.add_row(
            e.category, e.type, e.text, traits, attributes, _codes(e), e.section or "", style=style
        )
    return table


def extract_text(data: bytes, filename: str) -> tuple[str, ClinicalResult]:
    """The text of a PDF, DOCX or text file and its extraction result.

    Raises:
        InputError: unreadable input, or text that is not English.
    """
    from medflow.errors import UnsupportedFileError
    from medflow.pipelines.document_text import read_document_text
    from medflow.pipelines.documents import clinical_extractor

    text = read_document_text(data, filename).text
    result = clinical_extractor().extract(text, filename)
    if not result.language_supported:
        raise UnsupportedFileError(filename, "; ".join(result.warnings))
    return text, result


def extract(
    file: Annotated[Path, typer.Argument(help="A clinical note: PDF, DOCX or UTF-8 text.")],
    output_format: Annotated[
        ExtractFormat,
        typer.Option("--format", "-f", help="table, comprehend (AWS JSON) or fhir (R4 Bundle)."),
    ] = ExtractFormat.TABLE,
    patient_id: Annotated[str, typer.Option(help="Patient id for the FHIR Bundle.")] = "unknown",
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress.")] = False,
) -> None:
    """Find clinical entities (medications with dose/route/frequency, conditions, tests,
    anatomy, PHI) with traits (negation, history, family) and ICD-10-CM / RxNorm codes."""
    quiet_logging(verbose)
    data = _read(file)
    try:
        text, result = extract_text(data, file.name)
    except InputError as exc:
        fail(str(exc))
    if output_format is ExtractFormat.TABLE:
        out_console.print(entities_table(result, file.name))
        for warning in result.warnings:
            err_console.print(f"medflow: {file.name}: {warning}", markup=False)
    elif output_format is ExtractFormat.COMPREHEND:
        from medflow.analyzers.clinical import to_comprehend

        print(json.dumps(to_comprehend(result), indent=2))
    else:
        from medflow.reports.fhir_clinical import clinical_bundle

        print(json.dumps(clinical_bundle(result, patient_id, text), indent=2))


def run_transcription(
    data: bytes,
    filename: str,
    vocabulary: list[str] | None,
    model: str | Path | None = None,
    language: str = "auto",
    models_dir: Path = Path("medflow-data/models"),
) -> Transcript:
    """Transcribe with a progress bar on stderr.

    Args:
        data: the recording's bytes.
        filename: its name, for messages.
        vocabulary: terms to favour, or None for the bundled list.
        model: ``tiny.en`` (default, bundled), ``base`` (the speech-base extra) or a folder.
        language: ``auto`` or an ISO 639-1 code.
        models_dir: where packaged models are joined.

    Raises:
        InputError: not audio, corrupt, silent, too short or too long.
        MedflowError: the speech extra or ffmpeg is missing, the model is unknown, damaged or
            cannot transcribe ``language``.
    """
    from medflow.pipelines.dictation import transcriber_for

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,  # no bar (nor its blank line) in logs and pipes
    ) as progress:
        task = progress.add_task("loading the speech model", total=1.0)
        lazy = transcriber_for(str(model or "tiny.en"), language, models_dir)
        return lazy.get().transcribe(
            data,
            filename,
            vocabulary=vocabulary,
            on_progress=lambda f, m: progress.update(task, completed=f, description=m),
        )


def transcribe(
    audio: Annotated[Path, typer.Argument(help="A recording: wav, mp3, m4a, ogg, webm.")],
    output_format: Annotated[
        TranscribeFormat,
        typer.Option("--format", "-f", help="text, or json (words with timings, confidence)."),
    ] = TranscribeFormat.TEXT,
    vocabulary: Annotated[
        str | None, typer.Option(help="Comma-separated terms to favour (drug names ...).")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="tiny.en (bundled, English only), base (multilingual: the speech-base extra) "
            "or a CTranslate2 Whisper model folder. Default: the dictation.model setting."
        ),
    ] = None,
    language: Annotated[
        str | None,
        typer.Option(
            help="auto (detected; English for tiny.en) or an ISO 639-1 code (en, es, pt, hi "
            "...). Default: the dictation.language setting."
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress.")] = False,
) -> None:
    """Transcribe a dictation offline (Whisper tiny.en bundled, medical vocabulary hints)."""
    from medflow.analyzers.speech.errors import LanguageNotSupportedError, ModelIntegrityError

    quiet_logging(verbose)
    data = _read(audio)
    settings = load_settings()
    chosen = model or settings.dictation.model
    # The language setting goes with the model setting; a model named here starts from auto.
    spoken = language or (settings.dictation.language if model is None else "auto")
    terms = [t.strip() for t in (vocabulary or "").split(",") if t.strip()] or None
    try:
        transcript = run_transcription(
            data, audio.name, terms, chosen, spoken, settings.speech_models_dir
        )
    except InputError as exc:
        fail(str(exc))
    except ModelIntegrityError as exc:
        fail(str(exc), EXIT_FAILED)
    except (LanguageNotSupportedError, ConfigError) as exc:
        fail(str(exc))  # the options asked for what cannot be done: bad input
    except MedflowError as exc:
        fail(str(exc), EXIT_FAILED)
    for warning in transcript.warnings:
        err_console.print(f"medflow: {audio.name}: {warning}", markup=False)
    if output_format is TranscribeFormat.JSON:
        from medflow.analyzers.speech import to_json

        payload = to_json(transcript)
        if transcript.language != "en":
            from medflow.pipelines.dictation import non_english_note

            payload["notes"] = [non_english_note(transcript.language)]
        print(json.dumps(payload, indent=2))
    else:
        print(transcript.text)
