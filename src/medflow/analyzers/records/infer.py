"""Inferring a rule set for any patient CSV, without learning its errors.

Used by ``medflow records check`` when no rule set is given, and by ``medflow records infer``.
Columns are first recognised by meaning (:mod:`.recognise`); then:

* ranges: clinical plausibility limits where the meaning and unit are known
  (``data/clinical_limits.yaml``); otherwise wide fences from robust quantiles
  (``q1 - 10 x (q99 - q1)`` to ``q99 + 10 x (q99 - q1)``, and not below 0 for a column that is
  never negative), so a file's own errors never widen what is allowed;
* types by the majority: a column whose cells are mostly numbers (or dates) is numeric (a date)
  and the rest are reported as failures, never the other way round;
* identifiers and codes (MRNs, ZIP codes, phone numbers, ICD-10, LOINC, SNOMED CT) stay text,
  with their leading zeros;
* allowed values only from values frequent enough, matched without regard to case; a column
  whose rare values are more than a sliver of its cells is free text, not a category;
* generic healthcare rules that fit the columns present: discharge after admission, birth before
  every other date of the row, age agreeing with the date of birth, dates not in the future,
  diastolic below systolic pressure, code validity, unique identifiers when they look unique.

The profile reads an even sample of the file (every k-th row), so sorted files are seen whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from medflow.analyzers.records.clean import (
    MISSING_MARKERS,
    normalise_names,
    plain_number,
    unit_table,
)
from medflow.analyzers.records.dates import TIME_PATTERN, decide
from medflow.analyzers.records.ingest import ReadLimits, inspect_csv, prepare_csv
from medflow.analyzers.records.limits import (
    canonical_unit,
    date_bounds,
    plausible_range,
    quantity,
)
from medflow.analyzers.records.recognise import (
    DATE_MEANINGS,
    VITALS,
    Profile,
    Recognised,
    profile,
    recognise,
)
from medflow.analyzers.records.rules import RuleSet, rules_from_dict

SAMPLE_ROWS = 100_000
_FREQUENT_SHARE = 0.001
_FREQUENT_MIN = 3
_RARE_TAIL = 0.005
_MAX_CATEGORIES = 40
_UNIQUE_SHARE = 0.99
_FENCE = 10.0
_INFERRED_FAILURE_RATE = 0.5
_PHONE = r"^\+?[0-9 ().\-/]{7,25}(?:\s*(?:x|ext\.?)\s*[0-9]{1,6})?$"
_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_RULE_FITS = 0.2
"""A candidate cross-field rule is kept when at most this share of sample rows break it."""


@dataclass(frozen=True)
class Inference:
    """An inferred rule set and what each column was recognised as.

    Attributes:
        rules: the rule set (every rule a person can read and edit).
        columns: the recognition, one per column, in file order.
        sampled_rows: how many rows were profiled.
    """

    rules: RuleSet
    columns: list[Recognised]
    sampled_rows: int


def _cells(s: pl.Series) -> pl.Series:
    t = s.cast(pl.String).str.strip_chars()
    return t.filter(t.is_not_null() & (t.str.len_bytes() > 0) & ~t.is_in(MISSING_MARKERS))


def _numbers(s: pl.Series) -> pl.Series:
    frame = pl.DataFrame({"t": _cells(s)})
    return frame.select(plain_number(pl.col("t")).cast(pl.Float64, strict=False))["t"].drop_nulls()


def _fences(nums: pl.Series) -> tuple[float | None, float | None]:
    """Robust fences: far outside the 1st-99th percentile span; 0 for never-negative data."""
    if nums.len() < 20:
        return None, None
    q01, q99 = float(nums.quantile(0.01) or 0.0), float(nums.quantile(0.99) or 0.0)
    span = q99 - q01
    if span <= 0:
        return None, None
    low = q01 - _FENCE * span
    # A column almost never negative (under 0.5% of cells) is never negative: those cells
    # are errors, not a tail.
    share_negative = float((nums < 0).sum()) / nums.len()
    if share_negative < 0.005:
        low = 0.0
    return low, q99 + _FENCE * span


def _id_shape(cells: pl.Series) -> str | None:
    """The shape nearly all of a file's identifiers share (``MRN`` + digits), as a pattern.

    Learned from the file, never a default: only when at least 99.5% of 200 or more values
    share it, so the odd one out is an error, not a second numbering. Digit runs match any
    length (numbering grows past a power of ten); letters and punctuation must be as written.
    Plain numbers and UUIDs get no pattern.
    """
    if cells.len() < 200:
        return None
    shapes = pl.DataFrame({"v": cells}).select(pl.col("v").str.replace_all(r"[0-9]+", "#"))["v"]
    top = shapes.value_counts(sort=True).row(0)
    shape, count = str(top[0]), int(top[1])
    if count < 0.995 * cells.len() or "#" not in shape or shape == "#":
        return None
    if not re.fullmatch(r"[A-Za-z#_\-./:]+", shape) or re.search(r"[A-Za-z]{9,}", shape):
        return None
    parts = [("[0-9]+" if t == "#" else re.escape(t)) for t in re.findall(r"#|[^#]+", shape)]
    return "^" + "".join(parts) + "$"


def _letters(v: str) -> str:
    return re.sub(r"[^a-z]", "", v.lower())


def _edits(a: str, b: str) -> int:
    """Levenshtein distance (small strings: category values)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def near_miss(value: str, frequent: list[str]) -> str | None:
    """The frequent value ``value`` looks like a misspelling of, if any.

    Letters only, case ignored: ``Cardiolgy`` is a miss of ``cardiology`` (one edit), ``Ward 2``
    is not a miss of ``Ward 1`` (digits differ, letters equal: a second ward, not a typo).
    """
    v = _letters(value)
    if len(v) < 4:
        return None
    for f in frequent:
        g = _letters(f)
        if v == g:
            digits = re.sub(r"[^0-9]", "", value) == re.sub(r"[^0-9]", "", f)
            return f if digits and value.lower() != f.lower() else None
        limit = 1 if max(len(v), len(g)) < 9 else 2
        if abs(len(v) - len(g)) <= limit and _edits(v, g) <= limit:
            return f
    return None


