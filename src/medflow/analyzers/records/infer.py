"""Profiling a CSV into a starting rule set (``medflow records infer``).

The profile reads up to ``sample_rows`` rows (streamed) and proposes, per column: the type every
value parses as, required when no cell is empty, the observed numeric or date range, the allowed
values of a low-cardinality text column, a pattern for identifiers that all share one shape, a
code system for columns named like ICD-10 or LOINC codes, and unique keys for identifier columns
whose values never repeat. The result is a start for a person to edit, not a finished rule set.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import polars as pl

from medflow.analyzers.records.clean import (
    CleaningOptions,
    normalise_names,
    parse_date,
    parse_number,
)
from medflow.analyzers.records.ingest import ReadLimits, inspect_csv, prepare_csv
from medflow.analyzers.records.rules import ColumnType, RuleSet, rules_from_dict

_MAX_ALLOWED = 20
_TYPE_SHARE = 0.98
_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%d.%m.%Y", "%Y/%m/%d", "%d-%b-%Y", "%Y%m%d")


def _shape_regex(values: list[str]) -> str | None:
    """A pattern shared by every value (letters kept when constant, digit runs counted)."""
    if not values:
        return None
    shapes = {re.sub(r"[0-9]", "9", v) for v in values}
    if len(shapes) != 1:
        return None
    shape = shapes.pop()
    if "9" not in shape or not re.fullmatch(r"[A-Za-z0-9\-_.]+", shape):
        return None
    parts = [
        re.escape(m.group()) if m.group()[0] != "9" else f"[0-9]{{{len(m.group())}}}"
        for m in re.finditer(r"9+|[^9]+", shape)
    ]
    pattern = "^" + "".join(parts) + "$"
    return pattern if all(re.fullmatch(pattern, v) for v in values[:1000]) else None


def _profile_column(name: str, s: pl.Series, rows: int) -> tuple[dict[str, Any], bool]:
    text = s.str.strip_chars()
    text = text.filter(text.str.len_bytes() > 0)
    spec: dict[str, Any] = {}
    n = text.len()
    if n == 0:
        return spec, False
    if n == rows:
        spec["required"] = True
    frame = pl.DataFrame({"t": text})
    as_int = frame.select(parse_number(pl.col("t"), ColumnType.INTEGER)).to_series()
    as_float = frame.select(parse_number(pl.col("t"), ColumnType.FLOAT)).to_series()
    as_date = frame.select(parse_date(pl.col("t"), _DATE_FORMATS, CleaningOptions())).to_series()
    unique = text.n_unique() == n
    if as_int.is_not_null().sum() >= _TYPE_SHARE * n:
        spec.update(type="integer", min=int(as_int.min()), max=int(as_int.max()))  # type: ignore[arg-type]
    elif as_float.is_not_null().sum() >= _TYPE_SHARE * n:
        spec.update(type="float", min=float(as_float.min()), max=float(as_float.max()))  # type: ignore[arg-type]
    elif as_date.is_not_null().sum() >= _TYPE_SHARE * n:
        spec.update(type="date", min=as_date.min(), max=as_date.max())
    else:
        lowered = name.lower()
        if "icd" in lowered or lowered.endswith("_dx") or "diagnos" in lowered:
            spec["code"] = "icd10cm"
        elif "loinc" in lowered:
            spec["code"] = "loinc"
        distinct = text.unique().sort().to_list()
        if len(distinct) <= _MAX_ALLOWED and len(distinct) < max(2, n // 5):
            spec["allowed"] = distinct
        elif "code" not in spec:
            regex = _shape_regex(text.head(5000).to_list())
            if regex:
                spec["regex"] = regex
    is_key = unique and n == rows and (name.endswith("_id") or name == "id")
    return spec, is_key


def infer_rules(
    path: str | Path,
    work: str | Path,
    *,
    dataset: str | None = None,
    sample_rows: int = 100_000,
    limits: ReadLimits | None = None,
) -> RuleSet:
    """Profile a CSV and propose a rule set.

    Args:
        path: the CSV (only read).
        work: a folder for a normalised copy when the file needs one.
        dataset: the rule set's dataset name (default: the file's stem).
        sample_rows: how many rows to profile.
        limits: size limit and sniffing window.

    Raises:
        InputError: the file cannot be read as a CSV.
    """
    src = Path(path)
    fmt = inspect_csv(src, limits)
    prepared = prepare_csv(src, fmt, work)
    lf = pl.scan_csv(
        prepared.path, separator=prepared.delimiter, infer_schema=False, n_rows=sample_rows
    )
    frame = lf.collect()
    raw = [c for c in frame.columns if c != "__source_row"]
    names = normalise_names(tuple(raw))
    columns: dict[str, Any] = {}
    keys: list[list[str]] = []
    for r, n in zip(raw, names, strict=True):
        spec, is_key = _profile_column(n, frame[r], frame.height)
        columns[n] = spec
        if is_key:
            keys.append([n])
    data = {
        "dataset": dataset or normalise_names((src.stem,))[0],
        "version": "0.1",
        "description": f"inferred from {src.name} ({frame.height} rows profiled)",
        "columns": columns,
        "unique": keys,
    }
    return rules_from_dict(data, src.name)
