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

from medflow.analyzers.records.rules import ColumnSpec, ColumnType, RuleSet

_PACKAGE = "medflow.analyzers.records"
ISO_DATE = "%Y-%m-%d"
CLEANING_STEPS = (
    "column_names_normalised",
    "whitespace_trimmed",
    "dates_to_iso",
    "sex_codes_unified",
    "units_normalised",
    "duplicate_rows_removed",
)


@dataclass(frozen=True)
class CleaningOptions:
    """Which cleaning steps run (all by default).

    Attributes:
        normalise_names: ``" Admission Date"`` -> ``admission_date``.
        trim: strip surrounding whitespace; a cell left empty becomes missing.
        dates: parse the rule set's other date formats and write ISO 8601.
        sex_codes: unify sex/gender codes in columns declared ``normalize: sex``.
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


def cleaned_text(
    raw: pl.Expr, spec: ColumnSpec | None, opts: CleaningOptions, trimmed: pl.Expr | None = None
) -> pl.Expr:
    """The cell as cleaned text: trimmed (empty -> missing) and sex codes unified.

    Args:
        trimmed: the cell already trimmed (a column), when trimming is on, so it is not redone.
    """
    text = (raw.str.strip_chars() if trimmed is None else trimmed) if opts.trim else raw
    text = pl.when(text.str.len_bytes() == 0).then(None).otherwise(text)
    if spec is not None and spec.normalize == "sex" and opts.sex_codes:
        text = _lookup(text.str.to_lowercase(), sex_code_map(), text)
    return text


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


def parse_date(
    text: pl.Expr, formats: tuple[str, ...], opts: CleaningOptions, iso: pl.Expr | None = None
) -> pl.Expr:
    """The cell as a date: ISO 8601 always; the rule set's other formats when cleaning dates.

    Args:
        iso: the ISO parse already computed (a column), so it is not parsed once per format.
    """
    iso = parse_iso_date(text) if iso is None else iso
    if not opts.dates:
        return iso
    # Polars evaluates every branch on every row, so the other formats read a copy of the text
    # with the ISO dates already blanked: parsing a missing value costs nothing, and a file
    # written in ISO 8601 pays for one parse, not one per format.
    rest = pl.when(iso.is_null()).then(text)
    others = [rest.str.to_date(f, strict=False, cache=False) for f in formats if f != ISO_DATE]
    return pl.coalesce(iso, *others) if others else iso


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
    rules: RuleSet,
    opts: CleaningOptions,
    iso: pl.Expr | None = None,
) -> pl.Expr:
    """The cleaned text parsed to the declared type (missing when it does not parse).

    Args:
        iso: for a date column, its ISO parse already computed (see :func:`parse_date`).
    """
    if spec.type is ColumnType.DATE:
        return parse_date(text, rules.date_formats, opts, iso)
    if spec.type in (ColumnType.INTEGER, ColumnType.FLOAT):
        return parse_number(text, spec.type)
    return text
