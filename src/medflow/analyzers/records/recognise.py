"""Recognising what a patient CSV's columns hold, from their names and their values.

A name is read as an English noun phrase (``data/column_meanings.yaml`` holds the words): split
into words (snake_case, camelCase, spaces), a unit at its end set aside (``Temp (°F)``, ``WT_KG``,
``Heart Rate (bpm)``), ``X of Y`` read as ``Y X`` (date of birth) and ``X at Y`` as ``X`` (age at
admission), then matched as a whole or by its head, the last word (admission *date*, patient
*id*, admission *type*). The values then confirm the name or overrule it: a column named like a
heart rate whose values are not numbers is not treated as one, and a column with a name nobody
listed is still recognised by its values (dates, ICD-10-CM / LOINC / SNOMED CT codes, emails,
phone numbers, sex codes, numbers, categories).

The result is a :class:`Recognised` per column; :mod:`.infer` turns it into rules.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import polars as pl
import yaml

from medflow.analyzers.records.clean import (
    MISSING_MARKERS,
    plain_number,
    sex_code_map,
    unit_table,
)
from medflow.analyzers.records.codes import loinc_check_digit_ok, snomed_id_ok
from medflow.analyzers.records.dates import TIME_PATTERN, decide

_PACKAGE = "medflow.analyzers.records"

VITALS = (
    "heart_rate",
    "systolic_bp",
    "diastolic_bp",
    "respiratory_rate",
    "temperature",
    "spo2",
    "weight",
    "height",
    "bmi",
)
DATE_MEANINGS = (
    "date_of_birth",
    "date_of_death",
    "admission_date",
    "discharge_date",
    "visit_date",
    "observation_date",
    "date",
)
IDENTIFIERS = ("patient_id", "encounter_id", "identifier")
CODES = ("icd10cm", "loinc", "snomedct")
NUMERIC_MEANINGS = (*VITALS, "age", "money", "value", "number")


@dataclass(frozen=True)
class Recognised:
    """What one column holds.

    Attributes:
        column: the column's normalised name.
        raw: the name as written.
        meaning: ``patient_id``, ``date_of_birth``, ``heart_rate``, ``icd10cm``, ``category``,
            ``number``, ``text``... (see the module's tuples).
        unit: the UCUM unit of the values when one is known (``Cel``, ``[lb_av]``).
        evidence: ``name``, ``values`` or ``name and values``.
        unit_column: the column holding each row's unit, when there is one.
        note: why, in a few words (shown to the user).
    """

    column: str
    raw: str
    meaning: str
    unit: str | None = None
    evidence: str = "values"
    unit_column: str | None = None
    note: str = ""


@cache
def vocabulary() -> dict[str, Any]:
    """The words of ``data/column_meanings.yaml``."""
    ref = resources.files(_PACKAGE).joinpath("data", "column_meanings.yaml")
    data: dict[str, Any] = yaml.safe_load(ref.read_text(encoding="utf-8"))
    return data


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def words(name: str) -> list[str]:
    """A column name as lower-case words: ``admitDate`` and ``ADMIT_DATE`` -> admit, date."""
    return [w for w in re.split(r"[^0-9a-z]+", _CAMEL.sub("_", name).lower()) if w]


@dataclass(frozen=True)
class _NameReading:
    words: tuple[str, ...]
    unit: str | None


def read_name(name: str) -> _NameReading:
    """Words with the unit set aside, ``X of Y`` -> ``Y X``, ``X at Y`` -> ``X``."""
    v = vocabulary()
    units: dict[str, str] = v["unit_words"]
    ws = words(name)
    unit = "%" if "%" in name else ("USD" if "$" in name else None)
    for size in (3, 2, 1):
        if len(ws) > size and "_".join(ws[-size:]) in units:
            unit = units["_".join(ws[-size:])]
            ws = ws[:-size]
            # "weight in kilograms", "rate per minute": the preposition went with the unit.
            if len(ws) > 1 and ws[-1] in ("in", "per"):
                ws = ws[:-1]
            break
    else:
        if len(ws) == 1 and ws[0] in units and units[ws[0]] in v["unit_meanings"]:
            unit = units[ws[0]]
    if "at" in ws[1:]:
        ws = ws[: ws.index("at")]
    if "of" in ws[1:-1]:
        k = ws.index("of")
        ws = ws[k + 1 :] + ws[:k]
    return _NameReading(tuple(ws), unit)


def _kind(mods: Sequence[str], table: dict[str, list[str]]) -> str | None:
    joined = "_".join(mods)
    for kind, cues in table.items():
        for cue in cues:
            if cue in mods or (("_" in cue) and cue in joined):
                return kind
    return None


def meaning_from_name(name: str) -> tuple[str | None, str | None]:
    """(meaning, unit) from a column name alone; meaning None when the name says nothing."""
    v = vocabulary()
    reading = read_name(name)
    ws, unit = list(reading.words), reading.unit
    whole: dict[str, list[str]] = v["whole_names"]
    lookup = {n: m for m, names in whole.items() for n in names}
    filler = set(v["filler"])
    if not ws:
        return (v["unit_meanings"].get(unit) if unit else None), unit
    joined = "_".join(ws)
    content = [w for w in ws if w not in filler] or ws
    if joined in lookup:
        return _refine(lookup[joined], ws), unit
    stripped = lookup.get("_".join(content))
    # "patient id" less its filler is "id": too generic to stand for the whole name.
    if stripped is not None and stripped not in ("identifier", "code", "value", "unit"):
        return _refine(stripped, ws), unit
    for size in range(len(content) - 1, 1, -1):
        tail = "_".join(content[-size:])
        if tail in lookup:
            return _refine(lookup[tail], ws), unit
    head, mods = ws[-1], ws[:-1]
    heads: dict[str, list[str]] = v["heads"]
    if head in heads["date"] and mods:
        return _kind(mods, v["date_kinds"]) or "date", unit
    if head in heads["identifier"]:
        if head == "mrn":
            return "patient_id", unit
        code = _kind(ws, v["code_kinds"])
        if code is not None:
            return code, unit
        for w in mods:
            if lookup.get(w) in ("postal_code", "phone"):
                return lookup[w], unit
        return _kind(mods, v["identifier_kinds"]) or "identifier", unit
    if head in heads["code"]:
        code = _kind(ws, v["code_kinds"])
        if code is None and any(lookup.get(w) == "postal_code" for w in mods):
            return "postal_code", unit
        return code or "code", unit
    if head in heads["value"]:
        return "value", unit
    if head in heads["unit"]:
        return "unit", unit
    if head in heads["category"]:
        return "category", unit
    if head in heads["name"]:
        person = set(v["person_words"])
        return ("person_name" if any(m in person for m in mods) else "text"), unit
    if head == "rate":
        return _kind(mods, v["rate_words"]) or "number", unit
    if head == "pressure":
        return _kind(mods, v["pressure_words"]) or "blood_pressure", unit
    pressure = _kind([head], v["pressure_words"])
    if pressure is not None:
        return pressure, unit
    if content[-1] in lookup:
        return _refine(lookup[content[-1]], ws), unit
    code = _kind(ws, v["code_kinds"])
    if code is not None:
        return code, unit
    if unit is not None and unit in v["unit_meanings"]:
        return v["unit_meanings"][unit], unit
    return None, unit


def _refine(meaning: str, ws: Sequence[str]) -> str:
    """A whole-name meaning that other words narrow (``bp`` + systolic, ``rate`` + heart)."""
    v = vocabulary()
    if meaning == "blood_pressure":
        return _kind(ws, v["pressure_words"]) or meaning
    return meaning


# --- values ---------------------------------------------------------------------------------

_ICD10 = re.compile(r"^[A-TV-Z][0-9][0-9A-Z](?:\.?[0-9A-Z]{1,4})?$")
_LOINC = re.compile(r"^[0-9]{1,7}-[0-9]$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9 ().\-/]{7,25}$")
_PHONE_SEP = re.compile(r"[ ().\-/]")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_NUMBER = re.compile(r"^[-+]?(?:[$€£¥]\s*)?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?%?$")
_LEADING_ZERO = re.compile(r"^0\d")


@dataclass(frozen=True)
class Profile:
    """What a column's values look like (from a sample).

    Attributes:
        n: non-empty cells.
        distinct: distinct values.
        numeric: share of cells that read as numbers (currency and thousands allowed).
        integral: share of the numeric cells that are whole numbers.
        decorated: share of cells with a currency sign, thousands separator or percent sign.
        leading_zero: share of cells like ``01852`` (codes, never numbers).
        dated: share of cells that read as dates in the column's decided formats.
        timed: share of cells that carry a time of day.
        shapes: share of cells per code/contact shape (icd10, loinc, snomed, email, phone, uuid).
        sex: share of cells that are sex/gender codes.
        median: median of the numbers, when numeric.
        units: share of cells that are unit spellings medflow knows.
    """

    n: int
    distinct: int
    numeric: float
    integral: float
    decorated: float
    leading_zero: float
    dated: float
    timed: float
    shapes: dict[str, float]
    sex: float
    median: float | None
    units: float


def _share(mask: pl.Series, n: int) -> float:
    return float(mask.sum()) / n if n else 0.0


def profile(values: pl.Series) -> Profile:
    """Profile one column's non-empty, trimmed cells (missing-value markers left out)."""
    s = values.cast(pl.String).str.strip_chars()
    s = s.filter(s.is_not_null() & (s.str.len_bytes() > 0) & ~s.is_in(MISSING_MARKERS))
    n = s.len()
    if n == 0:
        return Profile(0, 0, 0, 0, 0, 0, 0, 0, {}, 0, None, 0)
    plain = pl.DataFrame({"t": s}).select(plain_number(pl.col("t")))["t"]
    num = plain.cast(pl.Float64, strict=False)
    is_num = num.is_not_null() & s.str.contains(_NUMBER.pattern)
    nums = num.filter(is_num)
    integral = _share((nums == nums.round()).fill_null(False), nums.len()) if nums.len() else 0.0
    decorated = _share(is_num & (plain != s), n)
    timed = s.str.contains(TIME_PATTERN)
    days = s.str.replace(TIME_PATTERN, "").str.strip_chars()
    distinct_days = days.unique().to_list()
    decision = decide(distinct_days)
    parsed = pl.DataFrame({"d": days}).select(
        pl.coalesce([pl.col("d").str.to_date(f, strict=False) for f in decision.formats])
    )["d"]
    # 8-digit numbers read as compact dates only when every one does (see the caller).
    dated = _share(parsed.is_not_null() | days.is_in(decision.ambiguous_values), n)
    counted = s.value_counts()
    d_list = counted[s.name].to_list()
    weights = counted["count"].to_list()
    dn = len(d_list)

    def shape(test: Any) -> float:
        # Weighted by how often each value occurs: a few mistyped codes among thousands of
        # rows do not hide the column's code system.
        hits = sum(int(w) for x, w in zip(d_list, weights, strict=True) if test(x))
        return hits / n

    shapes = {
        "icd10": shape(lambda x: bool(_ICD10.match(x))),
        "loinc": shape(lambda x: bool(_LOINC.match(x)) and loinc_check_digit_ok(x)),
        "snomed": shape(snomed_id_ok),
        "email": shape(lambda x: bool(_EMAIL.match(x))),
        "phone": shape(lambda x: bool(_PHONE.match(x)) and bool(_PHONE_SEP.search(x.strip("+")))),
        "uuid": shape(lambda x: bool(_UUID.match(x))),
    }
    sex_map = sex_code_map()
    known_units = {u for table in unit_table().values() for u in table}
    lower = s.str.to_lowercase()
    return Profile(
        n=n,
        distinct=dn,
        numeric=_share(is_num, n),
        integral=integral,
        decorated=decorated,
        leading_zero=_share(is_num & s.str.contains(_LEADING_ZERO.pattern), n),
        dated=dated,
        timed=_share(timed, n),
        shapes=shapes,
        sex=_share(lower.is_in(list(sex_map)), n),
        median=float(nums.median()) if nums.len() else None,  # type: ignore[arg-type]
        units=_share(lower.is_in(list(known_units | _LAB_UNITS)), n),
    )


_LAB_UNITS = {
    "mg/dl",
    "g/dl",
    "g/l",
    "mmol/l",
    "umol/l",
    "µmol/l",
    "meq/l",
    "iu/l",
    "u/l",
    "10*3/ul",
    "10*6/ul",
    "k/ul",
    "%",
    "fl",
    "pg",
    "ng/ml",
    "pg/ml",
    "miu/ml",
    "uiu/ml",
    "ml/min/{1.73_m2}",
    "ml/min/1.73m2",
    "mm[hg]",
    "mmhg",
    "/min",
    "bpm",
    "kg/m2",
    "cel",
    "[degf]",
    "{score}",
    "{nominal}",
    "1",
}
"""Lab unit spellings (UCUM 2.2 codes and their common lab forms) a unit column may hold."""

_EXPECTS_NUMBER = {*VITALS, "age", "money"}


def _by_values(p: Profile) -> str:
    """A meaning from values alone."""
    if p.n == 0:
        return "empty"
    shapes = p.shapes
    if shapes.get("uuid", 0) >= 0.95:
        return "identifier"
    if shapes.get("email", 0) >= 0.9:
        return "email"
    if shapes.get("loinc", 0) >= 0.9:
        return "loinc"
    if p.sex >= 0.95 and p.distinct <= 8 and p.numeric < 0.5:
        return "sex"
    if p.dated >= 0.9 and (p.numeric < 0.5 or p.dated >= 0.999):
        return "date"
    if shapes.get("icd10", 0) >= 0.9 and p.numeric < 0.5:
        return "icd10cm"
    if shapes.get("snomed", 0) >= 0.9 and p.numeric >= 0.9 and p.leading_zero == 0:
        return "snomedct"
    if p.numeric >= 0.9:
        return "identifier_like" if p.leading_zero > 0 else "number"
    if shapes.get("phone", 0) >= 0.9:
        return "phone"
    if p.distinct <= 50 and p.distinct * 5 <= p.n:
        return "category"
    return "text"


_SHAPE_OF = {"icd10cm": "icd10", "loinc": "loinc", "snomedct": "snomed", "email": "email"}


def _fits(meaning: str, p: Profile) -> bool:
    """Do the values agree with what the name says (at least half of them)?"""
    if p.n == 0:
        return True
    if meaning in _EXPECTS_NUMBER:
        return p.numeric >= 0.5 and p.leading_zero == 0
    if meaning in DATE_MEANINGS:
        return p.dated >= 0.5
    if meaning in _SHAPE_OF:
        return p.shapes[_SHAPE_OF[meaning]] >= 0.5
    if meaning == "sex":
        return p.sex >= 0.5
    if meaning == "unit":
        return p.units >= 0.5
    return True


def _unit_by_median(meaning: str, median: float | None) -> str | None:
    from medflow.analyzers.records.limits import clinical_limits

    rules = clinical_limits().get("unit_by_median", {}).get(meaning)
    if not rules:
        # One unit in use (beats per minute, mmHg): the canonical one.
        canonical = clinical_limits()["canonical"].get(meaning)
        return str(canonical) if canonical is not None else None
    if median is None:
        return None
    for r in rules:
        if median > float(r["above"]):
            return str(r["unit"])
    return None


def recognise_column(name: str, raw: str, values: pl.Series) -> Recognised:
    """Recognise one column from its name (as written) and a sample of its values."""
    p = profile(values)
    by_name, unit = meaning_from_name(raw)
    by_values = _by_values(p)
    if by_name in ("code",):
        by_name = {"icd10cm": "icd10cm", "loinc": "loinc", "snomedct": "snomedct"}.get(
            by_values, "identifier" if p.numeric < 0.9 else "code_number"
        )
        if by_name == "code_number":
            by_name = "identifier"
    if by_name in ("date",) and by_values != "date":
        by_name = None
    if by_name is not None and by_name not in ("value", "number") and _fits(by_name, p):
        evidence = "name and values" if _agrees(by_name, by_values) else "name"
        meaning = by_name
    elif by_name == "value":
        meaning, evidence = ("value" if p.numeric >= 0.5 else "text"), "name"
    else:
        meaning, evidence = by_values, "values"
        if by_name == "number" and by_values == "number":
            evidence = "name and values"
    if meaning == "identifier_like":
        meaning = "identifier"
    if meaning == "unit" and p.units < 0.5:
        meaning = "category" if p.distinct <= 50 else "text"
    if meaning in ("category", "text") and by_values in ("number", "category"):
        meaning = by_values
    if meaning in VITALS and unit is None:
        unit = _unit_by_median(meaning, p.median)
    if meaning == "age" and unit is None:
        unit = "a"
    note = _note(meaning, unit, evidence, p)
    return Recognised(name, raw, meaning, unit, evidence, None, note)


def _agrees(by_name: str, by_values: str) -> bool:
    if by_name == by_values:
        return True
    if by_name in DATE_MEANINGS and by_values == "date":
        return True
    if by_name in _EXPECTS_NUMBER and by_values == "number":
        return True
    return by_name in IDENTIFIERS and by_values in ("identifier", "identifier_like", "text")


def _note(meaning: str, unit: str | None, evidence: str, p: Profile) -> str:
    bits = [f"by {evidence}"]
    if unit:
        bits.append(f"unit {unit}")
    if p.timed >= 0.5:
        bits.append("with time of day")
    return ", ".join(bits)


def _attach_units(found: list[Recognised]) -> list[Recognised]:
    """Pair unit columns with the measurement they describe (``weight`` + ``weight_unit``)."""
    by_name = {r.column: r for r in found}
    out = list(found)
    for i, r in enumerate(found):
        if r.meaning != "unit":
            continue
        stem = re.sub(r"_?(unit|units|uom|unit_of_measure)$", "", r.column)
        target = by_name.get(stem)
        if target is None:
            # A lone unit column next to a value column (``value``, ``units``).
            near = [x for x in found if x.meaning == "value"]
            target = near[0] if len(near) == 1 else None
        if target is None:
            continue
        j = found.index(target)
        out[j] = Recognised(
            target.column,
            target.raw,
            target.meaning,
            None if target.meaning in VITALS else target.unit,
            target.evidence,
            r.column,
            f"{target.note}; units per row in {r.raw}",
        )
        out[i] = Recognised(
            r.column, r.raw, "unit", None, r.evidence, None, f"units of {target.raw}"
        )
    return out


def recognise(
    raw_names: Sequence[str], names: Sequence[str], sample: pl.DataFrame
) -> list[Recognised]:
    """Recognise every column of a file from its header and a sample of rows (text).

    Args:
        raw_names: the header as written (the sample's column names).
        names: the normalised names rules will use, in the same order.
        sample: rows read as text.
    """
    found = [recognise_column(n, r, sample[r]) for r, n in zip(raw_names, names, strict=True)]
    return _attach_units(found)
