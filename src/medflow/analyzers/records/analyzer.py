"""The records analyzer: a CSV in; curated rows, quarantined rows with reasons and a report out.

Pure in the architecture's sense: files in a working folder in, typed results out; no object
store, no database, no network. Every pass is a Polars streaming query, so memory stays flat as
files grow. The whole-file questions (which rows repeat, which keys repeat) work on 64-bit hashes,
counted in parts of :data:`PART_ROWS` rows split by hash value, so they too hold a bounded amount;
distinct codes are bounded by the code set. The original file is only read.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import polars as pl

from medflow.analyzers.records.checks import (
    TEXT,
    Lookups,
    RuleCheck,
    build_checks,
    key_column,
    key_name,
    late_columns,
    unique_keys,
)
from medflow.analyzers.records.clean import ROW_STEPS, CleaningOptions, normalise_names
from medflow.analyzers.records.codes import invalid_codes
from medflow.analyzers.records.dates import DateDecision, fixed, scan_decisions
from medflow.analyzers.records.errors import CsvEncodingError, CsvParseError, RuleCannotRunError
from medflow.analyzers.records.frame import (
    COPIES,
    COUNT,
    HASH,
    ROW,
    Columns,
    cleaned_frame,
    count_columns,
    duplicate_table,
    flagged_frame,
    without_duplicates,
)
from medflow.analyzers.records.infer import Inference, infer
from medflow.analyzers.records.ingest import (
    SOURCE_ROW,
    PreparedCsv,
    ReadLimits,
    inspect_csv,
    prepare_csv,
)
from medflow.analyzers.records.rules import ColumnType, RuleSet

PART_ROWS = 2_000_000
"""Rows per part when repeated keys are counted (see :func:`repeated_hashes`)."""


@dataclass(frozen=True)
class CheckOptions:
    """How a file is checked.

    Attributes:
        cleaning: which cleaning steps run.
        limits: size limit and sniffing window.
        anomalies: run the anomaly detector on rows that passed the rules.
        today: the date ``today`` means in date ranges (default: the real date).
        sample_size: how many flagged rows the report lists.
    """

    cleaning: CleaningOptions = field(default_factory=CleaningOptions)
    limits: ReadLimits = field(default_factory=ReadLimits)
    anomalies: bool = True
    today: dt.date | None = None
    sample_size: int = 20


@dataclass
class Validation:
    """The result of the validation passes, before outputs are written.

    Attributes:
        table: a Parquet file in the work folder: row number, original cells, typed values,
            one flag per rule and per-row cleaning counts, duplicates already removed.
        checks: the rules that ran.
        columns: the file's columns.
        prepared: the UTF-8 file that was read and the ragged records set aside.
        records: data rows in the file (ragged rows included).
        duplicates_removed: exact duplicate rows dropped.
        missing_columns / extra_columns: the schema comparison with the rule set (missing:
            every declared column absent from the file; only required ones are fatal).
        names_normalised: header names that cleaning renamed.
        dates: per date column, the formats decided for it.
    """

    table: Path
    checks: list[RuleCheck]
    columns: Columns
    prepared: PreparedCsv
    encoding: str
    records: int
    duplicates_removed: int
    missing_columns: list[str]
    extra_columns: list[str]
    names_normalised: int
    delimiter: str = ","
    reject_extra: bool = False
    duplicates: pl.DataFrame | None = None
    dates: dict[str, DateDecision] = field(default_factory=dict)
    missing_required: list[str] = field(default_factory=list)

    def flags(self) -> pl.LazyFrame:
        """Row numbers, every rule's flag and cleaning counts; exact duplicates removed."""
        lf = without_duplicates(pl.scan_parquet(self.table), self.duplicates)
        late = [c.fail.alias(c.flag) for c in self.checks if c.late]
        return lf.with_columns(late) if late else lf


def _scan(prepared: PreparedCsv) -> pl.LazyFrame:
    lf = pl.scan_csv(
        prepared.path,
        separator=prepared.delimiter,
        infer_schema=False,
        has_header=True,
        quote_char='"',
        empty_string_is_null=False,
    )
    if prepared.has_source_row:
        return lf.with_columns(pl.col(SOURCE_ROW).cast(pl.Int64).alias(ROW)).drop(SOURCE_ROW)
    return lf.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))


def _ascii_head(path: Path, size: int) -> bool:
    with path.open("rb") as fh:
        return fh.read(size).isascii()