def _categories(s: pl.Series) -> list[str] | None:
    """The allowed values of a categorical column, or None when it is not one.

    Allowed: values frequent enough (at least 3 and 0.1% of cells), matched without regard to
    case, plus rare values unlike any frequent one (a real but rare category); a rare value
    that is a frequent one misspelt is left out, so it fails. A column whose rare values are
    more than 0.5% of its cells, or with more than 40 frequent values, is not a category.
    """
    cells = _cells(s)
    n = cells.len()
    if n < 30:
        return None
    counts = (
        pl.DataFrame({"v": cells})
        .group_by(pl.col("v").str.to_lowercase().alias("k"))
        .agg(pl.len().alias("n"), pl.col("v").mode().first().alias("spelling"))
        .sort("n", descending=True)
    )
    threshold = max(_FREQUENT_MIN, int(_FREQUENT_SHARE * n))
    frequent = counts.filter(pl.col("n") >= threshold)
    rare = counts.filter(pl.col("n") < threshold)
    if frequent.height == 0 or frequent.height > _MAX_CATEGORIES:
        return None
    if int(rare["n"].sum()) > _RARE_TAIL * n or counts.height > n // 2:
        return None
    allowed = frequent["spelling"].to_list()
    keep = [v for v in rare["spelling"].to_list() if near_miss(v, allowed) is None]
    return sorted(allowed + keep)


def _number_spec(rec: Recognised, p: Profile, nums: pl.Series) -> dict[str, Any]:
    spec: dict[str, Any] = {"meaning": rec.meaning}
    kind = "integer" if p.integral >= 0.999 and rec.meaning not in VITALS else "float"
    spec["type"] = kind
    if p.decorated > 0:
        spec["normalize"] = "number"
    if rec.meaning in (*VITALS, "age"):
        unit = rec.unit
        if rec.unit_column is not None and quantity(rec.meaning) is not None:
            unit = canonical_unit(rec.meaning)
            spec["unit"] = {
                "column": rec.unit_column,
                "quantity": quantity(rec.meaning),
                "to": unit,
            }
        if unit is not None:
            spec["measured_in"] = unit
        bounds = plausible_range(rec.meaning, unit)
        if bounds is not None:
            spec["min"], spec["max"] = bounds
        if rec.meaning == "age":
            spec["min"], spec["max"] = int(spec.get("min", 0)), int(spec.get("max", 125))
        return spec
    lo, hi = _fences(nums)
    if lo is not None and hi is not None:
        if kind == "integer":
            lo, hi = float(int(lo)), float(int(hi) + 1)
        spec["min"], spec["max"] = (int(lo), int(hi)) if kind == "integer" else (lo, hi)
    return spec


