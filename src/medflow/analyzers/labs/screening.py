"""Rows that were not read as results, still compared with what the report prints beside them.

A row whose test is unknown (or a line holding numbers that the parser could not split into a
row) is not interpreted, but a reader must still learn that the report itself says it is out of
range: its value is compared with its own printed range, and a printed flag (H, L, HH, LL,
arrows, asterisks) is taken as the laboratory's word. Either makes a finding that quotes the
row as printed and says it was not interpreted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from medflow.analyzers.labs.interpret import num, plain_range, printed_flag_code
from medflow.analyzers.labs.plausibility import far_outside
from medflow.analyzers.labs.values import parse_range, parse_value
from medflow.domain.labs import Evidence, Finding, FindingSeverity, Flag, RawLabRow, ReferenceRange
from medflow.domain.patient import PatientInfo

_NUMBER = r"[-+]?\d+(?:[.,]\d+)?"
_INTERVAL = re.compile(rf"(?<![\w.,]){_NUMBER}\s*(?:-|–|—|to|a)\s*{_NUMBER}(?![\w.,])")
_BOUND = re.compile(rf"(?:<=|>=|<|>|≤|≥)\s*{_NUMBER}(?![\w.,])")
_LONE = re.compile(r"(?<![\w^*/.,<>=≤≥-])-?\d+(?:[.,]\d+)?(?![\w^*/.,])")
_UNIT = re.compile(r"^(?=.*[a-zA-Zµ%/])[\w/%^*.µ\[\]{}]+$")
_FLAG_WORDS = {"h", "l", "hh", "ll", "high", "low", "alto", "bajo", "elevado"}
GUIDELINE = "As printed on the report; the row was not interpreted by medflow"


@dataclass(frozen=True)
class Printed:
    """What a row prints: its value, its own range and its flag, as far as they can be read."""

    value: float | None
    value_text: str
    range: ReferenceRange | None
    flag: str
    unit: str = ""


def row_text(row: RawLabRow) -> str:
    """The row as printed, in one line (the parser's line, else its cells joined)."""
    if row.line.strip():
        return " ".join(row.line.split())
    cells = (row.name, row.value_text, row.flag_text, row.unit_text, row.range_text)
    return " ".join(c.strip() for c in cells if c.strip())


def _line_flag(text: str) -> str:
    for token in text.split()[1:]:
        bare = token.strip("()[]")
        if bare.isalpha() and bare.lower() not in _FLAG_WORDS:
            continue
        code = printed_flag_code(token)
        if code and code != "N":
            return code
    return ""


def _comma(text: str) -> str:
    return re.sub(r"(?<=\d),(?=\d{1,2}(?!\d))", ".", text)


def read_printed(row: RawLabRow, patient: PatientInfo) -> Printed:
    """The value, range and flag a row prints, from its cells or else from its line."""
    line = row_text(row)
    parsed = parse_value(row.value_text) if row.value_text.strip() else None
    flag = printed_flag_code(row.flag_text) or (parsed.flag if parsed else "")
    if parsed is None:
        # A line the parser could not split: its flag may be anywhere on it. A row with cells
        # has its flag in its own cell (a "h" in "µg/24 h" is no flag).
        flag = flag or _line_flag(line)
    reference = None
    if row.range_text.strip():
        reference = parse_range(plain_range(row.range_text), patient.sex, patient.age)
    rest = _comma(line)
    if reference is None:
        found = _INTERVAL.search(rest) or _last(_BOUND, rest)
        if found is not None:
            reference = parse_range(plain_range(found.group()), patient.sex, patient.age)
            rest = rest[: found.start()] + " " + rest[found.end() :]
    if parsed is not None and parsed.number is not None:
        return Printed(parsed.number, row.value_text.strip(), reference, flag, row.unit_text)
    for match in _LONE.finditer(rest):
        if re.search(r"[^\W\d_]", rest[: match.start()]):  # a name comes first
            after = [t for t in rest[match.end() :].split() if not printed_flag_code(t)]
            unit = row.unit_text or (after[0] if after and _UNIT.match(after[0]) else "")
            value = float(match.group().replace(",", ""))
            return Printed(value, match.group(), reference, flag, unit)
    return Printed(None, row.value_text.strip(), reference, flag, row.unit_text)


def _last(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    found = None
    for found in pattern.finditer(text):  # noqa: B007 - the last one is the range
        pass
    return found


def _side(value: float, reference: ReferenceRange | None) -> int:
    if reference is None:
        return 0
    if reference.low is not None and value < reference.low:
        return -1
    if reference.high is not None and value > reference.high:
        return 1
    return 0


def screen_row(row: RawLabRow, patient: PatientInfo) -> Finding | None:
    """A finding when a row that was not interpreted is out of its own range or flagged.

    Returns:
        ``unrecognized.abnormal`` (critical when the report prints HH or LL), or None when the
        row prints nothing abnormal that can be read.
    """
    printed = read_printed(row, patient)
    side = _side(printed.value, printed.range) if printed.value is not None else 0
    if side == 0 and printed.flag in ("", "N"):
        return None
    flag_code = printed.flag if printed.flag and printed.flag != "N" else ("L" if side < 0 else "H")
    marked_critical = flag_code == "C"  # critical, direction not printed
    if marked_critical:
        flag_code = "LL" if side < 0 else "HH" if side > 0 else "A"
    flag = Flag(flag_code)
    reasons: list[str] = []
    shown_range = printed.range.text if printed.range is not None else ""
    if side and printed.value is not None:
        where = "below" if side < 0 else "above"
        reasons.append(f"{num(printed.value)} is {where} its printed range {shown_range}")
    if printed.flag and printed.flag != "N":
        reasons.append(f"the report flags it {printed.flag}")
    if printed.value is not None:
        far = far_outside(printed.value, printed.range)
        if far:
            reasons.append(f"implausible as read ({far})")
    name = row.name.strip() or "A row"
    critical = marked_critical or flag in (Flag.CRITICAL_HIGH, Flag.CRITICAL_LOW)
    return Finding(
        code="unrecognized.abnormal",
        title=f"{name}: abnormal as printed, not interpreted",
        severity=FindingSeverity.CRITICAL if critical else FindingSeverity.SIGNIFICANT,
        explanation=(
            f'"{row_text(row)}" was not recognised as a known test; as printed, '
            + "; ".join(reasons)
            + ". Check the original report."
        ),
        evidence=(
            Evidence(
                test_id="",
                name=name,
                loinc=None,
                value=printed.value,
                value_text=printed.value_text,
                unit=printed.unit,
                flag=flag,
                reference_range=shown_range,
            ),
        ),
        guideline=GUIDELINE,
    )


def screen_unrecognized(rows: Sequence[RawLabRow], patient: PatientInfo) -> list[Finding]:
    """The findings of :func:`screen_row` for every row, in printed order."""
    return [f for f in (screen_row(r, patient) for r in rows) if f is not None]
