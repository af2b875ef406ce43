"""Cleaning as Polars expressions, each change counted.

Every step can be switched off (:class:`CleaningOptions`). Each cleaned cell comes with a flag
saying whether a step changed it, so the report counts changes per step without a second pass:
trimmed whitespace, column names normalised, dates re-written to ISO 8601, sex/gender codes
unified (HL7 v2 Table 0001 / FHIR administrative-gender, see ``data/sex_codes.yaml``), units
converted (NIST SP 811, see ``data/units.yaml``) and exact duplicate rows removed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import polars as pl
import yaml

from medflow.analyzers.records.dates import (
    ISO_DATE,
    DateDecision,
    parse_dates,
    parse_datetime,
    split_time,
)
from medflow.analyzers.records.rules import ColumnSpec, ColumnType

_PACKAGE = "medflow.analyzers.records"
CLEANING_STEPS = (
    "column_names_normalised",
    "whitespace_trimmed",
    "dates_to_iso",
    "sex_codes_unified",
    "categories_unified",
    "missing_markers_read",
    "numbers_normalised",
    "units_normalised",
    "duplicate_rows_removed",
)
ROW_STEPS = CLEANING_STEPS[1:-1]
"""The steps counted per row (names and duplicates are counted per file)."""


@dataclass(frozen=True)
class CleaningOptions:
    """Which cleaning steps run (all by default).

    Attributes:
        normalise_names: ``" Admission Date"`` -> ``admission_date``.
        trim: strip surrounding whitespace; a cell left empty becomes missing.
        dates: read each date column in its own format (decided once per column) and write
            ISO 8601; off, only ISO 8601 dates are read.
        sex_codes: unify sex/gender codes in columns declared ``normalize: sex``; with it,
            allowed values declared ``ignore_case`` take their listed spelling and numbers
            declared ``normalize: number`` lose currency signs and thousands separators.
        units: convert declared unit columns to their target unit.
        drop_duplicates: remove exact duplicate rows (all cells equal), keeping the first.
    """

    normalise_names: bool = True
    trim: bool = True
    dates: bool = True
    sex_codes: bool = True
    units: bool = True
    drop_duplicates: bool = True

    @classmethod
    def off(cls) -> CleaningOptions:
        """Every step switched off: the file is checked as written."""
        return cls(False, False, False, False, False, False)


def _load(name: str) -> Any:
    text = resources.files(_PACKAGE).joinpath("data", name).read_text(encoding="utf-8")
    return yaml.safe_load(text)


@cache
def sex_code_map() -> dict[str, str]:
    """Lower-case variant -> unified sex code, from ``data/sex_codes.yaml``."""
    data = _load("sex_codes.yaml")
    out = {str(k).lower(): str(v) for k, v in data["variants"].items()}
    out.update({c.lower(): c for c in data["canonical"]})
    return out


@cache
def unit_table() -> dict[str, dict[str, tuple[float, float]]]:
    """quantity -> lower-case unit -> (factor, offset) to the quantity's base unit."""
    data = _load("units.yaml")["quantities"]
    return {
        q: {
            str(u).lower(): (float(v["factor"]), float(v.get("offset", 0.0))) for u, v in us.items()
        }
        for q, us in data.items()
    }


def normalise_name(name: str) -> str:
    """A column name in snake_case: trimmed, lower-case, non-alphanumerics as ``_``."""
    cleaned = re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")
    return cleaned or "column"


def normalise_names(header: tuple[str, ...]) -> list[str]:
    """Normalised names for a header, made unique with ``_2``, ``_3`` suffixes."""
    out: list[str] = []
    for i, h in enumerate(header):
        base = normalise_name(h) if h.strip() else f"column_{i + 1}"
        name, n = base, 2
        while name in out:
            name, n = f"{base}_{n}", n + 1
        out.append(name)
    return out


def _changed(before: pl.Expr, after: pl.Expr) -> pl.Expr:
    return before.ne_missing(after)