def _column_spec(rec: Recognised, s: pl.Series, rows: int) -> dict[str, Any]:
    p = profile(s)
    m = rec.meaning
    spec: dict[str, Any] = {"meaning": m}
    if p.n == 0:
        return spec
    if m in ("patient_id", "encounter_id", "identifier"):
        if m != "identifier":
            spec["required"] = p.n >= 0.95 * rows
        shape = _id_shape(_cells(s))
        if shape is not None:
            spec["regex"] = shape
        return spec
    if m in DATE_MEANINGS:
        spec["type"] = "datetime" if p.timed >= 0.5 else "date"
        bounds = date_bounds(m)
        if bounds is not None:
            spec["min"], spec["max"] = bounds
        return spec
    if m == "sex":
        spec.update(normalize="sex", allowed=["F", "M", "O", "U"])
        return spec
    if m in ("icd10cm", "loinc", "snomedct"):
        spec["code"] = m
        return spec
    if m == "phone":
        spec["regex"] = _PHONE
        return spec
    if m == "email":
        spec["regex"] = _EMAIL
        return spec
    if m == "unit":
        allowed = _categories(s)
        if allowed is not None:
            spec.update(allowed=allowed, ignore_case=True)
        return spec
    numeric_meanings = (*VITALS, "age", "money", "number", "value")
    if m == "value":
        # Results of many tests share the column, numbers beside text ("positive", "<0.5",
        # "Never smoked"): neither one type nor one range fits them all.
        return spec
    if m in numeric_meanings and p.numeric >= (0.5 if m != "number" else 0.9):
        return _number_spec(rec, p, _numbers(s))
    if m in ("category", "text"):
        allowed = _categories(s)
        if allowed is not None:
            spec.update(allowed=allowed, ignore_case=True)
            spec["meaning"] = "category"
    return spec


def _unit_column_spec(target: Recognised) -> dict[str, Any] | None:
    """A vital's unit column: the spellings of its quantity's units (units.yaml) are allowed."""
    q = quantity(target.meaning)
    if q is None:
        return None
    return {
        "meaning": "unit",
        "allowed": sorted(unit_table()[q]),
        "ignore_case": True,
    }


def _date_order_by_values(
    sample: pl.DataFrame, cols: dict[str, str], found: list[Recognised]
) -> list[dict[str, Any]]:
    """Start/end pairs the names did not explain, read from the values: two dates of one row
    where one is on or before the other in nearly every row, days or weeks apart."""
    known_pair = {"admission_date", "discharge_date"}
    dates = [r for r in found if r.meaning in DATE_MEANINGS and r.meaning not in _NOT_EVENTS]
    rules: list[dict[str, Any]] = []
    for i, a in enumerate(dates):
        for b in dates[i + 1 :]:
            if "date" not in (a.meaning, b.meaning) or {a.meaning, b.meaning} == known_pair:
                continue
            da, db = _as_dates(sample[cols[a.column]]), _as_dates(sample[cols[b.column]])
            both = da.is_not_null() & db.is_not_null()
            if int(both.sum()) < 30:
                continue
            gap = (db.filter(both) - da.filter(both)).dt.total_days()
            before = float((gap >= 0).sum()) / gap.len()
            after = float((gap <= 0).sum()) / gap.len()
            if float(gap.abs().median() or 0.0) > 366:  # type: ignore[arg-type]
                continue
            if before >= 0.97 and after < 0.9:
                rules.append(_order(a.column, b.column))
            elif after >= 0.97 and before < 0.9:
                rules.append(_order(b.column, a.column))
    return rules


_NOT_EVENTS = ("date_of_birth", "date_of_death")


