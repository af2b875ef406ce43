"""The Transformer: clean and validate every row, and write curated and quarantined rows.

:func:`transform` is the second of the three phases of
:func:`~medflow.analyzers.records.check_file`. It writes ``quarantined_rows.csv`` (original
cells, 1-based ``row``, ``reasons``), ``unparsed_rows.csv`` (records of the wrong width, raw),
``duplicate_rows.csv`` (removed duplicates and the row each repeats), ``curated.csv`` and
``curated.parquet`` (typed, cleaned; not for a file quarantined whole) and, when the rules were
inferred, ``rules.inferred.yaml``, for a person to edit and pass back with ``--rules``. What it
found travels to the Analyzer as :class:`Transformed` (JSON) beside :data:`CURATED_ROWS`.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict

from medflow.analyzers.records.analyzer import (
    CheckOptions,
    RecordsAnalyzer,
    Validation,
    cleaning_counts,
)
from medflow.analyzers.records.checks import TEXT
from medflow.analyzers.records.clean import MISSING_MARKERS
from medflow.analyzers.records.dates import describe_all
from medflow.analyzers.records.frame import FIRST, HASH, RAW, ROW, count_columns
from medflow.analyzers.records.plan import INFERRED_RULES_FILE, Plan
from medflow.analyzers.records.report import (
    CellChange,
    Decision,
    DuplicateRow,
    SampleAnomaly,
)
from medflow.analyzers.records.rules import ColumnSpec, ColumnType


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
    rows: Path,
    out_dir: Path,
    sampled: pl.Series,
) -> tuple[Path, Path, Path]:
    """Curated rows, typed: ``rows`` with row numbers (for the detector) and the outputs.

    ``rows`` also keeps the original cells of the ``sampled`` rows (null elsewhere), so the
    report's before/after samples need no other pass over the file.
    """
    parquet, csv_path = out_dir / "curated.parquet", out_dir / "curated.csv"
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


CURATED_ROWS = "curated_rows.parquet"
"""The Transformer's hand-off to the Analyzer: curated rows, typed, with their row numbers."""