MISSING_MARKERS = ("NA", "N/A", "n/a", "na", "NULL", "null", "None", "NaN", "nan", "#N/A", "-", "?")
"""Cells that mean "no value" in common exports (R, Excel, SQL dumps, pandas). Read as missing
only in typed columns (numbers, dates): in a text column ``NA`` may be a value (sodium, a
region)."""


def cleaned_text(
    raw: pl.Expr, spec: ColumnSpec | None, opts: CleaningOptions, trimmed: pl.Expr | None = None
) -> pl.Expr:
    """The cell as cleaned text: trimmed (empty -> missing), sex codes and categories unified.

    Args:
        trimmed: the cell already trimmed (a column), when trimming is on, so it is not redone.
    """
    text = (raw.str.strip_chars() if trimmed is None else trimmed) if opts.trim else raw
    text = pl.when(text.str.len_bytes() == 0).then(None).otherwise(text)
    if _reads_markers(spec, opts):
        text = pl.when(text.is_in(MISSING_MARKERS)).then(None).otherwise(text)
    if spec is not None and spec.normalize == "sex" and opts.sex_codes:
        text = _lookup(text.str.to_lowercase(), sex_code_map(), text)
    elif spec is not None and spec.ignore_case and spec.allowed and opts.sex_codes:
        canonical = {v.lower(): v for v in spec.allowed}
        text = _lookup(text.str.to_lowercase(), canonical, text)
    return text


def _reads_markers(spec: ColumnSpec | None, opts: CleaningOptions) -> bool:
    # A marker means "no value" wherever the column's values have a form (a type, a code, a
    # pattern, a list) that the marker is not part of; in free text it may be a value.
    if not opts.trim or spec is None:
        return False
    if spec.type is not ColumnType.STRING or spec.code is not None:
        return True
    if spec.regex is not None:
        return not any(re.fullmatch(spec.regex, m) for m in MISSING_MARKERS)
    allowed = {v.lower() for v in spec.allowed or ()}
    return bool(allowed) and not allowed & {m.lower() for m in MISSING_MARKERS}


def marker_read(
    raw: pl.Expr, spec: ColumnSpec, opts: CleaningOptions, trimmed: pl.Expr | None = None
) -> pl.Expr | None:
    """Whether the cell was a missing-value marker read as missing (None: never in this column)."""
    if not _reads_markers(spec, opts):
        return None
    trimmed = raw.str.strip_chars() if trimmed is None else trimmed
    return trimmed.is_in(MISSING_MARKERS)


def category_changed(
    raw: pl.Expr, spec: ColumnSpec, opts: CleaningOptions, trimmed: pl.Expr | None = None
) -> pl.Expr:
    """Whether an ``ignore_case`` category took its listed spelling."""
    trimmed = (raw.str.strip_chars() if trimmed is None else trimmed) if opts.trim else raw
    return _changed(trimmed, cleaned_text(raw, spec, opts, trimmed))


def _lookup(key: pl.Expr, table: dict[str, Any], default: pl.Expr | None) -> pl.Expr:
    """``table[key]`` as a when/then chain, one branch per distinct value.

    ``replace_strict`` would do the same, but Polars' streaming engine runs it as a whole-column
    function, which holds the column in memory; an elementwise chain keeps memory flat.
    """
    by_value: dict[Any, list[str]] = {}
    for k, v in table.items():
        by_value.setdefault(v, []).append(k)
    chain: Any = pl
    for value, keys in by_value.items():
        chain = chain.when(key.is_in(keys)).then(pl.lit(value))
    if chain is pl:
        return default if default is not None else pl.lit(None)
    result: pl.Expr = chain.otherwise(default if default is not None else pl.lit(None))
    return result