def _reference_values(path: Path, column: str, opts: CheckOptions, work: Path) -> pl.Series:
    fmt = inspect_csv(path, opts.limits)
    prepared = prepare_csv(path, fmt, work / "references")
    lf = _scan(prepared)
    raw_names = [c for c in lf.collect_schema().names() if c != ROW]
    names = dict(zip(raw_names, normalise_names(tuple(raw_names)), strict=True))
    raw = next((r for r, n in names.items() if column in (r, n)), None)
    if raw is None:
        raise CsvParseError(path.name, f"the reference file has no column {column!r}")
    values = lf.select(pl.col(raw).str.strip_chars().unique()).collect(engine="streaming")
    return values.to_series().drop_nulls()


class RecordsAnalyzer:
    """Validates, cleans and scores one CSV against a rule set.

    Args:
        rules: the dataset's rule set; None (the default) recognises each file's columns by
            meaning and infers its rules (see :mod:`.infer`), per file.
        options: cleaning, limits, anomaly detection.
    """

    def __init__(self, rules: RuleSet | None = None, options: CheckOptions | None = None) -> None:
        self._rules = rules
        self.options = options or CheckOptions()
        self.inference: Inference | None = None

    @property
    def rules(self) -> RuleSet:
        """The rule set this analyzer checks with.

        Raises:
            RuntimeError: the analyzer infers rules per file and has not been bound to one
                (see :meth:`for_file`).
        """
        if self._rules is None:
            raise RuntimeError("this analyzer infers its rules per file: call for_file first")
        return self._rules

    @property
    def infers(self) -> bool:
        """Whether rules are inferred per file (no rule set was given)."""
        return self._rules is None

    def for_file(self, path: str | Path, work: str | Path) -> RecordsAnalyzer:
        """This analyzer, or, when it infers, a copy bound to the rules inferred for ``path``.

        Raises:
            InputError: the file cannot be read as a CSV.
        """
        if self._rules is not None:
            return self
        inference = infer(path, Path(work) / "infer", limits=self.options.limits)
        bound = RecordsAnalyzer(inference.rules, self.options)
        bound.inference = inference
        return bound

    def validate(
        self, path: str | Path, work: str | Path, references: Mapping[str, Path] | None = None
    ) -> Validation:
        """Run every rule over the file and write the flagged table to ``work``.

        Args:
            path: the CSV (only read).
            work: a folder for intermediate files.
            references: other files by dataset name, for the rule set's reference rules.

        Raises:
            InputError: subclasses from :mod:`medflow.analyzers.records.errors` for files that
                cannot be read (empty, binary, too large, undecodable, broken quoting).
        """
        if self.infers:
            return self.for_file(path, work).validate(path, work, references)
        references_present(self.rules, references or {})
        return self._validate(Path(path), Path(work), references, exact=False)

    def _validate(
        self,
        src: Path,
        work_dir: Path,
        references: Mapping[str, Path] | None,
        *,
        exact: bool,
        encoding: str | None = None,
    ) -> Validation:
        work_dir.mkdir(parents=True, exist_ok=True)
        opts, rules = self.options, self.rules
        fmt = inspect_csv(src, opts.limits)
        if encoding is not None:
            fmt = replace(fmt, encoding=encoding)
        try:
            prepared = prepare_csv(src, fmt, work_dir, force_exact=exact)
        except CsvEncodingError:
            if encoding is None and _ascii_head(src, opts.limits.sample_bytes):
                return self._validate(src, work_dir, references, exact=True, encoding="cp1252")
            raise
        base = _scan(prepared)
        raw = tuple(c for c in base.collect_schema().names() if c != ROW)
        names = normalise_names(raw) if opts.cleaning.normalise_names else list(raw)
        cols = Columns(raw=raw, names=tuple(names))
        missing = [c for c in rules.columns if c not in names]
        extra = [c for c in names if c not in rules.columns]
        today = opts.today or dt.date.today()
        present = set(names)
        table = work_dir / "flags.parquet"
        try:
            dates = self._date_decisions(base, cols)
            local = [
                c for c in build_checks(rules, present, Lookups.empty(), today, dates) if not c.late
            ]
            # The first pass writes only what the counts and the late rules need: row numbers,
            # rule flags, cleaning counts, the row hash and the text of key/code columns. Values
            # are re-derived from the CSV when outputs are written, cheaper than a full copy.
            keep = [ROW, *(c.flag for c in local), *count_columns()]
            keep += [f"{TEXT}{c}" for c in late_columns(rules, present)]
            keep += [key_column(k) for k in unique_keys(rules, present)]
            if opts.cleaning.drop_duplicates:
                keep.append(HASH)
            self.frame(prepared, cols, local, dates=dates).select(keep).sink_parquet(
                table, compression="lz4", engine="streaming"
            )
        except pl.exceptions.ComputeError as exc:
            if "more fields" in str(exc) and not prepared.has_source_row:
                # A long row the fast width check could not see: take the exact pass.
                return self._validate(src, work_dir, references, exact=True)
            if "utf-8" in str(exc).lower() or "utf8" in str(exc).lower():
                # The sniffed window was plain ASCII and a later byte is not UTF-8: an 8-bit
                # export (Windows-1252) whose first accent comes late. Read it so.
                if encoding is None and _ascii_head(src, opts.limits.sample_bytes):
                    return self._validate(src, work_dir, references, exact=True, encoding="cp1252")
                raise CsvEncodingError(
                    src.name, "the file mixes UTF-8 with bytes that are not UTF-8"
                ) from exc
            raise CsvParseError(src.name, "the file could not be parsed as CSV") from exc
        dupes = None
        if opts.cleaning.drop_duplicates:
            dupes = _duplicates(pl.scan_parquet(table))
        deduped = without_duplicates(pl.scan_parquet(table), dupes)
        lookups = self._lookups(deduped, present, references or {}, work_dir)
        late = [c for c in build_checks(rules, present, lookups, today, dates) if c.late]
        removed = 0 if dupes is None else int((dupes[COPIES] - 1).sum())
        kept = int(pl.scan_parquet(table).select(pl.len()).collect().item()) - removed
        return Validation(
            table=table,
            checks=local + late,
            columns=cols,
            prepared=prepared,
            encoding=fmt.encoding,
            records=kept + removed + prepared.ragged_rows,
            duplicates_removed=removed,
            missing_columns=missing,
            extra_columns=extra,
            names_normalised=sum(1 for r, n in zip(raw, names, strict=True) if r != n),
            delimiter=fmt.delimiter,
            reject_extra=rules.decision.extra_columns == "reject",
            duplicates=dupes,
            dates=dates,
            missing_required=required_absent(rules, names),
        )

    def _date_decisions(self, base: pl.LazyFrame, cols: Columns) -> dict[str, DateDecision]:
        """Each date column's formats: pinned by the rules, or decided from all its values."""
        rules, opts = self.rules, self.options
        raw_of = dict(zip(cols.names, cols.raw, strict=True))
        dated = [c for c in rules.date_columns() if c in raw_of]
        out: dict[str, DateDecision] = {}
        open_cols: dict[str, str] = {}
        for c in dated:
            spec = rules.columns[c]
            if not opts.cleaning.dates:
                out[c] = fixed("%Y-%m-%d", spec.type is ColumnType.DATETIME)
            elif spec.date_format is not None:
                out[c] = fixed(spec.date_format, spec.type is ColumnType.DATETIME)
            else:
                open_cols[c] = raw_of[c]
        out.update(scan_decisions(base, open_cols, rules.date_formats))
        return out

    def frame(
        self,
        prepared: PreparedCsv,
        cols: Columns,
        checks: list[RuleCheck],
        rows: pl.Expr | None = None,
        *,
        dates: Mapping[str, DateDecision] | None = None,
    ) -> pl.LazyFrame:
        """The file as a lazy frame: raw cells, cleaned text, typed values, one flag per check.

        Args:
            prepared: the file to read.
            cols: its columns.
            checks: the rules whose flags to add.
            rows: a predicate on the row number, applied straight after reading, so cleaning
                and rules run only on the rows asked for.
            dates: per date column, how its dates are read (:attr:`Validation.dates`).
        """
        opts = self.options
        base = _scan(prepared)
        if rows is not None:
            base = base.filter(rows)
        stage1 = cleaned_frame(base, cols, self.rules, opts.cleaning)
        return flagged_frame(stage1, cols, self.rules, opts.cleaning, checks, dates)

    def _lookups(
        self,
        table: pl.LazyFrame,
        present: set[str],
        references: Mapping[str, Path],
        work: Path,
    ) -> Lookups:
        """Whole-file values for the late rules: repeated keys, distinct codes, references."""
        rules, opts = self.rules, self.options
        code_cols = [n for n, s in rules.columns.items() if s.code is not None and n in present]
        queries = [table.select(pl.col(f"{TEXT}{c}").unique().drop_nulls()) for c in code_cols]
        results = pl.collect_all(queries, engine="streaming") if queries else []
        bad_codes: dict[str, list[str]] = {}
        for c, found in zip(code_cols, results, strict=True):
            values = found.to_series().to_list()
            system = rules.columns[c].code
            assert system is not None
            bad_codes[c] = sorted(invalid_codes(system.value, values))
        dup_keys = {
            key_name(k): repeated_hashes(table, key_column(k)) for k in unique_keys(rules, present)
        }
        ref_values = {
            r.id: _reference_values(references[r.dataset], r.ref_column, opts, work)
            for r in rules.references
            if r.dataset in references
        }
        return Lookups(bad_codes, dup_keys, ref_values)


