"""The Analyzer: outliers among the curated rows, and the insight report.

:func:`analyze` is the last of the three phases of :func:`~medflow.analyzers.records.check_file`:
from the Initiator's :class:`~.plan.Plan`, the Transformer's :class:`~.outputs.Transformed` and
the curated rows it handed off, it writes ``anomalies.csv`` (not for a file quarantined whole),
``report.json`` and ``report.html``.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from medflow.analyzers.records.analyzer import CheckOptions
from medflow.analyzers.records.anomaly import Outlier, detect_outliers
from medflow.analyzers.records.html import render_html
from medflow.analyzers.records.outputs import Transformed
from medflow.analyzers.records.plan import INFERRED_RULES_FILE, Plan
from medflow.analyzers.records.report import (
    Decision,
    InsightReport,
    OutlierSummary,
    RecognisedColumn,
    SampleAnomaly,
)


@dataclass(frozen=True)
class Insights:
    """The Analyzer's result.

    Attributes:
        report: the insight report (also in ``report.json``).
        files: output name -> path (``anomalies``, ``report_json``, ``report_html``).
    """

    report: InsightReport
    files: dict[str, Path]


def _write_anomalies(outliers: list[Outlier], dest: Path) -> None:
    with dest.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["row", "kind", "column", "reason"])
        for o in sorted(outliers, key=lambda o: (o.row, o.kind)):
            w.writerow([o.row, o.kind, o.column, o.reason])


def _outliers(
    plan: Plan, found: Transformed, options: CheckOptions, handoff: Path
) -> tuple[list[Outlier], OutlierSummary]:
    rules = plan.rules
    if not options.anomalies or found.curated_rows is None:
        return [], OutlierSummary()
    watched = [
        c
        for c in (
            rules.numeric_columns() if rules.anomalies.columns is None else rules.anomalies.columns
        )
        if c in found.columns
    ]
    return detect_outliers(pl.scan_parquet(handoff / found.curated_rows), watched, rules.anomalies)


def analyze(
    plan: Plan,
    found: Transformed,
    options: CheckOptions,
    handoff: str | Path,
    out: str | Path,
) -> Insights:
    """The Analyzer: score the curated rows for outliers and write the insight report.

    Args:
        plan: the Initiator's plan.
        found: what the Transformer found.
        options: anomaly detection on or off, sample size.
        handoff: the folder holding the Transformer's :data:`~.outputs.CURATED_ROWS`.
        out: the output folder.
    """
    rules, size = plan.rules, options.sample_size
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    quarantined = found.decision is Decision.QUARANTINED
    outliers, summary = _outliers(plan, found, options, Path(handoff))
    if not quarantined:
        files["anomalies"] = out_dir / "anomalies.csv"
        _write_anomalies(outliers, files["anomalies"])
    samples = list(found.samples)
    samples += [SampleAnomaly(row=o.row, reason=o.reason, kind=o.kind) for o in outliers[:size]]
    per_column = dict(found.column_failures)
    for col, n in summary.per_column.items():
        per_column[col] = per_column.get(col, 0) + n
    if found.unparsed_rows:
        per_column["(unparsed rows)"] = found.unparsed_rows
    flagged = [c for c, n in sorted(per_column.items(), key=lambda kv: -kv[1]) if n > 0]
    kept = found.records - found.duplicates_removed
    report = InsightReport(
        file=plan.file,
        timestamp=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        records=found.records,
        anomalies_detected=found.failing + summary.rows,
        fields_flagged=flagged,
        sample_anomalies=sorted(samples, key=lambda s: s.row)[:size],
        dataset=rules.dataset,
        rules_version=rules.version,
        rows_curated=0 if quarantined else kept - found.failing,
        rows_quarantined=kept if quarantined else found.failing,
        duplicate_rows_removed=found.duplicates_removed,
        failure_rate=round(found.failing / found.records, 6) if found.records else 0.0,
        rule_counts=found.rule_counts,
        column_failures=per_column,
        cleaning=found.cleaning,
        outliers=summary,
        decision=found.decision,
        decision_reason=found.decision_reason,
        encoding=found.encoding,
        delimiter=found.delimiter,
        missing_columns=found.missing_columns,
        extra_columns=found.extra_columns,
        cleaning_samples=found.cleaning_samples,
        duplicate_rows=found.duplicate_rows,
        date_formats=found.date_formats,
        rules_inferred=plan.inferred,
        rules_file=INFERRED_RULES_FILE if plan.inferred else None,
        recognised_columns=[RecognisedColumn(**d) for d in plan.recognised],
    )
    files["report_json"] = out_dir / "report.json"
    files["report_json"].write_text(report.model_dump_json(indent=2), encoding="utf-8")
    files["report_html"] = out_dir / "report.html"
    files["report_html"].write_text(render_html(report), encoding="utf-8")
    return Insights(report=report, files=files)
