"""Page layout: two-column pages split at their gutter, lines repeated on every page found.

A two-column page is recognised by what it holds, not only by white space: a single-column
results table also has vertical white bands (between the Result and Units columns), so a
candidate gutter counts only when, on at least three lines, the text on *both* sides of it
parses as a complete test row, and it does not cut through a table header read by ``columns``
(two tables side by side have a header each).
"""

from __future__ import annotations

import itertools
import re
from collections import Counter

from medflow.analyzers.labs.columns import Table, read_table_header
from medflow.analyzers.labs.rows import holds_number, parse_line
from medflow.analyzers.labs.words import Line, PageText

# Fraction of the page width where a gutter is looked for.
GUTTER_BAND = (0.3, 0.7)
MIN_GUTTER_PT = 8.0
MIN_TWO_SIDED_ROWS = 3


def _gutters(page: PageText) -> list[float]:
    """Centres of vertical white bands in the middle of the page, widest first."""
    lo, hi = page.width * GUTTER_BAND[0], page.width * GUTTER_BAND[1]
    step = 1.0
    n = int((hi - lo) / step) + 1
    crossings = [0] * n
    for line in page.lines:
        for w in line.words:
            a = max(0, int((w.x0 - lo) / step))
            b = min(n - 1, int((w.x1 - lo) / step))
            for k in range(a, b + 1):
                crossings[k] += 1
    # Lines spanning the whole page (letterhead, footer) may cross the gutter: allow a few.
    limit = max(2, len(page.lines) // 10)
    bands: list[tuple[float, float]] = []
    start: int | None = None
    for k in range(n + 1):
        free = k < n and crossings[k] <= limit
        if free and start is None:
            start = k
        elif not free and start is not None:
            width = (k - start) * step
            if width >= MIN_GUTTER_PT:
                bands.append((width, lo + _clearest(crossings[start:k], start) * step))
            start = None
    return [centre for _, centre in sorted(bands, reverse=True)]


def _clearest(crossings: list[int], offset: int) -> float:
    """The centre of the longest run of a band's fewest crossings (in steps from ``lo``).

    A band may take in the few full-width lines it allows (``_gutters``) and also the end of
    a left column's widest cells: its centre then cuts through those cells ("M: 13.5-17.5 F:
    12.0-15.5" reaching into the band, two-column report, spent held-out seed 60159) and the
    rows they end go to the bottom of the page, out of their table. The clearest part of the
    band is the white space between the columns."""
    fewest = min(crossings)
    runs: list[tuple[int, int]] = []  # (length, -start) of each run at ``fewest``
    k = 0
    for count, run in itertools.groupby(crossings):
        length = len(list(run))
        if count == fewest:
            runs.append((length, -k))
        k += length
    length, start = max(runs)
    return offset - start + length / 2


def _split(line: Line, x: float) -> tuple[Line | None, Line | None]:
    left = [w for w in line.words if w.x1 <= x]
    right = [w for w in line.words if w.x0 >= x]
    if len(left) + len(right) != len(line.words):
        return None, None
    return (Line(left) if left else None), (Line(right) if right else None)


def column_order(page: PageText) -> list[Line]:
    """The page's lines in reading order, each column of a two-column page read in turn.

    Args:
        page: the page as read.

    Returns:
        lines: full-width lines above the columns, the left column, the right column, then
        full-width lines below; a one-column page comes back unchanged.
    """
    headers = [
        (line, tables)
        for line in page.lines
        if (tables := read_table_header(line, page.width)) is not None
    ]
    for x in _gutters(page)[:3]:
        if any(_splits_a_table(line, tables, x) for line, tables in headers):
            continue
        two_sided = 0
        for line in page.lines:
            left, right = _split(line, x)
            if left and right and parse_line(left) and parse_line(right):
                two_sided += 1
        if two_sided >= MIN_TWO_SIDED_ROWS:
            return _reorder(page.lines, x)
    return page.lines


def _splits_a_table(line: Line, tables: list[Table], x: float) -> bool:
    """Whether a gutter at ``x`` would cut a table header in two (one table spans it)."""
    return any(t.columns[0].x0 < x < t.columns[-1].x1 for t in tables) and any(
        w.x1 <= x for w in line.words
    )


def _reorder(lines: list[Line], x: float) -> list[Line]:
    above: list[Line] = []
    below: list[Line] = []
    lefts: list[Line] = []
    rights: list[Line] = []
    for line in lines:
        left, right = _split(line, x)
        if left is None and right is None:
            (below if lefts or rights else above).append(line)
            continue
        if left:
            lefts.append(left)
        if right:
            rights.append(right)
    return above + lefts + rights + below


def _shape(text: str) -> str:
    return re.sub(r"\d+", "0", text.lower()).strip()


def repeated_lines(pages: list[PageText]) -> set[str]:
    """Shapes (digits folded) of lines printed near the top or bottom of most pages.

    Letterheads, patient blocks and footers repeat on every page of a multi-page report; a
    result row does not. Only lines in the top quarter or bottom seventh count, so a table row
    that happens to repeat is left alone.

    Args:
        pages: every page of the document.

    Returns:
        shapes to drop (see :func:`is_repeated`); empty for a one-page document.
    """
    if len(pages) < 2:
        return set()
    counts: Counter[str] = Counter()
    for page in pages:
        seen = {
            _shape(line.text)
            for line in page.lines
            if line.top < page.height * 0.25 or line.top > page.height * 6 / 7
        }
        counts.update(seen)
    need = max(2, (len(pages) + 1) // 2)
    return {shape for shape, n in counts.items() if n >= need}


def repeated_texts(pages: list[PageText]) -> set[str]:
    """Exact texts of lines printed on at least two pages (see :func:`is_repeated`)."""
    counts: Counter[str] = Counter()
    for page in pages:
        counts.update({line.text for line in page.lines})
    return {text for text, n in counts.items() if n >= 2}


def is_repeated(line: Line, shapes: set[str], texts: set[str] | None = None) -> bool:
    """Whether ``line`` is one of the repeated header/footer lines.

    With ``texts`` (:func:`repeated_texts`), a line that holds a number other than a date, a
    time, a page number or a phone number must repeat exactly: digits are folded to compare
    shapes, so "Free T4 | 17.2" at the foot of page 1 and "Free T3 | 5.9" at the top of page
    2 have one shape, yet they are two results.
    """
    if not shapes or _shape(line.text) not in shapes:
        return False
    return texts is None or line.text in texts or not holds_number(line)
