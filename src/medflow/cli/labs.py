"""``medflow analyze``: lab reports (and, by file type, other documents) through their pipeline.

The file goes through the same pipeline as an upload: the original is kept in the raw bucket,
results land in the results bucket and the database, the doctor is emailed (outbox by default),
and a bad file is quarantined with its reason and reported as one line on stderr (exit 2).
"""

from __future__ import annotations

import json
import mimetypes
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from medflow.cli.common import (
    EXIT_BAD_INPUT,
    err_console,
    fail,
    load_settings,
    out_console,
    quiet_logging,
)
from medflow.cli.render import print_lab_report
from medflow.errors import InputError
from medflow.platform.db import ExecutionRecord

if TYPE_CHECKING:
    from medflow.domain import LabReport
    from medflow.platform.config import Settings
    from medflow.platform.storage import ObjectStore


class AnalyzeFormat(StrEnum):
    """Output formats of ``medflow analyze``."""

    TABLE = "table"
    JSON = "json"
    FHIR = "fhir"


LAB_SUFFIXES = {".pdf"}
DOCUMENT_SUFFIXES = {".txt", ".text", ".docx", ".md"}
AUDIO_SUFFIXES = {".wav", ".mp3", ".m4a", ".ogg", ".oga", ".opus", ".webm", ".flac"}
#: File types another command handles, and that command (named in the error).
OTHER_COMMANDS = {
    ".dcm": "medflow imaging analyze",
    ".dicom": "medflow imaging analyze",
    ".png": "medflow imaging analyze",
    ".jpg": "medflow imaging analyze",
    ".jpeg": "medflow imaging analyze",
    ".csv": "medflow records check",
}


class PipelineChoice(StrEnum):
    """Pipelines ``medflow analyze --pipeline`` may name (default: chosen by file type)."""

    LABS = "labs"
    DOCUMENTS = "documents"
    DICTATION = "dictation"


def pipeline_for(path: Path, choice: PipelineChoice | None = None) -> str:
    """The pipeline a file goes to: ``choice`` when given, else by its type.

    PDFs go to ``labs`` unless ``--pipeline documents`` says the PDF is a clinical document;
    text and DOCX go to ``documents``; recordings go to ``dictation``.
    """
    if choice is not None:
        return choice.value
    suffix = path.suffix.lower()
    if suffix in LAB_SUFFIXES:
        return "labs"
    if suffix in DOCUMENT_SUFFIXES:
        return "documents"
    if suffix in AUDIO_SUFFIXES:
        return "dictation"
    if suffix in OTHER_COMMANDS:
        fail(f"{path.name}: {suffix} files are analysed by `{OTHER_COMMANDS[suffix]}`, not analyze")
    fail(
        f"{path.name}: unsupported file type {suffix or '(none)'}; expected a lab report PDF, "
        "a clinical document (.txt, .docx; a PDF with --pipeline documents) or a recording "
        "(.wav, .mp3, .m4a, .ogg, .webm)"
    )


