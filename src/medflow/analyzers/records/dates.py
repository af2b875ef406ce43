"""Dates and timestamps: one format per column, decided from all of the column's values.

Cell-by-cell fallback (try month-first, then day-first, for each cell) silently swaps day and month
in a day-first file whenever the day is 12 or less. So the format is never chosen per cell.
Instead every distinct date in a column is sorted into a *family* by its shape (``NN/NN/YYYY``,
``YYYY-NN-NN``, ``NN-Mon-YYYY``...), and each family's format is decided once, for the whole
column, by the values that can only be read one way: ``13/02/2020`` can only be day-first, so a
family holding it is day-first throughout. A family whose every value reads both ways (no day
above 12 anywhere) is *ambiguous*: its values are left as written, not guessed, and the report
says so. Two-digit years are ambiguous in their century and are left as written too.

Families are disjoint (their separators and token kinds differ), so a column mixing ISO 8601 and
one other family (a merged export) is read correctly: each family has one format.

Timestamps keep their time: ``2020-01-05T10:22:33Z``, ``2020-01-05 10:22``, ``01/05/2020 10:22
PM``. The time of day is read by one pattern (ISO 8601 / RFC 3339 times, with optional seconds,
fraction, AM/PM and UTC offset), and a value with an offset is converted to UTC.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import reduce

import polars as pl

ISO_DATE = "%Y-%m-%d"

TIME_PATTERN = (
    r"[T ]\s*(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*([AaPp][Mm])?\s*"
    r"(Z|[+-]\d{2}:?\d{2})?\s*$"
)
"""A time of day at the end of a cell, after ``T`` or a space (ISO 8601 / RFC 3339 shapes)."""

_TIME_RE = re.compile(TIME_PATTERN)

# Family -> competing readings; each reading is the formats that together read the family
# (full and short month names are read together, they never compete). Day-first and
# month-first compete: exactly one is chosen per column, by the values only one can read.
_FAMILIES: dict[str, tuple[tuple[str, ...], ...]] = {
    "Y-N-N": (("%Y-%m-%d",),),
    "Y/N/N": (("%Y/%m/%d",),),
    "Y.N.N": (("%Y.%m.%d",),),
    "D8": (("%Y%m%d",),),
    "N/N/Y": (("%m/%d/%Y",), ("%d/%m/%Y",)),
    "N-N-Y": (("%m-%d-%Y",), ("%d-%m-%Y",)),
    "N.N.Y": (("%d.%m.%Y",), ("%m.%d.%Y",)),
    "N-M-Y": (("%d-%b-%Y", "%d-%B-%Y"),),
    "N M Y": (("%d %b %Y", "%d %B %Y"),),
    "M N Y": (("%b %d %Y", "%B %d %Y"),),
    "M N, Y": (("%b %d, %Y", "%B %d, %Y"),),
    "N/M/Y": (("%d/%b/%Y", "%d/%B/%Y"),),
}
DEFAULT_FORMATS: tuple[str, ...] = tuple(
    dict.fromkeys(f for readings in _FAMILIES.values() for r in readings for f in r)
)
"""Every format a date may be written in (ISO 8601 first)."""

_TWO_DIGIT_YEAR = {"N/N/N", "N-N-N", "N.N.N"}


def family(date_part: str) -> str:
    """The shape of a date: 4-digit runs are ``Y``, 1-2 digit runs ``N``, letters ``M``."""
    s = date_part.strip()
    if re.fullmatch(r"\d{8}", s):
        return "D8"
    return re.sub(r"\s+", " ", _TOKEN.sub(_token_kind, s))


_TOKEN = re.compile(r"\d+|[A-Za-z]+")


def _token_kind(m: re.Match[str]) -> str:
    t = m.group()
    if t.isdigit():
        return "Y" if len(t) == 4 else "N" if len(t) <= 2 else "#"
    return "M"


def date_part(text: str) -> str:
    """The cell without a trailing time of day."""
    return _TIME_RE.sub("", text.strip()).strip()


@dataclass(frozen=True)
class DateDecision:
    """How one column's dates are read.

    Attributes:
        formats: the formats chosen, one reading per family found in the column.
        ambiguous: distinct values left as written, by family (day/month or century unknown).
        examples: per ambiguous family, one value as an example for the report.
        with_time: the column's values carry a time of day (read and kept).
    """

    formats: tuple[str, ...] = (ISO_DATE,)
    ambiguous: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    examples: Mapping[str, str] = field(default_factory=dict)
    with_time: bool = False

    @property
    def ambiguous_values(self) -> list[str]:
        """Every distinct date part left as written."""
        return [v for vs in self.ambiguous.values() for v in vs]

    def describe(self) -> str:
        """One line for the report: the formats and what was left as written."""
        fmts = ", ".join(self.formats) or "none"
        text = f"formats {fmts}" + (" with time of day" if self.with_time else "")
        for fam, values in self.ambiguous.items():
            kind = "century" if fam in _TWO_DIGIT_YEAR else "day/month order"
            text += (
                f"; {len(values)} distinct value(s) like {self.examples[fam]!r} left as written "
                f"({kind} cannot be decided from the column's values)"
            )
        return text


def _parses(values: list[str], fmts: Sequence[str]) -> pl.Series:
    s = pl.Series(values, dtype=pl.String)
    parsed = [s.str.to_date(f, strict=False, cache=False) for f in fmts]
    ok = parsed[0].is_not_null()
    for p in parsed[1:]:
        ok = ok | p.is_not_null()
    return ok


def decide(values: Iterable[str], allowed: Sequence[str] = DEFAULT_FORMATS) -> DateDecision:
    """Decide a column's formats from its distinct date parts (times already removed).

    Args:
        values: the column's distinct cells, trimmed, without time of day.
        allowed: formats the rule set allows (readings using others are not considered).
    """
    by_family: dict[str, list[str]] = {}
    for v in values:
        if v:
            by_family.setdefault(family(v), []).append(v)
    formats: list[str] = [ISO_DATE]
    ambiguous: dict[str, tuple[str, ...]] = {}
    examples: dict[str, str] = {}
    for fam, vals in sorted(by_family.items(), key=lambda kv: -len(kv[1])):
        if fam in _TWO_DIGIT_YEAR:
            ambiguous[fam], examples[fam] = tuple(sorted(vals)), min(vals)
            continue
        readings = [r for r in _FAMILIES.get(fam, ()) if set(r) <= set(allowed)]
        if not readings:
            continue  # not a date shape medflow knows: those cells fail the type check
        if len(readings) == 1:
            formats += [f for f in readings[0] if f not in formats]
            continue
        oks = [_parses(vals, r) for r in readings]
        # Values only one reading can parse decide; ties (none, or as many each) stay open.
        only = [
            int((ok & ~reduce(operator.or_, [o for j, o in enumerate(oks) if j != i])).sum())
            for i, ok in enumerate(oks)
        ]
        best = max(only)
        if best == 0 or only.count(best) > 1:
            both = reduce(operator.and_, oks)
            open_values = [v for v, b in zip(vals, both, strict=True) if b]
            if open_values:
                ambiguous[fam] = tuple(sorted(open_values))
                examples[fam] = min(open_values)
            continue
        formats += [f for f in readings[only.index(best)] if f not in formats]
    return DateDecision(tuple(formats), ambiguous, examples)


def fixed(fmt: str, with_time: bool = False) -> DateDecision:
    """A decision pinned by the rule set (``date_format``): ISO 8601 and that format."""
    return DateDecision(tuple(dict.fromkeys((ISO_DATE, fmt))), with_time=with_time)


def scan_decisions(
    lf: pl.LazyFrame,
    columns: Mapping[str, str],
    allowed: Sequence[str] = DEFAULT_FORMATS,
    head_rows: int = 2000,
) -> dict[str, DateDecision]:
    """Decide every date column's formats in one pass over ``lf``.

    Args:
        lf: the file as read (text).
        columns: normalised name -> column in ``lf``.
        allowed: the rule set's allowed formats.
        head_rows: rows read first to see which columns carry times of day.

    Distinct values are few (a century of birth dates is under 40,000), so this holds little.
    Times of day are cut off first in columns whose first rows carry them, so timestamp columns
    do not make every value distinct; one pass reads every column's distinct values.
    """
    if not columns:
        return {}
    names = list(columns)
    text = {n: pl.col(columns[n]).str.strip_chars() for n in names}
    head = lf.head(head_rows).select(
        [text[n].str.contains(":", literal=True).any().alias(n) for n in names]
    )
    timed = head.collect().row(0, named=True)
    parts = [
        (text[n].str.replace(TIME_PATTERN, "").str.strip_chars() if timed[n] else text[n])
        .unique()
        .implode()
        .alias(n)
        for n in names
    ]
    found = lf.select(parts).collect(engine="streaming").row(0, named=True)
    out: dict[str, DateDecision] = {}
    for n in names:
        values = [v for v in found[n] if v is not None]
        late_times = not timed[n] and any(":" in v for v in values)
        if late_times:
            values = list({date_part(v) for v in values})
        d = decide(values, allowed)
        out[n] = DateDecision(d.formats, d.ambiguous, d.examples, with_time=timed[n] or late_times)
    return out


def parse_dates(text: pl.Expr, decision: DateDecision, iso: pl.Expr | None = None) -> pl.Expr:
    """The date part of the cell read with the column's formats (missing when none reads it).

    Args:
        text: the cleaned cell (for a timestamp column: already without its time of day).
        iso: the ISO 8601 parse, when already computed, so it is not parsed twice.
    """
    iso = text.str.to_date(ISO_DATE, strict=False, cache=False) if iso is None else iso
    others = [f for f in decision.formats if f != ISO_DATE]
    if not others:
        return iso
    # Polars evaluates every branch on every row; the other formats read a copy with the ISO
    # dates blanked, so a file written in ISO 8601 pays for one parse, not one per format.
    rest = pl.when(iso.is_null()).then(text)
    return pl.coalesce(iso, *[rest.str.to_date(f, strict=False, cache=False) for f in others])


def split_time(text: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(date part, time as a duration since midnight in UTC; missing when no time is given)."""
    groups = text.str.extract_groups(TIME_PATTERN)
    h = groups.struct.field("1").cast(pl.Int64, strict=False)
    m = groups.struct.field("2").cast(pl.Int64, strict=False)
    s = groups.struct.field("3").cast(pl.Int64, strict=False).fill_null(0)
    frac = groups.struct.field("4")
    micros = (frac.str.pad_end(6, "0").str.slice(0, 6)).cast(pl.Int64, strict=False).fill_null(0)
    ampm = groups.struct.field("5").str.to_uppercase()
    # 12 AM is midnight, 12 PM noon (ISO 8601 has no AM/PM; this is the US export habit).
    h = pl.when(ampm == "AM").then(h % 12).when(ampm == "PM").then(h % 12 + 12).otherwise(h)
    offset = groups.struct.field("6")
    sign = pl.when(offset.str.starts_with("-")).then(-1).otherwise(1)
    digits = offset.str.replace_all(r"[^0-9]", "")
    off_min = (
        pl.when(offset.is_null() | (offset == "Z"))
        .then(0)
        .otherwise(
            sign
            * (
                digits.str.slice(0, 2).cast(pl.Int64, strict=False) * 60
                + digits.str.slice(2, 2).cast(pl.Int64, strict=False)
            )
        )
    )
    valid = (h < 24) & (m < 60) & (s < 61)
    total = ((h * 3600 + m * 60 + s - off_min * 60) * 1_000_000 + micros).cast(pl.Int64)
    duration = pl.when(valid).then(total).otherwise(None).cast(pl.Duration("us"))
    return text.str.replace(TIME_PATTERN, "").str.strip_chars(), duration


def parse_datetime(text: pl.Expr, decision: DateDecision) -> pl.Expr:
    """The cell as a timestamp (UTC when it carried an offset); a date alone is midnight."""
    day, time = split_time(text)
    date = parse_dates(day, decision)
    has_time = text.str.contains(":", literal=True)
    base = date.cast(pl.Datetime("us"))
    # A cell with a colon whose time does not read (25:99) is not a timestamp.
    zero = pl.lit(0).cast(pl.Duration("us"))
    return pl.when(has_time & time.is_null()).then(None).otherwise(base + time.fill_null(zero))


def ambiguous_mask(text: pl.Expr, decision: DateDecision | None) -> pl.Expr:
    """True where the cell's date part was left as written (its reading is undecided)."""
    if decision is None or not decision.ambiguous:
        return pl.lit(False)
    part = text.str.replace(TIME_PATTERN, "").str.strip_chars() if decision.with_time else text
    return part.is_in(decision.ambiguous_values).fill_null(False)


def describe_all(decisions: Mapping[str, DateDecision]) -> dict[str, str]:
    """The report's per-column date lines."""
    return {c: d.describe() for c, d in decisions.items()}
