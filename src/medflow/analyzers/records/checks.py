"""Rules as Polars expressions: one boolean "failed" column and one readable message per rule.

Failure flags are computed for every row in one streaming pass; messages are built only for the
rows that failed, when the quarantine file is written. Rule ids are stable strings used in the
report's per-rule counts: ``<column>.type``, ``<column>.required``, ``<column>.regex``,
``<column>.allowed``, ``<column>.range``, ``<column>.code``, ``unique.<a>+<b>``, and the ids the
rule set gives its cross-field and reference rules.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from medflow.analyzers.records.dates import DateDecision, ambiguous_mask
from medflow.analyzers.records.rules import (
    AgeFromDobRule,
    ColumnSpec,
    ColumnType,
    DateOrderRule,
    NumberOrderRule,
    RuleSet,
)

TEXT = "__txt_"
"""Prefix of a cleaned-text column (before typing)."""
FLAG = "__f_"
"""Prefix of a rule's failure flag column."""
KEY = "__key_"
"""Prefix of a unique key's 64-bit hash column."""


@dataclass(frozen=True)
class RuleCheck:
    """One rule, ready to run.

    Attributes:
        id: the rule's id in reports.
        columns: the columns it looks at (the first is charged in ``fields_flagged``).
        fail: true on a row that breaks the rule (never null).
        message: a readable reason, evaluated only on failing rows.
        late: the rule needs values from the whole file (repeated keys, distinct codes,
            another file), so it runs after the first pass, on the written table.
    """

    id: str
    columns: tuple[str, ...]
    fail: pl.Expr
    message: pl.Expr
    late: bool = False

    @property
    def flag(self) -> str:
        """The name of this rule's flag column."""
        return f"{FLAG}{self.id}"


def late_columns(rules: RuleSet, present: set[str]) -> list[str]:
    """Columns whose cleaned text the late rules read (codes, references).

    Unique keys are not among them: their rule reads the key's hash column (:func:`key_column`).
    """
    cols = [n for n, s in rules.columns.items() if s.code is not None]
    cols += [r.column for r in rules.references]
    return [c for c in dict.fromkeys(cols) if c in present]


def unique_keys(rules: RuleSet, present: set[str]) -> list[tuple[str, ...]]:
    """The rule set's unique keys whose columns are all in the file."""
    return [tuple(k) for k in rules.unique if set(k) <= present]


@dataclass(frozen=True)
class Lookups:
    """Values found in pre-passes over the file (or over a reference file).

    Attributes:
        bad_codes: per column, the distinct values that are not valid codes.
        duplicate_keys: per unique key (joined with ``+``), the hashes of repeated key values.
        reference_values: per reference rule id, the values the other file holds.
    """

    bad_codes: Mapping[str, Sequence[str]]
    duplicate_keys: Mapping[str, pl.Series]
    reference_values: Mapping[str, pl.Series]

    @classmethod
    def empty(cls) -> Lookups:
        """No values yet (enough to build the row-local rules)."""
        return cls({}, {}, {})


def key_name(key: Sequence[str]) -> str:
    """The id part of a unique key: its columns joined with ``+``."""
    return "+".join(key)


def key_column(key: Sequence[str]) -> str:
    """The name of a unique key's hash column."""
    return f"{KEY}{key_name(key)}"


def key_hash(key: Sequence[str]) -> pl.Expr:
    """A 64-bit hash of a key's cleaned text (null when a part is missing)."""
    parts = [pl.col(f"{TEXT}{c}") for c in key]
    any_null = pl.any_horizontal([p.is_null() for p in parts])
    return pl.when(any_null).then(None).otherwise(pl.struct(parts).hash(seed=7))


def say(*parts: str | pl.Expr) -> pl.Expr:
    """A message from literal text and expressions (missing values shown as ``missing``)."""
    return pl.concat_str(
        [pl.lit(p) if isinstance(p, str) else p.cast(pl.String).fill_null("missing") for p in parts]
    )


