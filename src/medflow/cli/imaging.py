"""``medflow imaging``: de-identify DICOM files, analyse images. Thin: parse, call, render.

Exit status: 0 on success, 2 when an input (or the model folder) is bad; each bad input gets one
line on stderr naming the file and the problem. Inputs are never modified.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from rich.text import Text

from medflow.domain.imaging import DeidOptions, ImagingReport, QualityStatus
from medflow.errors import ConfigError, InputError

if TYPE_CHECKING:
    from medflow.analyzers.imaging.analyzer import ImagingAnalyzer
    from medflow.analyzers.imaging.deid import Deidentifier

imaging_app = typer.Typer(
    name="imaging",
    help="DICOM de-identification (PS3.15 Annex E) and image analysis.",
    no_args_is_help=True,
    add_completion=False,
)

SECRET_ENV = "MEDFLOW_DEID_SECRET"
_out = Console()
_err = Console(stderr=True, soft_wrap=True, highlight=False)


def _fail(message: str) -> None:
    # One line, no markup interpretation: file names may contain brackets.
    _err.print(f"error: {message}", markup=False)


def _files(root: Path) -> Iterator[tuple[str, Path]]:
    """``(name, path)`` for a file, or for every non-hidden file under a folder (sorted)."""
    if root.is_file():
        yield root.name, root
        return
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and not any(part.startswith(".") for part in rel.parts):
            yield rel.as_posix(), path


def _secret(secret_file: Path | None) -> bytes:
    if secret_file is not None:
        return secret_file.read_bytes().strip()
    env = os.environ.get(SECRET_ENV, "")
    if env:
        return env.encode()
    _err.print(
        f"note: no --secret-file or {SECRET_ENV}: UIDs and pseudonyms are consistent within "
        "this run only",
        markup=False,
    )
    return secrets.token_bytes(32)


@imaging_app.command("deid")
def deid_command(
    inp: Annotated[Path, typer.Argument(help="A DICOM/PNG/JPEG file or a folder of them.")],
    out: Annotated[Path, typer.Argument(help="Output folder; file names are kept.")],
    secret_file: Annotated[
        Path | None,
        typer.Option(help=f"File holding the site secret (else ${SECRET_ENV})."),
    ] = None,
    shift_dates: Annotated[bool, typer.Option(help="Shift dates per patient.")] = False,
    retain_dates: Annotated[bool, typer.Option(help="Keep dates unchanged.")] = False,
    retain_device: Annotated[bool, typer.Option(help="Keep device identity.")] = False,
    retain_patient_characteristics: Annotated[
        bool, typer.Option(help="Keep age, sex, size, weight...")
    ] = False,
    retain_uids: Annotated[bool, typer.Option(help="Keep original UIDs.")] = False,
    retain_institution: Annotated[bool, typer.Option(help="Keep institution identity.")] = False,
    burned_in: Annotated[
        str, typer.Option(help="OCR for burned-in text: off, flagged or all.")
    ] = "flagged",
) -> None:
    """De-identify DICOM, PNG and JPEG files (PS3.15 Annex E Basic Profile and options)."""
    from medflow.analyzers.imaging.deid import Deidentifier

    if not inp.exists():
        _fail(f"{inp}: no such file or folder")
        raise typer.Exit(2)
    if burned_in not in ("off", "flagged", "all"):
        _fail(f"--burned-in must be off, flagged or all, not {burned_in!r}")
        raise typer.Exit(2)
    if out.resolve() == inp.resolve() or (inp.is_dir() and inp.resolve() in out.resolve().parents):
        _fail(f"{out}: the output folder must lie outside the input")
        raise typer.Exit(2)
    options = DeidOptions(
        shift_dates=shift_dates,
        retain_dates=retain_dates,
        retain_device_identity=retain_device,
        retain_patient_characteristics=retain_patient_characteristics,
        retain_uids=retain_uids,
        retain_institution_identity=retain_institution,
        burned_in_text=burned_in,
    )
    try:
        deid = Deidentifier(_secret(secret_file), options)
    except ValueError as exc:
        _fail(str(exc))
        raise typer.Exit(2) from exc
    bad = _run_deid(deid, list(_files(inp)), out, folder=inp.is_dir())
    if bad:
        raise typer.Exit(2)


_CLAIMS_IMAGE = frozenset({".dcm", ".dicom", ".png", ".jpg", ".jpeg", ".jpe", ".jfif"})
"""Names that claim an image: such a file that is not one is an error, not something to skip."""


def _warn(message: str) -> None:
    _err.print(f"warning: {message}", markup=False)


def _run_deid(
    deid: Deidentifier, files: list[tuple[str, Path]], out: Path, folder: bool = False
) -> int:
    """De-identify ``files`` into ``out`` (same relative names); returns how many were bad.

    In a folder run, a file that is not DICOM (nor PNG/JPEG) and whose name does not claim to
    be an image (notes, spreadsheets, ``DICOMDIR`` companions, desktop files) is skipped with a
    warning and does not count as bad. Every file is reported: written, repaired, flagged for
    review (text may remain in its pixels), skipped or refused.
    """
    from medflow.analyzers.imaging.errors import NotDicomError

    bad = skipped = 0
    with Progress(
        console=_err, transient=True, disable=len(files) < 2 or not _err.is_terminal
    ) as progress:
        task = progress.add_task("de-identifying", total=len(files))
        for name, path in files:
            try:
                data, summary = deid.deidentify_file(path, name)
            except NotDicomError as exc:
                if folder and path.suffix.lower() not in _CLAIMS_IMAGE:
                    _warn(f"{name}: skipped, not a DICOM, PNG or JPEG file")
                    skipped += 1
                else:
                    _fail(str(exc))
                    bad += 1
            except InputError as exc:
                _fail(str(exc))
                bad += 1
            else:
                target = out / name
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_name(target.name + ".part")
                tmp.write_bytes(data)
                tmp.replace(target)
                for repair in summary.repairs:
                    _warn(f"{name}: repaired {repair}")
                if summary.needs_review:
                    reasons = "; ".join(summary.review_reasons)
                    _warn(f"{name}: review the pixels, text may remain ({reasons})")
            progress.advance(task)
    done = len(files) - bad - skipped
    extra = f", {skipped} skipped" if skipped else ""
    _out.print(f"de-identified {done} of {len(files)} file(s) into {out}{extra}", soft_wrap=True)
    return bad


@imaging_app.command("analyze")
def analyze_command(
    inp: Annotated[Path, typer.Argument(help="A DICOM/PNG/JPEG file or a folder of them.")],
    models: Annotated[
        Path | None, typer.Option(help="Model folder (ONNX files with manifests).")
    ] = None,
    out: Annotated[
        Path, typer.Option(help="Where report.html, report.json and the SRs go.")
    ] = Path("imaging-report"),
) -> None:
    """Analyse images: metadata, quality checks, model findings; HTML, JSON and DICOM SR."""
    from medflow.analyzers.imaging.analyzer import ImagingAnalyzer
    from medflow.analyzers.imaging.models import ModelRunner

    if not inp.exists():
        _fail(f"{inp}: no such file or folder")
        raise typer.Exit(2)
    try:
        analyzer = ImagingAnalyzer(ModelRunner(models))
    except ConfigError as exc:
        _fail(str(exc))
        raise typer.Exit(2) from exc
    report = _run_analysis(analyzer, list(_files(inp)), out)
    if report.rejected:
        raise typer.Exit(2)


def _run_analysis(
    analyzer: ImagingAnalyzer, files: list[tuple[str, Path]], out: Path
) -> ImagingReport:
    """Analyse ``files``; write report.html, report.json and one SR per study into ``out``."""
    from medflow.reports.imaging_html import render_imaging_html

    with Progress(
        console=_err, transient=True, disable=len(files) < 2 or not _err.is_terminal
    ) as progress:
        task = progress.add_task("analysing", total=len(files))
        batch = analyzer.analyze_many(files, progress=lambda _: progress.advance(task))
    report = batch.report
    for name, reason in report.rejected.items():
        _fail(f"{name}: {reason}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.html").write_text(render_imaging_html(report), encoding="utf-8")
    (out / "report.json").write_text(report.model_dump_json(indent=2), encoding="utf-8")
    for number, study in enumerate(report.studies, start=1):
        batch.findings_sr(study.study_instance_uid).save_as(
            out / f"study-{number}.sr.dcm", enforce_file_format=True
        )
    _out.print(_table(report))
    _out.print(f"report: {out / 'report.html'}", soft_wrap=True)
    return report


def _table(report: ImagingReport) -> Table:
    table = Table(title="Images")
    for column in ("file", "modality", "size", "quality", "positive findings"):
        table.add_column(column)
    style = {QualityStatus.PASS: "green", QualityStatus.WARN: "yellow", QualityStatus.FAIL: "red"}
    for a in report.images:
        worst = a.quality.worst
        flagged = [c.name for c in a.quality.checks if c.status is worst and worst.value != "pass"]
        positives = ", ".join(f"{f.label} {f.score:.2f}" for f in a.findings if f.positive)
        table.add_row(
            Text(a.metadata.source),
            a.metadata.modality,
            f"{a.metadata.columns}x{a.metadata.rows}",
            f"[{style[worst]}]{worst.value}[/] {' '.join(flagged)}",
            positives or "-",
        )
    return table


def _csv(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


@imaging_app.command("convert-torch")
def convert_torch_command(
    checkpoint: Annotated[Path, typer.Argument(help="TorchScript file or state-dict checkpoint.")],
    out: Annotated[Path, typer.Argument(help="The model folder to install into.")],
    name: Annotated[str, typer.Option(help="Model name.")],
    labels: Annotated[str, typer.Option(help="Comma-separated labels, in output order.")],
    thresholds: Annotated[str, typer.Option(help="Comma-separated thresholds, one per label.")],
    modalities: Annotated[str, typer.Option(help="Comma-separated DICOM modalities.")],
    source: Annotated[str, typer.Option(help="Where the model and its weights come from.")],
    input_shape: Annotated[str, typer.Option(help="N,C,H,W")] = "1,1,224,224",
    body_parts: Annotated[str, typer.Option(help="Comma-separated body parts, or *.")] = "*",
    version: Annotated[str, typer.Option(help="Model version.")] = "1.0.0",
    architecture: Annotated[
        str | None, typer.Option(help="package.module:factory for a state-dict checkpoint.")
    ] = None,
    heatmap: Annotated[bool, typer.Option(help="The model's second output is a heat map.")] = False,
    trust_pickle: Annotated[
        bool, typer.Option(help="Load a fully pickled model (runs code from the file).")
    ] = False,
) -> None:
    """Convert a PyTorch classifier to ONNX with its manifest (needs torch installed)."""
    from medflow.analyzers.imaging.torch_export import ExportSpec, export_checkpoint
    from medflow.errors import AnalyzerError, DependencyMissingError

    try:
        shape = tuple(int(v) for v in input_shape.split(","))
        spec = ExportSpec(
            name=name,
            version=version,
            labels=_csv(labels),
            thresholds=tuple(float(t) for t in _csv(thresholds)),
            modalities=_csv(modalities),
            body_parts=_csv(body_parts),
            input_shape=(shape[0], shape[1], shape[2], shape[3]),
            source=source,
            heatmap=heatmap,
        )
        manifest = export_checkpoint(checkpoint, out, spec, architecture, trust_pickle)
    except (DependencyMissingError, AnalyzerError, ConfigError, ValueError, IndexError) as exc:
        _fail(str(exc))
        raise typer.Exit(2) from exc
    _out.print(f"installed {name}: {manifest}", soft_wrap=True)


DEMO_SAMPLES = ("CT_small.dcm", "MR_small.dcm", "RG1_UNCI.dcm", "US1_UNCR.dcm", "SC_rgb.dcm")
"""Bundled samples the demo uses: pydicom's test files and pydicom-data's real radiograph."""


@imaging_app.command("demo")
def demo_command(
    out: Annotated[Path, typer.Argument(help="Folder for originals, copies and report.")] = Path(
        "medflow-data/imaging-demo"
    ),
    models: Annotated[
        Path | None, typer.Option(help="Model folder (ONNX files with manifests).")
    ] = None,
) -> None:
    """Run the imaging chain on bundled samples: keep, de-identify, analyse, report."""
    from pydicom.data import get_testdata_file

    from medflow.analyzers.imaging.analyzer import ImagingAnalyzer
    from medflow.analyzers.imaging.deid import Deidentifier
    from medflow.analyzers.imaging.models import ModelRunner

    originals = out / "original"
    originals.mkdir(parents=True, exist_ok=True)
    for name in DEMO_SAMPLES:
        found = get_testdata_file(name)
        if found is None:
            _err.print(f"note: sample {name} is not installed; skipped", markup=False)
            continue
        (originals / name).write_bytes(Path(str(found)).read_bytes())
    deid = Deidentifier(_secret(None), DeidOptions(shift_dates=True))
    bad = _run_deid(deid, list(_files(originals)), out / "deidentified")
    try:
        analyzer = ImagingAnalyzer(ModelRunner(models))
    except ConfigError as exc:
        _fail(str(exc))
        raise typer.Exit(2) from exc
    report = _run_analysis(analyzer, list(_files(out / "deidentified")), out / "report")
    if bad or report.rejected:
        raise typer.Exit(2)