def _as_dates(s: pl.Series) -> pl.Series:
    days = s.cast(pl.String).str.strip_chars().str.replace(TIME_PATTERN, "").str.strip_chars()
    decision = decide(days.unique().drop_nulls().to_list())
    frame = pl.DataFrame({"d": days})
    return frame.select(
        pl.coalesce([pl.col("d").str.to_date(f, strict=False) for f in decision.formats])
    )["d"]


def _order(first: str, then: str, rule_id: str | None = None) -> dict[str, Any]:
    return {
        "id": rule_id or f"{first}_not_after_{then}",
        "rule": "date_order",
        "first": first,
        "then": then,
    }


def _as_numbers(s: pl.Series) -> pl.Series:
    """The cells as numbers, row for row (missing where a cell is not one)."""
    frame = pl.DataFrame({"t": s.cast(pl.String).str.strip_chars()})
    return frame.select(plain_number(pl.col("t")).cast(pl.Float64, strict=False))["t"]


def _failure_share(sample: pl.DataFrame, cols: dict[str, str], rule: dict[str, Any]) -> float:
    """How many of the sample's rows (where the rule applies) break a candidate rule."""
    kind = rule["rule"]
    if kind == "date_order":
        a, b = _as_dates(sample[cols[rule["first"]]]), _as_dates(sample[cols[rule["then"]]])
        both = a.is_not_null() & b.is_not_null()
        bad = both & (a > b)
    elif kind == "number_order":
        lo, hi = _as_numbers(sample[cols[rule["lower"]]]), _as_numbers(sample[cols[rule["higher"]]])
        both = lo.is_not_null() & hi.is_not_null()
        bad = both & (lo >= hi)
    else:
        age = _as_numbers(sample[cols[rule["age"]]])
        dob, at = _as_dates(sample[cols[rule["dob"]]]), _as_dates(sample[cols[rule["at"]]])
        both = age.is_not_null() & dob.is_not_null() & at.is_not_null()
        years = pl.DataFrame({"d": dob, "a": at}).select(
            (pl.col("a").dt.year() - pl.col("d").dt.year()).cast(pl.Int64)
            - (
                pl.col("a").dt.month().cast(pl.Int32) * 100 + pl.col("a").dt.day().cast(pl.Int32)
                < pl.col("d").dt.month().cast(pl.Int32) * 100 + pl.col("d").dt.day().cast(pl.Int32)
            ).cast(pl.Int64)
        )["a"]
        bad = both & ((age - years).abs() > rule["tolerance_years"])
    n = int(both.sum())
    return float(bad.sum()) / n if n else 0.0


def _cross_rules(
    sample: pl.DataFrame,
    cols: dict[str, str],
    columns: dict[str, Any],
    found: list[Recognised],
) -> list[dict[str, Any]]:
    """The generic healthcare rules that fit the columns present.

    Rules between columns recognised by name always apply. Rules that rest on a guess (a date
    column recognised only by its values, the date an age was measured at) are kept only where
    the sample mostly obeys them: a guessed rule most rows break describes a misread column,
    not the file.
    """
    meaning_of = {c: spec.get("meaning") for c, spec in columns.items()}
    first_of = {m: c for c, m in reversed(list(meaning_of.items()))}
    typed_dates = [c for c, s in columns.items() if s.get("type") in ("date", "datetime")]
    numeric = {c for c, s in columns.items() if s.get("type") in ("integer", "float")}
    cross: list[dict[str, Any]] = []
    guessed: list[dict[str, Any]] = []
    adm, dis = first_of.get("admission_date"), first_of.get("discharge_date")
    if adm in typed_dates and dis in typed_dates:
        cross.append(_order(str(adm), str(dis), "admission_not_after_discharge"))
    guessed += [
        r
        for r in _date_order_by_values(sample, cols, found)
        if {r["first"], r["then"]} <= set(typed_dates)
    ]
    dob = first_of.get("date_of_birth")
    by_name = {r.column for r in found if r.evidence != "values"}
    if dob in typed_dates:
        # Nothing recorded about a person happens before their birth.
        for c in typed_dates:
            if c != dob:
                rule = _order(str(dob), c, f"birth_not_after_{c}")
                named = {dob, c} <= by_name and meaning_of.get(c) != "date"
                (cross if named else guessed).append(rule)
        age = first_of.get("age")
        starts = [r["first"] for r in cross + guessed if r["first"] != dob]
        events = [first_of.get(e) for e in ("admission_date", "visit_date", "observation_date")]
        for at in [*(e for e in events if e in typed_dates), *starts, *typed_dates]:
            if age not in numeric or at == dob or meaning_of.get(at) in _NOT_EVENTS:
                continue
            rule = {
                "id": "age_matches_birth_date",
                "rule": "age_from_dob",
                "age": age,
                "dob": dob,
                "at": at,
                "tolerance_years": 1,
            }
            if _failure_share(sample, cols, rule) <= _RULE_FITS:
                guessed.append(rule)
                break
    sbp, dbp = first_of.get("systolic_bp"), first_of.get("diastolic_bp")
    if sbp in numeric and dbp in numeric:
        cross.append(
            {"id": "diastolic_below_systolic", "rule": "number_order", "lower": dbp, "higher": sbp}
        )
    kept = [r for r in guessed if _failure_share(sample, cols, r) <= _RULE_FITS]
    return _dedupe(cross + kept)