def required_absent(rules: RuleSet, names: Iterable[str]) -> list[str]:
    """The required columns of ``rules`` that ``names`` (a file's column names) lacks.

    Only these make a file unusable; absent optional columns are reported, not fatal.
    """
    present = set(names)
    return [c for c, spec in rules.columns.items() if spec.required and c not in present]


def references_present(rules: RuleSet, references: Collection[str]) -> None:
    """A reference rule without its file cannot run: say so instead of skipping it.

    Args:
        rules: the rule set.
        references: the dataset names of the reference files given.

    Raises:
        RuleCannotRunError: a reference rule's file was not given.
    """
    for r in rules.references:
        if r.dataset not in references:
            raise RuleCannotRunError(
                rules.dataset,
                f"rule {r.id!r} checks {r.column} against the {r.dataset!r} file, which was not "
                f"given: pass --ref {r.dataset}=FILE",
            )


def _parts(table: pl.LazyFrame, column: str, part_rows: int) -> int:
    rows = int(table.select(pl.col(column).count()).collect(engine="streaming").item())
    return max(1, -(-rows // part_rows))


def _duplicates(table: pl.LazyFrame, part_rows: int = PART_ROWS) -> pl.DataFrame:
    """Exact duplicate rows (see :func:`duplicate_table`), counted in bounded parts by hash."""
    parts = _parts(table, HASH, part_rows)
    found = [
        duplicate_table(table.filter(pl.col(HASH) % parts == i) if parts > 1 else table).collect(
            engine="streaming"
        )
        for i in range(parts)
    ]
    return pl.concat(found)


def repeated_hashes(table: pl.LazyFrame, column: str, part_rows: int = PART_ROWS) -> pl.Series:
    """The hashes that occur on more than one row of ``column`` (nulls ignored).

    Finding repeats needs every distinct key at once. To keep that bounded, the hashes are split
    by value into parts of about ``part_rows`` rows and each part is counted on its own: a
    repeated hash always falls in a single part. Memory then stays near ``part_rows`` x 8 bytes
    whatever the file's length, at the price of one cheap re-read of the hash column per part.
    """
    h = pl.col(column)
    parts = _parts(table, column, part_rows)
    found: list[pl.Series] = []
    for i in range(parts):
        mine = h.is_not_null() if parts == 1 else (h % parts == i)
        found.append(
            table.select(h)
            .filter(mine)
            .group_by(column)
            .agg(pl.len().alias("__n"))
            .filter(pl.col("__n") > 1)
            .select(column)
            .collect(engine="streaming")
            .to_series()
        )
    return pl.concat(found) if found else pl.Series(column, [], dtype=pl.UInt64)


def cleaning_counts(validation: Validation) -> dict[str, int]:
    """Changes made by each cleaning step, from the flagged table."""
    cols = list(ROW_STEPS)
    sums = validation.flags().select([pl.col(f"{COUNT}{c}").sum().alias(c) for c in cols])
    out = {k: int(v[0] or 0) for k, v in sums.collect().to_dict(as_series=False).items()}
    out["column_names_normalised"] = validation.names_normalised
    out["duplicate_rows_removed"] = validation.duplicates_removed
    return out


def copy_original(src: Path, dest_dir: Path) -> Path:
    """Copy the original file, byte for byte, into ``dest_dir`` (whole-file quarantine)."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / src.name
    shutil.copyfile(src, dest)
    return dest
