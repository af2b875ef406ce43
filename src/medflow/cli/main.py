"""The root Typer app: ``analyze``, ``serve``, ``status``, ``results``, ``demo`` and the
command groups each capability provides (``records``, ``imaging``...)."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from medflow.cli.clinical import extract, transcribe
from medflow.cli.common import EXIT_BAD_INPUT, fail, load_settings, out_console, quiet_logging
from medflow.cli.labs import analyze
from medflow.cli.worker import worker

if TYPE_CHECKING:
    from medflow.pipelines.imaging import StudySweeper
    from medflow.platform import Platform

app = typer.Typer(
    name="medflow",
    help="Medical documents and records in; checked, structured, explained results out.",
    no_args_is_help=True,
    add_completion=False,
)
app.command("analyze")(analyze)
app.command("extract")(extract)
app.command("transcribe")(transcribe)
app.command("worker")(worker)


def _imaging_sweeper(platform: Platform) -> StudySweeper | None:
    """Start the scheduled sweep that submits imaging studies left quiet long enough."""
    if "imaging_study" not in platform.registry.names():
        return None
    from medflow.pipelines.imaging import StudySweeper

    sweeper = StudySweeper(
        platform.services.store, platform.runner, platform.settings.imaging.quiet_s
    )
    sweeper.start()
    return sweeper


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface for the portal.")] = None,
    port: Annotated[int | None, typer.Option(help="Port for the portal.")] = None,
    data_dir: Annotated[str | None, typer.Option(help="Default ./medflow-data.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the runner, the inbox watcher and the notifier retries until stopped (Ctrl-C)."""
    quiet_logging(verbose)
    from medflow.pipelines import default_pipelines
    from medflow.platform import Platform

    settings = load_settings(data_dir)
    if host is not None or port is not None:
        # Links fall back to the address the portal listens on: the one given here.
        listen = {
            "host": host or settings.web.host,
            "port": settings.web.port if port is None else port,
        }
        settings = settings.model_copy(update={"web": settings.web.model_copy(update=listen)})
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with Platform(settings, pipelines=default_pipelines(settings)) as platform:
        platform.start()
        sweeper = _imaging_sweeper(platform)
        inbox = settings.inbox_dir
        print(
            f"medflow: serving; drop files into {inbox}/<pipeline>/ "
            f"({', '.join(platform.registry.names())}); data in {settings.data_dir}",
            flush=True,
        )
        try:
            from medflow.web.server import serve as serve_portal
        except ImportError:  # the web extra is not installed: run headless
            stop.wait()
        else:
            from medflow.web.links import loopback_warning

            warning = loopback_warning(settings.web)
            if warning:
                print(f"medflow: warning: {warning}", file=sys.stderr, flush=True)
            print(f"medflow: portal at {settings.web.link_base}", flush=True)
            serve_portal(platform, host, port, stop=stop)
        print("medflow: stopping", flush=True)
        if sweeper is not None:
            sweeper.stop()


@app.command()
def status(
    data_dir: Annotated[str | None, typer.Option(help="Default ./medflow-data.")] = None,
    limit: Annotated[int, typer.Option(help="How many recent executions to list.")] = 20,
) -> None:
    """Executions by status, and the most recent ones with their progress or error."""
    from medflow.platform import build_services

    services = build_services(load_settings(data_dir))
    try:
        counts = services.db.executions.counts()
        out_console.print(
            "executions: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none")
        )
        table = Table("execution", "pipeline", "document", "status", "progress", "error")
        for rec in services.db.executions.list(limit=limit):
            table.add_row(
                rec.id,
                rec.pipeline,
                rec.document_id or "",
                rec.status,
                f"{rec.progress:.0%} {rec.progress_message}".strip(),
                (rec.error or "")[:80],
            )
        out_console.print(table)
    finally:
        services.close()


class ResultFormat(StrEnum):
    """Formats of ``medflow results``."""

    JSON = "json"
    FHIR = "fhir"
    HTML = "html"


RESULT_FILES: dict[str, dict[ResultFormat, str]] = {
    "labs": {
        ResultFormat.JSON: "report.json",
        ResultFormat.FHIR: "fhir.json",
        ResultFormat.HTML: "report.html",
    },
    "documents": {
        ResultFormat.JSON: "result.json",
        ResultFormat.FHIR: "fhir.json",
        ResultFormat.HTML: "summary.html",
    },
    "dictation": {
        ResultFormat.JSON: "result.json",
        ResultFormat.FHIR: "fhir.json",
        ResultFormat.HTML: "resume.html",
    },
}
"""Where each pipeline keeps a document's results in the results bucket."""


@app.command()
def results(
    document_id: Annotated[str, typer.Argument(help="A document or execution id.")],
    output_format: Annotated[ResultFormat, typer.Option("--format", "-f")] = ResultFormat.JSON,
    data_dir: Annotated[str | None, typer.Option(help="Default ./medflow-data.")] = None,
) -> None:
    """Print a document's result: the JSON result, the FHIR R4 Bundle or the HTML report."""
    from medflow.errors import ObjectNotFoundError
    from medflow.platform import build_services
    from medflow.platform.db import RecordNotFoundError

    services = build_services(load_settings(data_dir))
    try:
        doc_id = document_id
        with contextlib.suppress(RecordNotFoundError):
            doc_id = services.db.executions.get(document_id).document_id or document_id
        try:
            document = services.db.documents.get(doc_id)
        except RecordNotFoundError:
            fail(f"{document_id}: no such document or execution")
        pipeline = document.pipeline or "labs"
        if pipeline not in RESULT_FILES:
            fail(f"{document_id}: results of the {pipeline} pipeline are not kept per document")
        name = RESULT_FILES[pipeline][output_format]
        try:
            data = services.store.get("results", f"{pipeline}/{doc_id}/{name}")
        except ObjectNotFoundError:
            fail(f"{document_id}: no {output_format.value} result (not analysed, or quarantined)")
        if output_format is ResultFormat.HTML:
            print(data.decode())
        else:
            print(json.dumps(json.loads(data), indent=2))
    finally:
        services.close()


@app.command()
def demo(
    data_dir: Annotated[str, typer.Option(help="Where the demo writes.")] = "medflow-data",
) -> None:
    """Run the pipelines on the bundled samples, with the embedded default (no services)."""
    from medflow.cli.demo import run_demo

    code = run_demo(data_dir)
    if code:
        raise typer.Exit(code)


def _register() -> None:
    """Attach the sub-command groups that each capability provides."""
    from medflow.cli.admin import admin_app
    from medflow.cli.aws import aws_app
    from medflow.cli.imaging import imaging_app
    from medflow.cli.records import records_app

    app.add_typer(records_app, name="records")
    app.add_typer(imaging_app, name="imaging")
    app.add_typer(admin_app, name="admin")
    app.add_typer(aws_app, name="aws")


_register()
__all__ = ["EXIT_BAD_INPUT", "app"]