def _birth_by_values(
    sample: pl.DataFrame, cols: dict[str, str], found: list[Recognised]
) -> list[Recognised]:
    """A date column decades earlier than every other date is the date of birth."""
    dates = [r for r in found if r.meaning in DATE_MEANINGS]
    if any(r.meaning == "date_of_birth" for r in dates) or len(dates) < 2:
        return found
    medians = {r.column: _as_dates(sample[cols[r.column]]).drop_nulls() for r in dates}
    mids = {c: s.cast(pl.Int64).median() for c, s in medians.items() if s.len() >= 30}
    if len(mids) < 2:
        return found
    earliest = min(mids, key=lambda c: float(mids[c] or 0))  # type: ignore[arg-type]
    rest = [float(v or 0) for c, v in mids.items() if c != earliest]  # type: ignore[arg-type]
    span = medians[earliest].cast(pl.Int64)
    spread = float(span.quantile(0.9) or 0) - float(span.quantile(0.1) or 0)
    if min(rest) - float(mids[earliest] or 0) < 15 * 365 or spread < 10 * 365:  # type: ignore[arg-type]
        return found
    return [
        Recognised(
            r.column,
            r.raw,
            "date_of_birth",
            r.unit,
            "values",
            r.unit_column,
            "by values: decades before the other dates",
        )
        if r.column == earliest and r.meaning == "date"
        else r
        for r in found
    ]


def infer_from_sample(
    sample: pl.DataFrame,
    raw_names: list[str],
    names: list[str],
    dataset: str,
    source: str,
) -> Inference:
    """Recognise columns and build the rule set from a sample of rows (all text)."""
    found = recognise(raw_names, names, sample)
    cols = dict(zip(names, raw_names, strict=True))
    found = _birth_by_values(sample, cols, found)
    rows = sample.height
    columns: dict[str, Any] = {}
    targets = {r.unit_column: r for r in found if r.unit_column}
    for rec in found:
        if rec.column in targets:
            spec = _unit_column_spec(targets[rec.column])
            if spec is None:
                spec = _column_spec(rec, sample[cols[rec.column]], rows)
        else:
            spec = _column_spec(rec, sample[cols[rec.column]], rows)
        columns[rec.column] = spec
    cross = _cross_rules(sample, cols, columns, found)
    unique = _unique_keys(sample, cols, found)
    watched = [
        c
        for c, s in columns.items()
        if s.get("type") in ("integer", "float")
        and s.get("meaning") in (*VITALS, "age", "number")
        and (s.get("meaning") != "number" or _symmetric(_numbers(sample[cols[c]])))
    ]
    data: dict[str, Any] = {
        "dataset": dataset,
        "version": "inferred-1",
        "description": f"inferred by medflow from {source} ({rows} rows profiled)",
        "columns": columns,
        "unique": unique,
        "cross_field": _dedupe(cross),
        "decision": {"max_failure_rate": _INFERRED_FAILURE_RATE},
        "anomalies": {"columns": watched, "univariate": "quantile"},
    }
    return Inference(rules_from_dict(data, source), found, rows)


