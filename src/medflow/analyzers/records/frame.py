"""The lazy frames of one check: read, clean, type and flag, as Polars expressions.

Stage 1 (:func:`cleaned_frame`) keeps every original cell (``__raw_<name>``) beside its cleaned
text (``__txt_<name>``), the row number, a row hash for exact duplicates, and per-row counts of
cleaning changes. Stage 2 (:func:`flagged_frame`) drops duplicate rows, types the values, converts
units, and adds one failure flag per rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from medflow.analyzers.records.checks import TEXT, RuleCheck, key_column, key_hash, unique_keys
from medflow.analyzers.records.clean import (
    ROW_STEPS,
    CleaningOptions,
    category_changed,
    cleaned_text,
    marker_read,
    parse_iso_date,
    plain_number,
    sex_changed,
    trim_changed,
    typed_value,
    unit_factors,
)
from medflow.analyzers.records.dates import DateDecision, split_time
from medflow.analyzers.records.rules import ColumnType, RuleSet

ROW = "__row"
RAW = "__raw_"
HASH = "__hash"
COUNT = "__c_"
FIRST = "__first"
COPIES = "__copies"
ISO = "__iso_"
TRIM = "__trim_"


@dataclass(frozen=True)
class Columns:
    """The file's columns: names as written and the names rules use (normalised or not)."""

    raw: tuple[str, ...]
    names: tuple[str, ...]


def cleaned_frame(
    base: pl.LazyFrame, cols: Columns, rules: RuleSet, opts: CleaningOptions
) -> pl.LazyFrame:
    """Stage 1: raw cells, cleaned text, row hash and per-row cleaning counts."""
    exprs: list[pl.Expr] = [pl.col(ROW)]
    trims: list[pl.Expr] = []
    sexes: list[pl.Expr] = []
    categories: list[pl.Expr] = []
    markers: list[pl.Expr] = []
    if opts.trim:
        # Each cell is trimmed once, into a column the text, the count and sex codes all read.
        base = base.with_columns(
            [
                pl.col(r).str.strip_chars().alias(f"{TRIM}{n}")
                for r, n in zip(cols.raw, cols.names, strict=True)
            ]
        )
    for raw, name in zip(cols.raw, cols.names, strict=True):
        spec = rules.columns.get(name)
        src = pl.col(raw)
        trimmed = pl.col(f"{TRIM}{name}") if opts.trim else None
        exprs.append(src.alias(f"{RAW}{name}"))
        exprs.append(cleaned_text(src, spec, opts, trimmed).alias(f"{TEXT}{name}"))
        trims.append(trim_changed(src, opts, trimmed))
        if spec is None:
            continue
        if spec.normalize == "sex" and opts.sex_codes:
            sexes.append(sex_changed(src, spec, opts, trimmed))
        elif spec.ignore_case and spec.allowed and opts.sex_codes:
            categories.append(category_changed(src, spec, opts, trimmed))
        marker = marker_read(src, spec, opts, trimmed)
        if marker is not None:
            markers.append(marker)

    def count(flags: list[pl.Expr], name: str) -> pl.Expr:
        if not flags:
            return pl.lit(0, dtype=pl.UInt32).alias(f"{COUNT}{name}")
        return pl.sum_horizontal([f.fill_null(False).cast(pl.UInt32) for f in flags]).alias(
            f"{COUNT}{name}"
        )

    exprs += [
        count(trims, "whitespace_trimmed"),
        count(sexes, "sex_codes_unified"),
        count(categories, "categories_unified"),
        count(markers, "missing_markers_read"),
    ]
    if opts.drop_duplicates:
        exprs.append(pl.struct([pl.col(r) for r in cols.raw]).hash(seed=11).alias(HASH))
    return base.select(exprs)


def duplicate_table(stage1: pl.LazyFrame) -> pl.LazyFrame:
    """Row hashes seen more than once, with the first row that carries each."""
    return (
        stage1.group_by(HASH)
        .agg(pl.col(ROW).min().alias(FIRST), pl.len().alias(COPIES))
        .filter(pl.col(COPIES) > 1)
    )


def without_duplicates(stage1: pl.LazyFrame, dupes: pl.DataFrame | None) -> pl.LazyFrame:
    """Stage 1 minus every exact duplicate row but the first of each group."""
    if dupes is None or dupes.height == 0:
        return stage1
    table = dupes.lazy().select(HASH, FIRST)
    joined = stage1.join(table, on=HASH, how="left", maintain_order="left")
    keep = pl.col(FIRST).is_null() | (pl.col(ROW) == pl.col(FIRST))
    return joined.filter(keep).drop(FIRST)


