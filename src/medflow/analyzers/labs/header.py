"""The report's letterhead: the laboratory's name and the collection date, when printed.

Both are optional evidence for the report, never used to identify the patient. The lab name is
the tallest line near the top of the first page (a letterhead is set larger than the body); the
collection date is the first date after a collection label ("Collected", "Collection Date",
"Sample Date", "Drawn"). Dates are read day-first only when the first number cannot be a
month; ISO dates (``2026-03-01``) and month names are unambiguous.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from medflow.analyzers.labs.rows import is_boilerplate, parse_line
from medflow.analyzers.labs.words import PageText

_LABEL = re.compile(
    r"\b(?:collected|collection(?:\s+date)?|sample\s+(?:date|collected)|drawn|specimen\s+date)"
    r"\s*(?:on|at)?\s*[:\-]?\s*",
    re.IGNORECASE,
)
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})")
_NUMERIC = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2,4})")
_NAMED = re.compile(r"^(\d{1,2})[\s\-]([A-Za-z]{3,9})[\s\-,]+(\d{4})")
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1
    )
}


@dataclass(frozen=True)
class ReportHeader:
    """What the letterhead says about the report."""

    lab_name: str = ""
    collected_at: datetime | None = None


def parse_date(text: str) -> datetime | None:
    """A date at the start of ``text``: ISO, ``01-Mar-2026``, or numeric (US order unless the
    first number is over 12)."""
    text = text.strip()
    if m := _ISO.match(text):
        y, mo, d = int(m[1]), int(m[2]), int(m[3])
    elif m := _NAMED.match(text):
        mo = _MONTHS.get(m[2][:3].lower(), 0)
        y, d = int(m[3]), int(m[1])
    elif m := _NUMERIC.match(text):
        a, b, y = int(m[1]), int(m[2]), int(m[3])
        y += 2000 if y < 100 else 0
        mo, d = (b, a) if a > 12 else (a, b)
    else:
        return None
    try:
        return datetime(y, mo, d)
    except ValueError:
        return None


def read_header(pages: list[PageText]) -> ReportHeader:
    """Lab name and collection date from the first page, when they are printed.

    Args:
        pages: the pages as read.

    Returns:
        the header; empty fields when not found.
    """
    if not pages:
        return ReportHeader()
    first = pages[0]
    top = [ln for ln in first.lines if ln.top < first.height * 0.2]
    candidates = [
        ln
        for ln in top
        if not is_boilerplate(ln)
        and parse_line(ln) is None
        and sum(ch.isalpha() for ch in ln.text) >= 5
    ]
    lab = max(candidates, key=lambda ln: ln.height).text if candidates else ""
    collected = None
    for line in first.lines:
        for m in _LABEL.finditer(line.text):
            collected = parse_date(line.text[m.end() :])
            if collected is not None:
                break
        if collected is not None:
            break
    return ReportHeader(lab_name=lab, collected_at=collected)