def _dedupe(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    out = []
    for r in rules:
        if r["id"] not in seen:
            seen.add(r["id"])
            out.append(r)
    return out


def _symmetric(nums: pl.Series) -> bool:
    """Roughly symmetric data (not a skewed amount): the median/MAD detector suits it."""
    if nums.len() < 50:
        return False
    q01, q50, q99 = (float(nums.quantile(q) or 0.0) for q in (0.01, 0.5, 0.99))
    low, high = q50 - q01, q99 - q50
    return low > 0 and high > 0 and max(low, high) / min(low, high) < 3


def _unique_keys(
    sample: pl.DataFrame, cols: dict[str, str], found: list[Recognised]
) -> list[list[str]]:
    """Identifier columns that look unique: the row's own id (an encounter, or a patient in a
    file with no other id); references to other rows (the patient of an encounter) repeat."""
    ids = [r for r in found if r.meaning in ("encounter_id", "identifier", "patient_id")]
    own = [r for r in ids if r.meaning != "patient_id"]
    candidates = own if own else ids
    keys: list[list[str]] = []
    # Exact duplicate rows are removed by cleaning before keys are checked: not evidence.
    distinct_rows = sample.unique(maintain_order=True)
    for r in candidates:
        cells = _cells(distinct_rows[cols[r.column]])
        if cells.len() < 0.99 * distinct_rows.height or cells.len() < 20:
            continue
        if cells.n_unique() >= _UNIQUE_SHARE * cells.len():
            keys.append([r.column])
    return keys


def sample_file(
    path: str | Path,
    work: str | Path,
    *,
    sample_rows: int = SAMPLE_ROWS,
    limits: ReadLimits | None = None,
) -> tuple[pl.DataFrame, list[str], list[str]]:
    """An even sample of a CSV's rows, as text, with its raw and normalised column names."""
    src = Path(path)
    fmt = inspect_csv(src, limits)
    prepared = prepare_csv(src, fmt, work)
    lf = pl.scan_csv(
        prepared.path,
        separator=prepared.delimiter,
        infer_schema=False,
        empty_string_is_null=False,
    )
    head = lf.head(2000).collect()
    raw = [c for c in head.columns if c != "__source_row"]
    # Rows are estimated from the head's bytes per row, so the sample needs no counting pass.
    head_bytes = max(
        1, sum(head[c].str.len_bytes().sum() or 0 for c in raw) + head.height * len(raw)
    )
    estimate = int(fmt.size_bytes / (head_bytes / max(1, head.height)))
    step = max(1, estimate // sample_rows)
    frame = (
        head
        if head.height < 2000
        else (
            lf.gather_every(step).collect(engine="streaming")
            if step > 1
            else lf.head(sample_rows).collect()
        )
    )
    frame = frame.select(raw)
    return frame, raw, normalise_names(tuple(raw))


def infer(
    path: str | Path,
    work: str | Path,
    *,
    dataset: str | None = None,
    sample_rows: int = SAMPLE_ROWS,
    limits: ReadLimits | None = None,
) -> Inference:
    """Recognise a CSV's columns and infer its rule set.

    Raises:
        InputError: the file cannot be read as a CSV.
    """
    src = Path(path)
    frame, raw, names = sample_file(src, work, sample_rows=sample_rows, limits=limits)
    name = dataset or normalise_names((src.stem,))[0]
    return infer_from_sample(frame, raw, names, name, src.name)


def infer_rules(
    path: str | Path,
    work: str | Path,
    *,
    dataset: str | None = None,
    sample_rows: int = SAMPLE_ROWS,
    limits: ReadLimits | None = None,
) -> RuleSet:
    """Profile a CSV and propose a rule set (see :func:`infer`)."""
    return infer(path, work, dataset=dataset, sample_rows=sample_rows, limits=limits).rules


def describe(found: list[Recognised]) -> list[dict[str, str]]:
    """The recognition as rows for a table or the report."""
    return [
        {"column": r.raw, "meaning": r.meaning, "unit": r.unit or "", "how": r.note} for r in found
    ]
