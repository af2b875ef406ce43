"""``medflow records``: check a CSV against a rule set, or profile one into a rule set.

Thin: parse, call the records analyzer, render. Exit status 0 on success (whatever the decision:
a quarantined file is a result, not an error), 2 on bad input (the file or the rules), with one
line on stderr naming the file and the problem. The input is never modified.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from medflow.errors import ConfigError, InputError

if TYPE_CHECKING:
    from medflow.analyzers.records import CheckResult

records_app = typer.Typer(
    name="records",
    help="Validate, clean and quarantine CSV records (admissions, encounters, lab feeds).",
    no_args_is_help=True,
    add_completion=False,
)

_out = Console()
_err = Console(stderr=True, soft_wrap=True, highlight=False)
_DECISION_STYLE = {"accepted": "green", "partial": "yellow", "quarantined": "bold red"}


def _fail(message: str) -> typer.Exit:
    _err.print(f"error: {message}", markup=False)
    return typer.Exit(2)


def _references(items: list[str]) -> dict[str, Path]:
    refs: dict[str, Path] = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise _fail(f"--ref {item}: expected DATASET=FILE")
        refs[name] = Path(path)
    return refs


@records_app.command("check")
def check(
    file: Annotated[Path, typer.Argument(help="The CSV to check (never modified).")],
    rules: Annotated[
        Path | None,
        typer.Option(
            "--rules",
            help="A rule-set YAML (default: recognise the columns and infer the rules; they are "
            "written to OUT/rules.inferred.yaml to edit and pass back here).",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Output folder (default: FILE's stem + '.checked')."),
    ] = None,
    ref: Annotated[
        list[str] | None,
        typer.Option("--ref", help="DATASET=FILE for the rule set's reference rules (repeatable)."),
    ] = None,
    no_clean: Annotated[
        bool, typer.Option("--no-clean", help="Check the file as written.")
    ] = False,
    no_anomalies: Annotated[
        bool, typer.Option("--no-anomalies", help="Skip the outlier detector.")
    ] = False,
    max_bytes: Annotated[
        int | None, typer.Option("--max-bytes", help="Refuse files larger than this.")
    ] = None,
) -> None:
    """Check FILE: curated rows, quarantined rows with reasons, report.json and report.html."""
    from medflow.analyzers.records import (
        CheckOptions,
        CleaningOptions,
        ReadLimits,
        RecordsAnalyzer,
        check_file,
        load_rules,
    )

    if not file.is_file():
        raise _fail(f"{file.name}: no such file")
    try:
        rule_set = load_rules(rules) if rules is not None else None
        limits = ReadLimits(max_bytes=max_bytes) if max_bytes else ReadLimits()
        options = CheckOptions(
            cleaning=CleaningOptions.off() if no_clean else CleaningOptions(),
            limits=limits,
            anomalies=not no_anomalies,
        )
        dest = out or file.with_name(f"{file.stem}.checked")
        with _out.status(f"checking {file.name}"):
            result = check_file(
                RecordsAnalyzer(rule_set, options), file, dest, _references(ref or [])
            )
    except (InputError, ConfigError) as exc:
        raise _fail(str(exc)) from None
    _print_report(result)


def _print_recognised(result: CheckResult) -> None:
    r = result.report
    if not r.recognised_columns:
        return
    table = Table("column", "recognised as", "unit", "how", title="columns recognised")
    for c in r.recognised_columns:
        table.add_row(escape(c.column), c.meaning, escape(c.unit), escape(c.how))
    _out.print(table)


def _print_report(result: CheckResult) -> None:
    _print_recognised(result)
    r = result.report
    table = Table(title=f"{r.file} — {r.dataset} rules v{r.rules_version}", show_header=False)
    table.add_row("decision", f"[{_DECISION_STYLE[r.decision.value]}]{r.decision.value}[/]")
    table.add_row("why", r.decision_reason)
    table.add_row("records", f"{r.records:,}")
    table.add_row("curated / quarantined", f"{r.rows_curated:,} / {r.rows_quarantined:,}")
    table.add_row(
        "outliers", f"{r.outliers.univariate} univariate, {r.outliers.multivariate} multivariate"
    )
    table.add_row("fields flagged", ", ".join(r.fields_flagged[:8]) or "none")
    if r.missing_columns:
        table.add_row("columns absent", ", ".join(r.missing_columns))
    changed = sum(v for k, v in r.cleaning.items() if k != "column_names_normalised")
    table.add_row("cells cleaned", f"{changed:,} (samples in report.json)")
    _out.print(table)
    if r.rules_file:
        _out.print(
            f"rules inferred from the file: {result.out_dir / r.rules_file} "
            "(edit and pass back with --rules)"
        )
    _out.print(f"outputs in {result.out_dir}")


@records_app.command("demo")
def demo(
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("medflow-data")
    / "records-demo",
) -> None:
    """Check the bundled synthetic admissions sample and compare with its seeded problems."""
    import json
    from importlib import resources

    from medflow.analyzers.records import RecordsAnalyzer, builtin_rules, check_file

    samples = resources.files("medflow.analyzers.records").joinpath("data", "samples")
    # The sample's seeded problems are written against the built-in admissions rules.
    with resources.as_file(samples.joinpath("admissions_sample.csv")) as src:
        result = check_file(RecordsAnalyzer(builtin_rules("admissions")), src, out)
    truth = json.loads(samples.joinpath("admissions_sample.truth.json").read_text("utf-8"))
    _print_report(result)
    seeded = {int(r) for r in truth["violations"]}
    quarantined = _quarantined_rows(result.files["quarantined_rows"])
    _out.print(
        f"seeded rule violations: {len(seeded & quarantined)} of {len(seeded)} rows quarantined; "
        f"{len(quarantined - seeded)} others; duplicates removed "
        f"{result.report.duplicate_rows_removed} of {len(truth['duplicates'])}"
    )


def _quarantined_rows(path: Path) -> set[int]:
    import csv

    with path.open(encoding="utf-8", newline="") as fh:
        return {int(row["row"]) for row in csv.DictReader(fh)}


@records_app.command("infer")
def infer(
    file: Annotated[Path, typer.Argument(help="The CSV to profile (never modified).")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the rule set.")] = Path(
        "rules.yaml"
    ),
    dataset: Annotated[str | None, typer.Option("--dataset", help="The dataset's name.")] = None,
) -> None:
    """Profile FILE and write a starting rule set (types, ranges, allowed values, keys)."""
    from medflow.analyzers.records import dump_rules, infer_rules

    if not file.is_file():
        raise _fail(f"{file.name}: no such file")
    try:
        with tempfile.TemporaryDirectory(prefix="medflow-infer-") as work:
            rule_set = infer_rules(file, work, dataset=dataset)
    except (InputError, ConfigError) as exc:
        raise _fail(str(exc)) from None
    header = (
        f"# Rule set inferred by `medflow records infer` from {file.name}; review before use.\n"
    )
    out.write_text(header + dump_rules(rule_set), encoding="utf-8")
    _out.print(f"wrote {len(rule_set.columns)} column rules to {out}")