def _bound(value: float | dt.date | str | None, today: dt.date) -> float | dt.date | None:
    if value == "today":
        return today
    if isinstance(value, str):
        return dt.date.fromisoformat(value)
    return value


def _fmt(v: float | dt.date) -> str:
    return v.isoformat() if isinstance(v, dt.date) else f"{v:g}"


_TYPE_WORDS = {
    ColumnType.INTEGER: "a whole number",
    ColumnType.FLOAT: "a number",
    ColumnType.DATE: "a date",
    ColumnType.DATETIME: "a date and time",
}


def column_checks(
    name: str,
    spec: ColumnSpec,
    lookups: Lookups,
    today: dt.date,
    decision: DateDecision | None = None,
) -> list[RuleCheck]:
    """The single-column rules of one declared column.

    Args:
        decision: for a date column, how its dates are read: values whose day/month order is
            undecided are left as written, not failed.
    """
    text, value = pl.col(f"{TEXT}{name}"), pl.col(name)
    present = text.is_not_null()
    shown = text.str.slice(0, 40)
    out: list[RuleCheck] = []
    if spec.required:
        out.append(
            RuleCheck(f"{name}.required", (name,), text.is_null(), pl.lit(f"{name} is missing"))
        )
    if spec.type is not ColumnType.STRING:
        word = _TYPE_WORDS[spec.type]
        if decision is not None and spec.type in (ColumnType.DATE, ColumnType.DATETIME):
            fmts = " or ".join(decision.formats)
            word += f" in the column's format ({fmts})"
        out.append(
            RuleCheck(
                f"{name}.type",
                (name,),
                present & value.is_null() & ~ambiguous_mask(text, decision),
                say(f"{name} '", shown, f"' is not {word}"),
            )
        )
    if spec.regex is not None:
        out.append(
            RuleCheck(
                f"{name}.regex",
                (name,),
                present & ~text.str.contains(f"^(?:{spec.regex})$").fill_null(False),
                say(f"{name} '", shown, f"' does not match the pattern {spec.regex}"),
            )
        )
    if spec.allowed is not None:
        allowed = ", ".join(spec.allowed)
        if spec.ignore_case:
            known = text.str.to_lowercase().is_in([v.lower() for v in spec.allowed])
            allowed += " (any case)"
        else:
            known = text.is_in(list(spec.allowed))
        out.append(
            RuleCheck(
                f"{name}.allowed",
                (name,),
                present & ~known,
                say(f"{name} '", shown, f"' is not one of: {allowed}"),
            )
        )
    lo, hi = _bound(spec.min, today), _bound(spec.max, today)
    if spec.type is ColumnType.DATETIME:
        # Date bounds hold for the whole day: a timestamp at 10:00 today is not in the future.
        value = value.dt.date()
    if lo is not None or hi is not None:
        too_low = value < lo if lo is not None else pl.lit(False)
        too_high = value > hi if hi is not None else pl.lit(False)
        span = (
            f"[{_fmt(lo) if lo is not None else '-inf'}, {_fmt(hi) if hi is not None else 'inf'}]"
        )
        out.append(
            RuleCheck(
                f"{name}.range",
                (name,),
                (value.is_not_null() & (too_low | too_high)).fill_null(False),
                say(f"{name} ", value, f" is outside {span}"),
            )
        )
    if spec.code is not None:
        bad = list(lookups.bad_codes.get(name, ()))
        out.append(
            RuleCheck(
                f"{name}.code",
                (name,),
                present & text.is_in(bad),
                say(f"{name} '", shown, f"' is not a valid {_CODE_NAMES[spec.code.value]} code"),
                late=True,
            )
        )
    return out


_CODE_NAMES = {"icd10cm": "ICD-10-CM", "loinc": "LOINC", "snomedct": "SNOMED CT"}


