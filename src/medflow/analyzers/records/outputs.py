"""Writing a check's results: curated rows, quarantined rows with every reason, the report.

The output folder receives ``curated.csv`` and ``curated.parquet`` (typed, cleaned),
``quarantined_rows.csv`` (original cells, 1-based ``row``, ``reasons``), ``unparsed_rows.csv``
(records of the wrong width, raw), ``duplicate_rows.csv`` (removed duplicates and the row each
repeats), ``anomalies.csv``, ``report.json`` and ``report.html``; when the rules were inferred,
``rules.inferred.yaml`` too, for a person to edit and pass back with ``--rules``. A file
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
from medflow.analyzers.records.clean import MISSING_MARKERS
from medflow.analyzers.records.dates import describe_all
from medflow.analyzers.records.frame import FIRST, HASH, RAW, ROW, count_columns
from medflow.analyzers.records.html import render_html
from medflow.analyzers.records.infer import describe
from medflow.analyzers.records.report import (
    CellChange,
    Decision,
    DuplicateRow,
    InsightReport,
    OutlierSummary,
    RecognisedColumn,
    SampleAnomaly,
)
from medflow.analyzers.records.rules import ColumnSpec, ColumnType, dump_rules


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


def _excluded_rows(v: Validation) -> tuple[pl.Series, pl.DataFrame]:
    """Row numbers of failing rows, and the exact duplicates removed (row, duplicate_of)."""
    failing = v.flags().filter(_any_fail(v)).select(ROW).collect(engine="streaming").to_series()
    removed = pl.DataFrame(
        {"row": pl.Series([], dtype=pl.Int64), "duplicate_of": pl.Series([], dtype=pl.Int64)}
    )
    if v.duplicates is not None and v.duplicates.height:
        firsts = v.duplicates.lazy().select(HASH, FIRST)
        removed = (
            pl.scan_parquet(v.table)
            .select(ROW, HASH)
            .join(firsts, on=HASH, how="inner")
            .filter(pl.col(ROW) != pl.col(FIRST))
            .select(pl.col(ROW).alias("row"), pl.col(FIRST).cast(pl.Int64).alias("duplicate_of"))
            .sort("row")
            .collect(engine="streaming")
        )
    return failing, removed


def _write_quarantine(
    analyzer: RecordsAnalyzer, v: Validation, failing: pl.Series, dest: Path
) -> None:
    wanted = pl.col(ROW).is_in(failing.implode())
    lf = analyzer.frame(v.prepared, v.columns, v.checks, wanted, dates=v.dates)
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
    analyzer: RecordsAnalyzer,
    v: Validation,
    excluded: pl.Series,
    work: Path,
    out_dir: Path,
    sampled: pl.Series,
) -> tuple[Path, Path, Path]:
    """Curated rows, typed: a work copy with row numbers (for the detector) and the outputs.

    The work copy also keeps the original cells of the ``sampled`` rows (null elsewhere), so
    the report's before/after samples need no other pass over the file.
    """
    rows, parquet, csv_path = (
        work / "curated_rows.parquet",
        out_dir / "curated.parquet",
        out_dir / "curated.csv",
    )
    names = list(v.columns.names)
    frame = analyzer.frame(
        v.prepared, v.columns, [], ~pl.col(ROW).is_in(excluded.implode()), dates=v.dates
    )
    keep = pl.col(ROW).is_in(sampled.implode())
    originals = [pl.when(keep).then(pl.col(f"{RAW}{n}")).alias(f"{RAW}{n}") for n in names]
    frame.select(ROW, *names, *originals).sink_parquet(rows, compression="lz4", engine="streaming")
    pl.scan_parquet(rows).select(names).sink_parquet(parquet, engine="streaming")
    pl.scan_parquet(rows).select(names).sink_csv(csv_path, engine="streaming")
    return rows, csv_path, parquet


def _sample_rows(v: Validation, excluded: pl.Series, size: int) -> pl.Series:
    """Up to ``size`` curated rows per cleaning step that changed something in them."""
    flags = v.flags().filter(~pl.col(ROW).is_in(excluded.implode()))
    found: list[pl.Series] = []
    for c in count_columns():
        got = flags.filter(pl.col(c) > 0).select(ROW).head(size).collect(engine="streaming")
        found.append(got.to_series())
    return pl.concat(found).unique() if found else pl.Series(ROW, [], dtype=pl.Int64)


def _shown(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _step(
    spec: ColumnSpec | None, before: str, after: str, unit_columns: set[str], name: str
) -> str:
    """Which cleaning step turned ``before`` into ``after``."""
    if before.strip() == after:
        return "whitespace_trimmed"
    if after == "" and before.strip() in MISSING_MARKERS:
        return "missing_markers_read"
    if spec is None:
        return "whitespace_trimmed"
    if spec.type in (ColumnType.DATE, ColumnType.DATETIME):
        return "dates_to_iso"
    if spec.normalize == "sex":
        return "sex_codes_unified"
    if spec.unit is not None or name in unit_columns:
        return "units_normalised"
    if spec.normalize == "number":
        return "numbers_normalised"
    return "categories_unified"


def _cleaning_samples(
    analyzer: RecordsAnalyzer, v: Validation, rows_path: Path, size: int
) -> list[CellChange]:
    """Changed cells, before and after, up to ``size`` per step, from the sampled rows."""
    rules = analyzer.rules
    names = list(v.columns.names)
    unit_columns = {s.unit.column for s in rules.columns.values() if s.unit is not None}
    frame = (
        pl.scan_parquet(rows_path)
        .filter(
            pl.col(f"{RAW}{names[0]}").is_not_null()
            | pl.any_horizontal([pl.col(f"{RAW}{n}").is_not_null() for n in names])
        )
        .collect()
    )
    out: dict[str, list[CellChange]] = {}
    for rec in frame.sort(ROW).iter_rows(named=True):
        for n in names:
            raw = rec[f"{RAW}{n}"]
            before = "" if raw is None else str(raw)
            spec = rules.columns.get(n)
            after_value = rec[n]
            after = _shown(after_value)
            numeric = spec is not None and spec.type in (ColumnType.INTEGER, ColumnType.FLOAT)
            if numeric and after_value is not None and spec is not None:
                try:
                    same = float(before.strip()) == float(after_value)
                except ValueError:
                    same = False
                if same:
                    continue
            if before == after or (before.strip() == "" and after == ""):
                continue
            step = _step(spec, before, after, unit_columns, n)
            bucket = out.setdefault(step, [])
            if len(bucket) < size:
                bucket.append(
                    CellChange(row=rec[ROW], column=n, step=step, before=before, after=after)
                )
    return [c for step in sorted(out) for c in out[step]]


def _rules_text(analyzer: RecordsAnalyzer, src: Path) -> str:
    """The inferred rule set as YAML, headed by what each column was recognised as."""
    assert analyzer.inference is not None
    lines = [
        f"# Rules inferred by medflow from {src.name}: edit them and pass them back with",
        f"#   medflow records check {src.name} --rules rules.inferred.yaml",
        "# Columns recognised (column: meaning, unit, how):",
    ]
    for d in describe(analyzer.inference.columns):
        unit = f", {d['unit']}" if d["unit"] else ""
        lines.append(f"#   {d['column']}: {d['meaning']}{unit} ({d['how']})")
    return "\n".join(lines) + "\n" + dump_rules(analyzer.rules)


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
        return _check(analyzer.for_file(src, work), src, out, work, references)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _decide(v: Validation, failing: int, rules_rate: float) -> tuple[Decision, str]:
    # Only a required column's absence is fatal; optional ones are reported (missing_columns).
    if v.missing_required:
        return Decision.QUARANTINED, "schema mismatch: missing required columns " + ", ".join(
            v.missing_required
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
    inferred_rules: Path | None = None
    if analyzer.inference is not None:
        inferred_rules = out / "rules.inferred.yaml"
        inferred_rules.write_text(_rules_text(analyzer, src), encoding="utf-8")
    files: dict[str, Path] = {}
    if inferred_rules is not None:
        files["rules_inferred"] = inferred_rules
    counts, per_column, failing_rows = rule_stats(v)
    failing = failing_rows + v.prepared.ragged_rows
    decision, why = _decide(v, failing, rules.decision.max_failure_rate)
    failing_ids, removed = _excluded_rows(v)
    removed_ids = removed["row"].alias(ROW)
    if removed.height:
        files["duplicate_rows"] = out / "duplicate_rows.csv"
        removed.write_csv(files["duplicate_rows"])
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
    changes: list[CellChange] = []
    if decision is Decision.QUARANTINED:
        files["quarantined_file"] = copy_original(src, out / "quarantine")
    else:
        excluded = pl.concat([failing_ids, removed_ids])
        sampled = _sample_rows(v, excluded, opts.sample_size)
        rows, files["curated_csv"], files["curated_parquet"] = _write_curated(
            analyzer, v, excluded, work, out, sampled
        )
        changes = _cleaning_samples(analyzer, v, rows, opts.sample_size)
        if opts.anomalies:
            watched = [
                c
                for c in (
                    rules.numeric_columns()
                    if rules.anomalies.columns is None
                    else rules.anomalies.columns
                )
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
        cleaning_samples=changes,
        duplicate_rows=[
            DuplicateRow(row=r, duplicate_of=f)
            for r, f in removed.head(opts.sample_size).iter_rows()
        ],
        date_formats=describe_all(v.dates),
        rules_inferred=analyzer.inference is not None,
        rules_file=inferred_rules.name if inferred_rules is not None else None,
        recognised_columns=[RecognisedColumn(**d) for d in describe(analyzer.inference.columns)]
        if analyzer.inference is not None
        else [],
    )
    files["report_json"] = out / "report.json"
    files["report_json"].write_text(report.model_dump_json(indent=2), encoding="utf-8")
    files["report_html"] = out / "report.html"
    files["report_html"].write_text(render_html(report), encoding="utf-8")
    return CheckResult(report=report, out_dir=out, files=files)