def flagged_frame(
    stage1: pl.LazyFrame,
    cols: Columns,
    rules: RuleSet,
    opts: CleaningOptions,
    checks: Sequence[RuleCheck],
    dates: Mapping[str, DateDecision] | None = None,
) -> pl.LazyFrame:
    """Stage 2: typed values (units converted) and one flag per rule, beside stage 1's columns.

    Args:
        dates: per date column, how its dates are read (decided once for the column).

    Callers select what they need; Polars prunes the work behind the columns they leave out.
    """
    decisions: Mapping[str, DateDecision] = dates or {}
    typed: list[pl.Expr] = []
    unit_counts: list[pl.Expr] = []
    number_counts: list[pl.Expr] = []
    rewritten_units: dict[str, pl.Expr] = {}
    dated = (ColumnType.DATE, ColumnType.DATETIME)
    date_cols = [n for n in cols.names if n in rules.columns and rules.columns[n].type in dated]

    # Dates are parsed as ISO 8601 first, into columns of their own, so the other formats and
    # the cleaning count read that parse instead of repeating it. A timestamp's date part is
    # what is compared with ISO 8601.
    def day_text(n: str) -> pl.Expr:
        text = pl.col(f"{TEXT}{n}")
        decision = decisions.get(n)
        return split_time(text)[0] if decision is not None and decision.with_time else text

    stage1 = stage1.with_columns(
        [parse_iso_date(day_text(n)).alias(f"{ISO}{n}") for n in date_cols]
    )
    for name in cols.names:
        spec = rules.columns.get(name)
        text = pl.col(f"{TEXT}{name}")
        if spec is None:
            typed.append(text.alias(name))
            continue
        decision = decisions.get(name)
        plain = spec.type is ColumnType.DATE and not (decision and decision.with_time)
        iso = pl.col(f"{ISO}{name}") if plain else None
        value = typed_value(text, spec, opts, decision, iso)
        if spec.normalize == "number" and opts.sex_codes and spec.type not in dated:
            number_counts.append(
                (plain_number(text) != text).fill_null(False) & value.is_not_null()
            )
        if spec.unit is not None and opts.units and spec.unit.column in cols.names:
            unit_text = pl.col(f"{TEXT}{spec.unit.column}")
            scale, offset, known = unit_factors(unit_text, spec.unit.quantity, spec.unit.to)
            changes = known & (unit_text.str.strip_chars() != spec.unit.to) & value.is_not_null()
            value = pl.when(changes).then(value * scale + offset).otherwise(value)
            unit_counts.append(changes.fill_null(False))
            rewritten_units[spec.unit.column] = (
                pl.when(known).then(pl.lit(spec.unit.to)).otherwise(unit_text)
            )
        typed.append(value.alias(name))

    def total(flags: list[pl.Expr]) -> pl.Expr:
        if not flags:
            return pl.lit(0, dtype=pl.UInt32)
        return pl.sum_horizontal([f.cast(pl.UInt32) for f in flags])

    typed.append(total(unit_counts).alias(f"{COUNT}units_normalised"))
    typed.append(total(number_counts).alias(f"{COUNT}numbers_normalised"))
    if opts.dates and date_cols:
        rewritten = [pl.col(f"{ISO}{n}").is_null() & pl.col(n).is_not_null() for n in date_cols]
        rewrites = pl.sum_horizontal([r.cast(pl.UInt32) for r in rewritten])
    else:
        rewrites = pl.lit(0, dtype=pl.UInt32)
    # Values and unit counts read the units as written; the unit columns are rewritten after.
    staged = stage1.with_columns(typed).with_columns(
        [e.alias(f"{TEXT}{c}") for c, e in rewritten_units.items()]
    )
    staged = staged.with_columns([pl.col(f"{TEXT}{c}").alias(c) for c in rewritten_units])
    staged = staged.with_columns(rewrites.alias(f"{COUNT}dates_to_iso"))
    # Unique keys travel as one 64-bit hash each: the whole-file pass that finds repeated keys
    # then holds 8 bytes per row, not the key's text.
    keys = unique_keys(rules, set(cols.names))
    if keys:
        staged = staged.with_columns([key_hash(k).alias(key_column(k)) for k in keys])
    staged = staged.with_columns([c.fail.alias(c.flag) for c in checks])
    return staged


def count_columns() -> list[str]:
    """The per-row cleaning-count columns."""
    return [f"{COUNT}{s}" for s in ROW_STEPS]