def _comparable(rules: RuleSet, a: str, b: str) -> tuple[pl.Expr, pl.Expr]:
    """Two date/time columns ready to compare: as timestamps when both have times, else days."""
    both_timed = all(rules.columns[c].type is ColumnType.DATETIME for c in (a, b))
    if both_timed:
        return pl.col(a), pl.col(b)
    return pl.col(a).cast(pl.Date), pl.col(b).cast(pl.Date)


def _whole_years(dob: pl.Expr, at: pl.Expr) -> pl.Expr:
    """Completed years between two dates (birthday not yet reached counts one less)."""
    # month/day are Int8: widen before arithmetic or 12 * 100 overflows.
    at_md = at.dt.month().cast(pl.Int32) * 100 + at.dt.day().cast(pl.Int32)
    dob_md = dob.dt.month().cast(pl.Int32) * 100 + dob.dt.day().cast(pl.Int32)
    before_birthday = at_md < dob_md
    return (at.dt.year() - dob.dt.year()).cast(pl.Int64) - before_birthday.cast(pl.Int64)


def build_checks(
    rules: RuleSet,
    present: set[str],
    lookups: Lookups,
    today: dt.date,
    dates: Mapping[str, DateDecision] | None = None,
) -> list[RuleCheck]:
    """Every rule of the rule set whose columns are in the file, as :class:`RuleCheck`s."""
    dates = dates or {}
    checks: list[RuleCheck] = []
    for name, spec in rules.columns.items():
        if name in present:
            checks += column_checks(name, spec, lookups, today, dates.get(name))
    for key in rules.unique:
        if not set(key) <= present:
            continue
        kid = key_name(key)
        dupes = lookups.duplicate_keys.get(kid, pl.Series([], dtype=pl.UInt64))
        shown = pl.concat_str([pl.col(f"{TEXT}{c}") for c in key], separator="/")
        checks.append(
            RuleCheck(
                f"unique.{kid}",
                tuple(key),
                pl.col(key_column(key)).is_in(dupes.implode()).fill_null(False),
                say(f"{kid} '", shown, "' appears on more than one row"),
                late=True,
            )
        )
    for rule in rules.cross_field:
        if isinstance(rule, DateOrderRule) and {rule.first, rule.then} <= present:
            a, b = _comparable(rules, rule.first, rule.then)
            checks.append(
                RuleCheck(
                    rule.id,
                    (rule.then, rule.first),
                    (a > b).fill_null(False),
                    say(f"{rule.first} ", a, f" is after {rule.then} ", b),
                )
            )
        elif isinstance(rule, NumberOrderRule) and {rule.lower, rule.higher} <= present:
            lo, hi = pl.col(rule.lower), pl.col(rule.higher)
            checks.append(
                RuleCheck(
                    rule.id,
                    (rule.lower, rule.higher),
                    (lo >= hi).fill_null(False),
                    say(f"{rule.lower} ", lo, f" is not below {rule.higher} ", hi),
                )
            )
        elif isinstance(rule, AgeFromDobRule) and {rule.age, rule.dob, rule.at} <= present:
            years = _whole_years(pl.col(rule.dob), pl.col(rule.at))
            age = pl.col(rule.age)
            checks.append(
                RuleCheck(
                    rule.id,
                    (rule.age, rule.dob),
                    ((age - years).abs() > rule.tolerance_years).fill_null(False),
                    say(
                        f"{rule.age} ",
                        age,
                        f" does not match {rule.dob} ",
                        pl.col(rule.dob),
                        " (",
                        years,
                        f" years at {rule.at})",
                    ),
                )
            )
    for ref in rules.references:
        if ref.column not in present or ref.id not in lookups.reference_values:
            continue
        text = pl.col(f"{TEXT}{ref.column}")
        known = lookups.reference_values[ref.id]
        checks.append(
            RuleCheck(
                ref.id,
                (ref.column,),
                text.is_not_null() & ~text.is_in(known.implode()),
                say(f"{ref.column} '", text, f"' is not in {ref.dataset}.{ref.ref_column}"),
                late=True,
            )
        )
    return checks
