"""Writing a check's results: curated rows, quarantined rows with every reason, the report.

The output folder receives ``curated.csv`` and ``curated.parquet`` (typed, cleaned),
``quarantined_rows.csv`` (original cells, 1-based ``row``, ``reasons``), ``unparsed_rows.csv``
(records of the wrong width, raw), ``anomalies.csv``, ``report.json`` and ``report.html``. A file
quarantined whole is copied byte for byte to ``quarantine/`` and no curated file is written.
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from medflow.analyzers.records.analyzer import (
    RecordsAnalyzer,
    Validation,
    cleaning_counts,
    copy_original,
)
from medflow.analyzers.records.anomaly import Outlier, detect_outliers
from medflow.analyzers.records.checks import TEXT
from medflow.analyzers.records.frame import FIRST, HASH, RAW, ROW
from medflow.analyzers.records.html import render_html
from medflow.analyzers.records.report import (
    Decision,
    InsightReport,
    OutlierSummary,
    SampleAnomaly,
)


@dataclass(frozen=True)
class CheckResult:
    """A checked file: the report and where its outputs lie.

    Attributes:
        report: the insight report (also in ``report.json``).
        out_dir: the output folder; ``files`` maps output names to paths in it.
    """

    report: InsightReport
    out_dir: Path
    files: dict[str, Path]


def _any_fail(v: Validation) -> pl.Expr:
    if not v.checks:
        return pl.lit(False)
    return pl.any_horizontal([pl.col(c.flag) for c in v.checks])


def _excluded_rows(v: Validation) -> tuple[pl.Series, pl.Series]:
    """Row numbers of failing rows, and of exact duplicates removed by cleaning."""
    failing = v.flags().filter(_any_fail(v)).select(ROW).collect(engine="streaming").to_series()
    removed = pl.Series(ROW, [], dtype=pl.Int64)
    if v.duplicates is not None and v.duplicates.height:
        firsts = v.duplicates.lazy().select(HASH, FIRST)
        removed = (
            pl.scan_parquet(v.table)
            .select(ROW, HASH)
            .join(firsts, on=HASH, how="inner")
            .filter(pl.col(ROW) != pl.col(FIRST))
            .select(ROW)
            .collect(engine="streaming")
            .to_series()
        )
    return failing, removed


def _write_quarantine(
    analyzer: RecordsAnalyzer, v: Validation, failing: pl.Series, dest: Path
) -> None:
    wanted = pl.col(ROW).is_in(failing.implode())
    lf = analyzer.frame(v.prepared, v.columns, v.checks, wanted)
    # Messages read the cell as written (trimmed), which is what a person fixes at the source.
    lf = lf.with_columns(
        [pl.col(f"{RAW}{n}").str.strip_chars().alias(f"{TEXT}{n}") for n in v.columns.names]
    )

    def joined(parts: list[pl.Expr], sep: str) -> pl.Expr:
        return pl.concat_str(parts, separator=sep, ignore_nulls=True) if parts else pl.lit("")

    reasons = joined([pl.when(pl.col(c.flag)).then(c.message) for c in v.checks], "; ")
    out = lf.select(
        pl.col(ROW).alias("row"),
        *[
            pl.col(f"{RAW}{n}").alias(r)
            for r, n in zip(v.columns.raw, v.columns.names, strict=True)
        ],
        reasons.alias("reasons"),
        joined([pl.when(pl.col(c.flag)).then(pl.lit(c.id)) for c in v.checks], ",").alias("rules"),
    )
    out.sink_csv(dest, engine="streaming")


def _write_curated(
    analyzer: RecordsAnalyzer, v: Validation, excluded: pl.Series, work: Path, out_dir: Path
) -> tuple[Path, Path, Path]:
    """Curated rows, typed: a work copy with row numbers (for the detector) and the outputs."""
    rows, parquet, csv_path = (
        work / "curated_rows.parquet",
        out_dir / "curated.parquet",
        out_dir / "curated.csv",
    )
    names = list(v.columns.names)
    frame = analyzer.frame(v.prepared, v.columns, [], ~pl.col(ROW).is_in(excluded.implode()))
    frame.select(ROW, *names).sink_parquet(rows, compression="lz4", engine="streaming")
    pl.scan_parquet(rows).select(names).sink_parquet(parquet, engine="streaming")
    pl.scan_parquet(rows).select(names).sink_csv(csv_path, engine="streaming")
    return rows, csv_path, parquet


def _write_anomalies(outliers: list[Outlier], dest: Path) -> None:
    with dest.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["row", "kind", "column", "reason"])
        for o in sorted(outliers, key=lambda o: (o.row, o.kind)):
            w.writerow([o.row, o.kind, o.column, o.reason])


def rule_stats(v: Validation) -> tuple[dict[str, int], dict[str, int], int]:
    """Failing rows per rule id, failures charged per column, and distinct failing rows."""
    if not v.checks:
        return {}, {}, 0
    sums = [pl.col(c.flag).sum().alias(c.id) for c in v.checks]
    row = (
        v.flags().select(*sums, _any_fail(v).sum().alias("__failing")).collect().row(0, named=True)
    )
    counts = {c.id: int(row[c.id]) for c in v.checks}
    per_column: dict[str, int] = {}
    for c in v.checks:
        per_column[c.columns[0]] = per_column.get(c.columns[0], 0) + counts[c.id]
    return counts, per_column, int(row["__failing"])


def _samples(quarantine: Path, size: int) -> list[SampleAnomaly]:
    head = pl.read_csv(quarantine, n_rows=size, infer_schema=False, columns=["row", "reasons"])
    return [
        SampleAnomaly(row=int(r["row"]), reason=r["reasons"], kind="rule")
        for r in head.iter_rows(named=True)
    ]


def check_file(
    analyzer: RecordsAnalyzer,
    path: str | Path,
    out_dir: str | Path,
    references: Mapping[str, Path] | None = None,
) -> CheckResult:
    """Check one CSV and write every output to ``out_dir``.

    Raises:
        InputError: the file cannot be read as a CSV (see :meth:`RecordsAnalyzer.validate`).
    """
    src, out = Path(path), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    work = out / ".work"
    try:
        return _check(analyzer, src, out, work, references)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _decide(v: Validation, failing: int, rules_rate: float) -> tuple[Decision, str]:
    if v.missing_columns:
        return Decision.QUARANTINED, "schema mismatch: missing columns " + ", ".join(
            v.missing_columns
        )
    if v.extra_columns and v.reject_extra:
        return Decision.QUARANTINED, "schema mismatch: undeclared columns " + ", ".join(
            v.extra_columns
        )
    rate = failing / v.records if v.records else 0.0
    if rate > rules_rate:
        return Decision.QUARANTINED, (
            f"failure rate {rate:.1%} is above the threshold {rules_rate:.1%}"
        )
    if failing:
        return Decision.PARTIAL, f"{failing} of {v.records} rows failed a rule and were quarantined"
    return Decision.ACCEPTED, "every row passed the rules"


def _check(
    analyzer: RecordsAnalyzer,
    src: Path,
    out: Path,
    work: Path,
    references: Mapping[str, Path] | None,
) -> CheckResult:
    rules, opts = analyzer.rules, analyzer.options
    v = analyzer.validate(src, work, references)
    counts, per_column, failing_rows = rule_stats(v)
    failing = failing_rows + v.prepared.ragged_rows
    decision, why = _decide(v, failing, rules.decision.max_failure_rate)
    files: dict[str, Path] = {}
    failing_ids, removed_ids = _excluded_rows(v)
    files["quarantined_rows"] = out / "quarantined_rows.csv"
    _write_quarantine(analyzer, v, failing_ids, files["quarantined_rows"])
    samples = _samples(files["quarantined_rows"], opts.sample_size)
    if v.prepared.ragged_path is not None:
        files["unparsed_rows"] = out / "unparsed_rows.csv"
        shutil.copyfile(v.prepared.ragged_path, files["unparsed_rows"])
        ragged = pl.read_csv(v.prepared.ragged_path, n_rows=opts.sample_size, infer_schema=False)
        samples += [
            SampleAnomaly(row=int(r["row"]), reason=r["reason"], kind="unparsed")
            for r in ragged.iter_rows(named=True)
        ]
    outliers: list[Outlier] = []
    summary = OutlierSummary()
    if decision is Decision.QUARANTINED:
        files["quarantined_file"] = copy_original(src, out / "quarantine")
    else:
        rows, files["curated_csv"], files["curated_parquet"] = _write_curated(
            analyzer, v, pl.concat([failing_ids, removed_ids]), work, out
        )
        if opts.anomalies:
            watched = [
                c
                for c in (rules.anomalies.columns or rules.numeric_columns())
                if c in v.columns.names
            ]
            outliers, summary = detect_outliers(pl.scan_parquet(rows), watched, rules.anomalies)
        files["anomalies"] = out / "anomalies.csv"
        _write_anomalies(outliers, files["anomalies"])
    samples += [
        SampleAnomaly(row=o.row, reason=o.reason, kind=o.kind) for o in outliers[: opts.sample_size]
    ]
    for col, n in summary.per_column.items():
        per_column[col] = per_column.get(col, 0) + n
    if v.prepared.ragged_rows:
        per_column["(unparsed rows)"] = v.prepared.ragged_rows
    flagged = [c for c, n in sorted(per_column.items(), key=lambda kv: -kv[1]) if n > 0]
    report = InsightReport(
        file=src.name,
        timestamp=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        records=v.records,
        anomalies_detected=failing + summary.rows,
        fields_flagged=flagged,
        sample_anomalies=sorted(samples, key=lambda s: s.row)[: opts.sample_size],
        dataset=rules.dataset,
        rules_version=rules.version,
        rows_curated=0
        if decision is Decision.QUARANTINED
        else v.records - v.duplicates_removed - failing,
        rows_quarantined=v.records - v.duplicates_removed
        if decision is Decision.QUARANTINED
        else failing,
        duplicate_rows_removed=v.duplicates_removed,
        failure_rate=round(failing / v.records, 6) if v.records else 0.0,
        rule_counts=counts,
        column_failures=per_column,
        cleaning=cleaning_counts(v),
        outliers=summary,
        decision=decision,
        decision_reason=why,
        encoding=v.encoding,
        delimiter=v.delimiter,
        missing_columns=v.missing_columns,
        extra_columns=v.extra_columns,
    )
    files["report_json"] = out / "report.json"
    files["report_json"].write_text(report.model_dump_json(indent=2), encoding="utf-8")
    files["report_html"] = out / "report.html"
    files["report_html"].write_text(render_html(report), encoding="utf-8")
    return CheckResult(report=report, out_dir=out, files=files)