class Transformed(BaseModel):
    """What the Transformer found and wrote: everything the Analyzer's report needs besides
    the plan and the curated rows, as JSON (it holds sample cells: keep it with the data).

    Attributes:
        records: data rows in the file (unparsed records included).
        duplicates_removed: exact duplicate rows dropped.
        unparsed_rows: records of the wrong width, set aside.
        failing: rows that failed a rule, unparsed records included.
        decision / decision_reason: what the rules make of the file (see :func:`decide`).
        rule_counts: failing rows per rule id; column_failures: failures charged per column.
        samples: the first rule failures and unparsed records.
        cleaning: changes per cleaning step; cleaning_samples: changed cells, before/after.
        duplicate_rows: the first removed duplicates.
        date_formats: per date column, the formats decided.
        encoding / delimiter: how the file was read.
        missing_columns / extra_columns: the schema comparison.
        columns: the file's column names (normalised).
        files: output name -> file name in the output folder.
        curated_rows: the hand-off file's name (:data:`CURATED_ROWS`), None when the file is
            quarantined whole.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    records: int
    duplicates_removed: int
    unparsed_rows: int
    failing: int
    decision: Decision
    decision_reason: str
    rule_counts: dict[str, int]
    column_failures: dict[str, int]
    samples: list[SampleAnomaly]
    cleaning: dict[str, int]
    cleaning_samples: list[CellChange]
    duplicate_rows: list[DuplicateRow]
    date_formats: dict[str, str]
    encoding: str
    delimiter: str
    missing_columns: list[str]
    extra_columns: list[str]
    columns: list[str]
    files: dict[str, str]
    curated_rows: str | None = None

    def summary(self) -> dict[str, Any]:
        """Counts and the decision, as a pipeline records them (no cell values)."""
        return {
            "decision": self.decision.value,
            "records": self.records,
            "failing": self.failing,
            "duplicates_removed": self.duplicates_removed,
            "unparsed_rows": self.unparsed_rows,
        }


def decide(v: Validation, failing: int, max_failure_rate: float) -> tuple[Decision, str]:
    """Whether the rules accept the file, keep part of it, or quarantine it whole, and why.

    Args:
        v: the validation.
        failing: rows that failed a rule, unparsed records included.
        max_failure_rate: the rule set's threshold for quarantining the whole file.
    """
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
    if rate > max_failure_rate:
        return Decision.QUARANTINED, (
            f"failure rate {rate:.1%} is above the threshold {max_failure_rate:.1%}"
        )
    if failing:
        return Decision.PARTIAL, f"{failing} of {v.records} rows failed a rule and were quarantined"
    return Decision.ACCEPTED, "every row passed the rules"


def transform(
    plan: Plan,
    options: CheckOptions,
    path: str | Path,
    work: str | Path,
    out: str | Path,
    handoff: str | Path,
    references: Mapping[str, Path] | None = None,
) -> Transformed:
    """The Transformer: clean and validate every row, and write what the rules decide.

    Writes to ``out``: ``quarantined_rows.csv``, ``unparsed_rows.csv`` (when records had the
    wrong width), ``duplicate_rows.csv`` (when duplicates were removed), ``rules.inferred.yaml``
    (inferred rules); unless the rules quarantine the file whole, ``curated.csv`` and
    ``curated.parquet``, and :data:`CURATED_ROWS` to ``handoff`` for the Analyzer. Whether the
    file is quarantined whole is decided here, from the validation (:func:`decide`), because it
    decides whether curated rows are worth typing and writing at all.

    Args:
        plan: the Initiator's plan (its rules check the file).
        options: cleaning, limits, sample size.
        path: the CSV (only read).
        work: a folder for this phase's intermediate files (not needed afterwards).
        out: the output folder.
        handoff: the folder the Analyzer reads from.
        references: other files by dataset name, for the rule set's reference rules.

    Raises:
        InputError: the file cannot be read as a CSV (see :meth:`RecordsAnalyzer.validate`).
    """
    analyzer = plan.analyzer(options)
    src, out_dir, hand = Path(path), Path(out), Path(handoff)
    out_dir.mkdir(parents=True, exist_ok=True)
    hand.mkdir(parents=True, exist_ok=True)
    size = options.sample_size
    v = analyzer.validate(src, work, references)
    files: dict[str, Path] = {}
    if plan.inferred:
        files["rules_inferred"] = out_dir / INFERRED_RULES_FILE
        files["rules_inferred"].write_text(plan.rules_text(), encoding="utf-8")
    counts, per_column, failing_rows = rule_stats(v)
    failing = failing_rows + v.prepared.ragged_rows
    decision, why = decide(v, failing, plan.rules.decision.max_failure_rate)
    failing_ids, removed = _excluded_rows(v)
    removed_ids = removed["row"].alias(ROW)
    if removed.height:
        files["duplicate_rows"] = out_dir / "duplicate_rows.csv"
        removed.write_csv(files["duplicate_rows"])
    files["quarantined_rows"] = out_dir / "quarantined_rows.csv"
    _write_quarantine(analyzer, v, failing_ids, files["quarantined_rows"])
    samples = _samples(files["quarantined_rows"], size)
    if v.prepared.ragged_path is not None:
        files["unparsed_rows"] = out_dir / "unparsed_rows.csv"
        shutil.copyfile(v.prepared.ragged_path, files["unparsed_rows"])
        ragged = pl.read_csv(v.prepared.ragged_path, n_rows=size, infer_schema=False)
        samples += [
            SampleAnomaly(row=int(r["row"]), reason=r["reason"], kind="unparsed")
            for r in ragged.iter_rows(named=True)
        ]
    changes: list[CellChange] = []
    curated_rows: str | None = None
    if decision is not Decision.QUARANTINED:
        excluded = pl.concat([failing_ids, removed_ids])
        sampled = _sample_rows(v, excluded, size)
        rows, files["curated_csv"], files["curated_parquet"] = _write_curated(
            analyzer, v, excluded, hand / CURATED_ROWS, out_dir, sampled
        )
        changes = _cleaning_samples(analyzer, v, rows, size)
        curated_rows = rows.name
    return Transformed(
        records=v.records,
        duplicates_removed=v.duplicates_removed,
        unparsed_rows=v.prepared.ragged_rows,
        failing=failing,
        decision=decision,
        decision_reason=why,
        rule_counts=counts,
        column_failures=per_column,
        samples=samples,
        cleaning=cleaning_counts(v),
        cleaning_samples=changes,
        duplicate_rows=[
            DuplicateRow(row=r, duplicate_of=f) for r, f in removed.head(size).iter_rows()
        ],
        date_formats=describe_all(v.dates),
        encoding=v.encoding,
        delimiter=v.delimiter,
        missing_columns=v.missing_columns,
        extra_columns=v.extra_columns,
        columns=list(v.columns.names),
        files={name: p.name for name, p in files.items()},
        curated_rows=curated_rows,
    )
