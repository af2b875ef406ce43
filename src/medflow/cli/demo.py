"""``medflow demo``: every pipeline on the bundled samples, embedded default, no services."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from rich.rule import Rule
from rich.table import Table

from medflow.cli.clinical_demo import run_dictation_demo, run_documents_demo
from medflow.cli.common import out_console
from medflow.cli.labs import failure_reason
from medflow.cli.render import print_lab_report
from medflow.platform.config import Settings


def _lab_samples() -> list[tuple[str, bytes, dict[str, str]]]:
    folder = resources.files("medflow.samples").joinpath("labs")
    meta: dict[str, dict[str, str]] = json.loads(folder.joinpath("samples.json").read_text())
    return [(name, folder.joinpath(name).read_bytes(), info) for name, info in meta.items()]


def run_labs_demo(data_dir: Path) -> None:
    """The labs pipeline on the bundled lab reports, one of them broken on purpose."""
    from medflow.pipelines import default_pipelines
    from medflow.pipelines.labs import load_report_for_document
    from medflow.platform import Platform

    settings = Settings(data_dir=data_dir)
    out_console.print(Rule("labs: lab report PDFs -> flagged results, summary, FHIR, email"))
    overview = Table("file", "tests", "abnormal", "critical", "headline / reason")
    first = True
    with Platform(settings, pipelines=default_pipelines(settings)) as platform:
        for name, data, meta in _lab_samples():
            meta = {k: v for k, v in meta.items() if v}
            eid = platform.ingest(data, name, "labs", {**meta, "filename": name}, "application/pdf")
            rec = platform.runner.wait(eid, timeout=600)
            if rec.status != "succeeded" or rec.document_id is None:
                overview.add_row(name, "", "", "", f"[red]quarantined:[/red] {failure_reason(rec)}")
                continue
            report = load_report_for_document(platform.services.store, rec.document_id)
            if first:
                print_lab_report(
                    out_console, report, title=f"{name} (patient {meta['patient_id']})"
                )
                first = False
            abnormal = sum(r.flag.value != "N" for r in report.results)
            critical = sum(r.significance.value == "critical" for r in report.results)
            overview.add_row(
                name,
                str(len(report.results)),
                str(abnormal),
                str(critical),
                report.summary.headline,
            )
    out_console.print(overview)
    root = settings.data_dir
    out_console.print(
        f"labs results:     {root}/objects/results/labs/<document id>/"
        "(report.json, fhir.json, report.html)\n"
        f"originals:        {root}/objects/raw/labs/\n"
        f"quarantine:       {root}/objects/quarantine/ (file + .reason.json)\n"
        f"doctor emails:    {root}/outbox/*.eml\n"
        f"database:         {root}/medflow.db   (medflow status --data-dir {root})"
    )


def run_records_demo(data_dir: Path) -> None:
    """The records pipeline on the bundled admissions CSV with seeded problems."""
    from medflow.pipelines import default_pipelines
    from medflow.platform import Platform

    settings = Settings(data_dir=data_dir)
    out_console.print(Rule("records: admissions CSV -> curated rows, quarantine, insights"))
    samples = resources.files("medflow.analyzers.records").joinpath("data", "samples")
    data = samples.joinpath("admissions_sample.csv").read_bytes()
    truth = json.loads(samples.joinpath("admissions_sample.truth.json").read_text("utf-8"))
    with Platform(settings, pipelines=default_pipelines(settings)) as platform:
        eid = platform.ingest(data, "admissions_sample.csv", "records", {}, "text/csv")
        rec = platform.runner.wait(eid, timeout=600)
    if rec.status != "succeeded":
        out_console.print(f"[red]quarantined:[/red] {failure_reason(rec)}")
        return
    state = rec.state
    table = Table("decision", "records", "curated", "quarantined rows", "anomalies", "reason")
    table.add_row(
        str(state["decision"]),
        str(state["records"]),
        str(state["rows_curated"]),
        str(state["rows_quarantined"]),
        str(state["anomalies_detected"]),
        str(state["decision_reason"]),
    )
    out_console.print(table)
    out_console.print(
        f"seeded problems: {len(truth['violations'])} rows breaking a rule, "
        f"{len(truth['duplicates'])} duplicate rows"
    )
    for name, where in sorted(state["outputs"].items()):
        out_console.print(f"{name + ':':20} {data_dir}/objects/{where}", soft_wrap=True)


def run_imaging_demo(data_dir: Path) -> None:
    """The imaging pipelines on pydicom's bundled files, pydicom-data's chest radiograph and a
    PNG whose metadata names a patient."""
    from pydicom.data import get_testdata_file

    from medflow.cli.imaging import DEMO_SAMPLES, _table
    from medflow.domain.imaging import ImagingReport
    from medflow.pipelines import default_pipelines
    from medflow.pipelines.imaging import StudySweeper
    from medflow.platform import Platform

    settings = Settings(data_dir=data_dir, imaging={"provider_email": "radiology@clinic.example"})
    out_console.print(
        Rule("imaging: DICOM, PNG -> de-identified copy, checks, report, provider told")
    )
    with Platform(settings, pipelines=default_pipelines(settings)) as platform:
        for name in DEMO_SAMPLES:
            found = get_testdata_file(name)
            if found is None:
                out_console.print(f"note: sample {name} is not installed; skipped")
                continue
            data = Path(str(found)).read_bytes()
            eid = platform.ingest(data, name, "imaging", {}, "application/dicom")
            rec = platform.runner.wait(eid, timeout=600)
            if rec.status != "succeeded":
                out_console.print(f"[red]quarantined:[/red] {failure_reason(rec)}")
        store = platform.services.store
        reports: list[ImagingReport] = []
        # A PNG with patient data in its metadata: a one-image study, processed at once.
        png = resources.files("medflow.samples").joinpath("imaging", "chest_phantom_meta.png")
        eid = platform.ingest(
            png.read_bytes(), "chest_phantom_meta.png", "imaging", {}, "image/png"
        )
        rec = platform.runner.wait(eid, timeout=600)
        if rec.status == "succeeded":
            key = f"imaging/{rec.state['study_uid']}/report.json"
            reports.append(ImagingReport.model_validate_json(store.get("results", key)))
        else:
            out_console.print(f"[red]quarantined:[/red] {failure_reason(rec)}")
        # The scheduled sweep would find these studies quiet after the quiet time; sweep now.
        sweeper = StudySweeper(store, platform.runner, quiet_s=0.0)
        for eid in sweeper.sweep_once():
            rec = platform.runner.wait(eid, timeout=600)
            parts = str(rec.event.get("key", "")).split("/")  # imaging/studies/<uid>/ready-N
            study = parts[parts.index("studies") + 1] if "studies" in parts else ""
            if rec.status != "succeeded":
                out_console.print(f"[red]study failed:[/red] {failure_reason(rec)}")
                continue
            reports.append(
                ImagingReport.model_validate_json(
                    store.get("results", f"imaging/{study}/report.json")
                )
            )
    if reports:
        combined = reports[0].model_copy(
            update={
                "studies": tuple(st for r in reports for st in r.studies),
                "images": tuple(im for r in reports for im in r.images),
            }
        )
        out_console.print(_table(combined))
    out_console.print(
        f"de-identified copies: {data_dir}/objects/deidentified/imaging/\n"
        f"reports and SRs:      {data_dir}/objects/results/imaging/<study uid>/"
        "(report.html, report.json, findings.sr.dcm)\n"
        f"originals:            {data_dir}/objects/raw/imaging/",
        soft_wrap=True,
    )


def run_demo(data_dir: str) -> int:
    """Run every demo; returns the exit code."""
    root = Path(data_dir).resolve()
    run_labs_demo(root)
    run_records_demo(root)
    run_imaging_demo(root)
    run_documents_demo(root)
    run_dictation_demo(root)
    out_console.print(Rule())
    out_console.print(
        f"[bold]All demo results are under {root}[/bold]  "
        f"(medflow status --data-dir {root}; emails in {root}/outbox/)",
        soft_wrap=True,
    )
    base_url = Settings(data_dir=root).web.link_base
    out_console.print(
        f"[bold]Portal:[/bold] {base_url}  -- start it on these results with\n"
        f"  MEDFLOW_WEB__ADMIN_EMAIL=admin@example.org MEDFLOW_WEB__ADMIN_PASSWORD='<choose one>' "
        f"medflow serve --data-dir {root}\n"
        "  then log in as that admin and create staff, doctor and patient accounts "
        "(Accounts page, or medflow admin create-user).",
        soft_wrap=True,
    )
    return 0