def trim_changed(raw: pl.Expr, opts: CleaningOptions, trimmed: pl.Expr | None = None) -> pl.Expr:
    """Whether trimming changed the cell (``trimmed``: the cell already trimmed, if at hand)."""
    if not opts.trim:
        return pl.lit(False)
    if trimmed is None:
        trimmed = raw.str.strip_chars()
    # Trimming only removes characters: the cell changed exactly when its length did.
    return raw.str.len_bytes() != trimmed.str.len_bytes()


def sex_changed(
    raw: pl.Expr, spec: ColumnSpec, opts: CleaningOptions, trimmed: pl.Expr | None = None
) -> pl.Expr:
    """Whether sex-code unification changed the (trimmed) cell."""
    trimmed = (raw.str.strip_chars() if trimmed is None else trimmed) if opts.trim else raw
    return _changed(trimmed, cleaned_text(raw, spec, opts, trimmed))


def parse_iso_date(text: pl.Expr) -> pl.Expr:
    """The cell as an ISO 8601 date (``YYYY-MM-DD``), missing when it is not one."""
    # No cache: dates in a file are mostly distinct per chunk, and the lookup costs more than
    # the parse of a fixed format.
    return text.str.to_date(ISO_DATE, strict=False, cache=False)


_THOUSANDS = r"^[-+]?[$€£¥]?\s*[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?\s*%?$"
_DECORATION = r"^[$€£¥]\s*|\s*%$"


def plain_number(text: pl.Expr) -> pl.Expr:
    """``$1,234.50`` -> ``1234.50``, ``95%`` -> ``95``: the number a person reads.

    Commas are removed only from a number grouped in thousands (``1,234,567.89``), so a decimal
    comma (``1,5``) is never read as a thousands separator.
    """
    grouped = pl.when(text.str.contains(_THOUSANDS)).then(text.str.replace_all(",", ""))
    return grouped.otherwise(text).str.replace_all(_DECORATION, "")


def parse_number(text: pl.Expr, kind: ColumnType) -> pl.Expr:
    """The cell as a number: Float64, or Int64 when integral (``"72.0"`` is 72)."""
    as_float = text.cast(pl.Float64, strict=False)
    if kind is ColumnType.FLOAT:
        return as_float
    whole = as_float.is_finite() & (as_float == as_float.round())
    return pl.when(whole).then(as_float).otherwise(None).cast(pl.Int64, strict=False)


def unit_factors(unit_text: pl.Expr, quantity: str, to: str) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(scale, offset, known) converting a value in the row's unit into ``to``.

    value_in_to = (value * f_src + o_src - o_to) / f_to, with f, o relative to the quantity's
    base unit as listed in ``units.yaml``.
    """
    table = unit_table()[quantity]
    f_to, o_to = table[to.lower()]
    key = unit_text.str.strip_chars().str.to_lowercase()
    f_src = _lookup(key, {u: f for u, (f, _) in table.items()}, None)
    o_src = _lookup(key, {u: o for u, (_, o) in table.items()}, None)
    return f_src / f_to, (o_src - o_to) / f_to, f_src.is_not_null()


def typed_value(
    text: pl.Expr,
    spec: ColumnSpec,
    opts: CleaningOptions,
    decision: DateDecision | None = None,
    iso: pl.Expr | None = None,
) -> pl.Expr:
    """The cleaned text parsed to the declared type (missing when it does not parse).

    Args:
        decision: for a date column, how the column's dates are read (see :mod:`.dates`);
            none means ISO 8601 only.
        iso: for a date column without times, its ISO parse already computed.
    """
    decision = decision or DateDecision()
    if spec.type is ColumnType.DATETIME:
        return parse_datetime(text, decision)
    if spec.type is ColumnType.DATE:
        if decision.with_time:
            day, _ = split_time(text)
            # A date column's cells may carry a time (an export's midnight); the date is read.
            return parse_dates(day, decision)
        return parse_dates(text, decision, iso)
    if spec.type in (ColumnType.INTEGER, ColumnType.FLOAT):
        if spec.normalize == "number" and opts.sex_codes:
            text = plain_number(text)
        return parse_number(text, spec.type)
    return text