def failure_reason(rec: ExecutionRecord) -> str:
    """The one-line reason an execution failed, as the quarantine step recorded it."""
    error = rec.state.get("error") if isinstance(rec.state, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    return rec.error or f"execution {rec.id} {rec.status}"


def analyze(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Lab report PDFs, clinical documents (.txt, .docx) or recordings.",
            show_default=False,
        ),
    ],
    patient_id: Annotated[str, typer.Option(help="The patient's id (MRN).")] = "unknown",
    patient_name: Annotated[str, typer.Option(help="The patient's name (display only).")] = "",
    sex: Annotated[str, typer.Option(help="male, female or unknown: selects ranges.")] = "unknown",
    age: Annotated[float | None, typer.Option(help="Age in years: selects ranges.")] = None,
    doctor_email: Annotated[str | None, typer.Option(help="Email the summary here.")] = None,
    output_format: Annotated[
        AnalyzeFormat, typer.Option("--format", "-f", help="table, json, or fhir (R4 Bundle).")
    ] = AnalyzeFormat.TABLE,
    data_dir: Annotated[
        str | None, typer.Option(help="Where results go (default ./medflow-data).")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress.")] = False,
    pipeline_choice: Annotated[
        PipelineChoice | None,
        typer.Option(
            "--pipeline", help="Force a pipeline (a PDF that is a clinical note: documents)."
        ),
    ] = None,
    patient_email: Annotated[
        str | None, typer.Option(help="Documents: email the patient a link to the summary.")
    ] = None,
) -> None:
    """Analyse lab reports: every test with value, unit, range, flag and significance, then the
    diagnostic summary (or the JSON result, or the FHIR R4 Bundle, on stdout)."""
    quiet_logging(verbose)
    if sex.lower() not in {"male", "female", "unknown", "m", "f"}:
        fail(f"--sex: {sex!r} is not one of male, female, unknown")
    settings = load_settings(data_dir)
    limit = settings.storage.max_upload_bytes
    inputs: list[tuple[Path, bytes, str]] = []
    for path in files:
        if not path.is_file():
            fail(f"{path}: no such file")
        size = path.stat().st_size
        if size > 10 * limit:  # far past the limit: refuse without reading it into memory
            fail(f"{path.name}: {size} bytes is over the {limit}-byte upload limit")
        inputs.append((path, path.read_bytes(), pipeline_for(path, pipeline_choice)))
    meta = {"patient_id": patient_id, "patient_name": patient_name, "sex": sex}
    if age is not None:
        meta["age"] = f"{age:g}"
    if doctor_email:
        meta["doctor_email"] = doctor_email
    if patient_email:
        meta["patient_email"] = patient_email

    from medflow.pipelines import default_pipelines
    from medflow.pipelines.common import quarantine_refused_upload
    from medflow.pipelines.labs import patient_changes, reinterpret_execution
    from medflow.platform import Platform

    outputs: list[Any] = []
    failures = 0
    with Platform(settings, pipelines=default_pipelines(settings)) as platform:
        progress = Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
            disable=len(inputs) < 2,
        )
        with progress:
            task = progress.add_task("analysing", total=len(inputs))
            for path, data, pipeline in inputs:
                content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                try:
                    eid = platform.ingest(
                        data, path.name, pipeline, {**meta, "filename": path.name}, content_type
                    )
                except InputError as exc:
                    quarantine_refused_upload(
                        platform.services.store, pipeline, path.name, data, exc
                    )
                    failures += 1
                    err_console.print(f"medflow: {exc}", markup=False, highlight=False)
                    progress.advance(task)
                    continue
                rec = platform.runner.wait(eid, timeout=3600)
                progress.advance(task)
                if rec.status != "succeeded":
                    failures += 1
                    err_console.print(
                        f"medflow: {failure_reason(rec)}", markup=False, highlight=False
                    )
                    continue
                assert rec.document_id is not None
                store = platform.services.store
                if pipeline != "labs":
                    from medflow.cli.clinical_output import clinical_output

                    shown = clinical_output(settings, store, pipeline, rec.document_id, path.name)
                    if output_format is AnalyzeFormat.TABLE:
                        shown.print()
                    else:
                        outputs.append(shown.payload(output_format.value))
                else:
                    stored_meta = rec.event.get("metadata") or {}
                    changed = patient_changes(stored_meta, meta)
                    fresh = None
                    if changed:
                        # The same bytes were analysed before for other patient details: the
                        # reading is reused, the interpretation redone for the details given.
                        fresh = reinterpret_execution(
                            settings, platform.services.db, rec, {**stored_meta, **meta}
                        )
                        err_console.print(
                            f"medflow: {path.name} was already analysed as document "
                            f"{rec.document_id} with other {', '.join(changed)}; shown here "
                            "interpreted again with the details given. The stored result "
                            f"(results/labs/{rec.document_id}/) is unchanged.",
                            markup=False,
                            highlight=False,
                        )
                    outputs += _lab_output(
                        store, rec.document_id, output_format, path, fresh, data, settings
                    )
    if output_format is not AnalyzeFormat.TABLE and outputs:
        if len(outputs) == 1:
            payload: Any = outputs[0]
        elif output_format is AnalyzeFormat.FHIR:
            payload = {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [{"resource": b} for b in outputs],
            }
        else:
            payload = outputs
        print(json.dumps(payload, indent=2))
    if failures:
        raise typer.Exit(EXIT_BAD_INPUT)


def _lab_output(
    store: ObjectStore,
    document_id: str,
    output_format: AnalyzeFormat,
    path: Path,
    fresh: LabReport | None,
    data: bytes,
    settings: Settings,
) -> list[Any]:
    """Print the table (returns nothing) or return the JSON/FHIR payload of one lab report:
    the stored one, or ``fresh`` when it was interpreted again for other patient details."""
    from medflow.pipelines.labs import load_report_for_document, result_key
    from medflow.reports.fhir_labs import lab_bundle
    from medflow.reports.jsonout import lab_json

    if output_format is AnalyzeFormat.TABLE:
        report = fresh or load_report_for_document(store, document_id)
        print_lab_report(out_console, report, title=f"{path.name}")
        where = f"{settings.data_dir}/objects/results/labs/{document_id}/"
        what = "stored results (for the first upload's patient details)" if fresh else "results"
        out_console.print(f"[dim]document {document_id}: {what} in {where}[/dim]", soft_wrap=True)
        return []
    if fresh is None:
        name = "report.json" if output_format is AnalyzeFormat.JSON else "fhir.json"
        return [json.loads(store.get("results", result_key(document_id, name)))]
    if output_format is AnalyzeFormat.JSON:
        body = lab_json(fresh, document_id=document_id)
        body["reinterpreted"] = True
        return [body]
    return [lab_bundle(fresh, document_id=document_id, pdf=data, issued=datetime.now(UTC))]
