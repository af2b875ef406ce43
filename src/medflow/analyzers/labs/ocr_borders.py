"""Printed cell borders that Tesseract read into the words beside them.

A table printed with a pipe between its cells (``| 5.0 | 8.0``, a border too short to be
removed as a rule) is read with most of its pipes as words of their own (``|``, ``I``, ``l``,
or a bracket for a broken one), each at the border's place: a border is a column of such lone
marks, at most :data:`BORDER_MAX_W` wide, at one x (within :data:`BORDER_SLACK`) on at least
:data:`BORDER_MIN_LINES` lines. On some lines Tesseract glues the pipe to the next cell's
text instead (two_column and split_range tuning scans: ``|=13``, ``|.0.65``, ``[10.9``,
``251`` for 51, ``15.0`` for the Low limit 5.0 of a urine pH), or reads it alone as a digit
(``2``). A word that starts at a border holds the border's ink:

* a word no wider than a border there is the border;
* its first character is the border when it is a mark no value starts with
  (:data:`BORDER_GLUE`; the smudges after it go too);
* a leading digit (or dash) is the border when the word's right edge says so. Its left edge
  says nothing: Tesseract often takes a pipe into a word's box and drops it from the text
  (``1.14`` boxed from the border keeps its 1). The numbers of other lines that start just
  right of the border (the cell's padding, :data:`PAD_MIN` to :data:`PAD_MAX`) give where the
  cell's text starts and how wide a character is (a least-squares line of box width on
  character count: report fonts print digits at one width); the leading character goes when
  the word ends nearer where its text without it would end than where its whole text would,
  by :data:`END_MARGIN` of a character. With too few such numbers the page's digit width and
  the border's usual gap to its cell's text stand in for them (the word's width must fit the
  rest better than the whole, by :data:`BORDER_FIT` points).
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable

from medflow.analyzers.labs.words import Line, Word

# Marks Tesseract makes of a pipe read on its own: the upright stroke, a letter of its shape,
# a bracket for a broken one.
BORDER_MARK_TEXTS = frozenset({"|", "I", "l", "[", "]", "{", "}", "!"})
# A pipe is a stroke: its box at most this wide (points; a bracket read at 9 pt is 1-2).
BORDER_MAX_W = 2.0
BORDER_SLACK = 1.0
BORDER_MIN_LINES = 3
# Marks no value starts with: glued to a word at a border, they are the border.
BORDER_GLUE = frozenset("|[]{}()!IlJ=:.,;'_")
BORDER_FIT = 1.0
# Numbers of other lines starting this far right of the border's middle (points) are the
# cell's own text (the padding after a pipe was 4-7 pt on the tuning pages); it takes
# MIN_REFS of them to measure the cell.
PAD_MIN, PAD_MAX = 0.5, 12.0
MIN_REFS = 3
END_MARGIN = 0.25
# Smudges left between a border and the value after it ("|=13", "|.0.65").
_BORDER_SMUDGE = re.compile(r"^[=.:,;'_]+(?=[\d<>])")
_PLAIN_NUMBER = re.compile(r"^-?\d[\d.,]*(?:-\d[\d.,]*)?$")
_NUMBER = re.compile(r"^\d[\d.,]*$")


def _units(text: str) -> float:
    """The width of a number in digit widths (a point or comma half one, a dash 0.6)."""
    return sum(0.5 if c in ".," else 0.6 if c == "-" else 1.0 for c in text)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else 0.0


def _is_mark(word: Word) -> bool:
    return word.text in BORDER_MARK_TEXTS and word.x1 - word.x0 <= BORDER_MAX_W


def border_xs(lines: list[Line]) -> list[float]:
    """The x-middles (points) of the printed cell borders of a page: lone marks at one x on
    at least :data:`BORDER_MIN_LINES` lines (see the module docstring)."""
    mids = sorted((w.x0 + w.x1) / 2 for line in lines for w in line.words if _is_mark(w))
    groups: list[list[float]] = []
    for x in mids:
        if groups and x - groups[-1][-1] <= BORDER_SLACK:
            groups[-1].append(x)
        else:
            groups.append([x])
    return [g[len(g) // 2] for g in groups if len(g) >= BORDER_MIN_LINES]


def _cell_measure(border: float, numbers: list[Word]) -> tuple[float, float, float] | None:
    """(where the cell's text starts, width per character, width offset) from the numbers
    that start just right of ``border``; None when there are too few."""
    cell = [w for w in numbers if PAD_MIN < w.x0 - border <= PAD_MAX]
    if len(cell) < MIN_REFS:
        return None
    start = statistics.median(w.x0 for w in cell)
    sizes = [float(len(w.text)) for w in cell]
    widths = [w.x1 - w.x0 for w in cell]
    if len(set(sizes)) >= 2:
        slope, offset = statistics.linear_regression(sizes, widths)
    else:
        slope, offset = statistics.median(w / n for w, n in zip(widths, sizes, strict=True)), 0.0
    return (start, slope, offset) if slope > 0 else None


def _page_measure(lines: list[Line], xs: list[float]) -> Callable[[Word], bool]:
    """The fallback test of a leading digit (the page's digit width and border gap)."""
    gap = _median(
        [
            nxt.x0 - w.x1
            for line in lines
            for w, nxt in zip(line.words, line.words[1:], strict=False)
            if _is_mark(w) and any(abs((w.x0 + w.x1) / 2 - x) <= BORDER_SLACK for x in xs)
        ]
    )
    digit = _median(
        [
            (w.x1 - w.x0) / _units(w.text)
            for line in lines
            for w in line.words
            if _PLAIN_NUMBER.match(w.text)
            and sum(c.isdigit() for c in w.text) >= 2
            and w.conf >= 80
        ]
    )

    def fits_rest(word: Word) -> bool:
        if digit <= 0:
            return False
        width = word.x1 - word.x0
        whole = abs(width - gap - digit * _units(word.text))
        after = abs(width - gap - digit * _units(word.text[1:]))
        return after + BORDER_FIT <= whole

    return fits_rest


def _leading_is_border(
    word: Word, border: float, numbers: list[Word], fits_rest: Callable[[Word], bool]
) -> bool:
    """Whether the leading digit or dash of ``word`` (starting at ``border``) is the border."""
    if not (_PLAIN_NUMBER.match(word.text) and _PLAIN_NUMBER.match(word.text[1:])):
        return False
    measure = _cell_measure(border, numbers)
    if measure is None:
        return fits_rest(word)
    start, char, offset = measure
    whole = start + char * len(word.text) + offset
    short = whole - char
    return abs(word.x1 - short) + END_MARGIN * char < abs(word.x1 - whole)


def strip_glued_borders(lines: list[Line]) -> list[Line]:
    """``lines`` with each cell border Tesseract read into a word taken out of it (see the
    module docstring): the border becomes a ``|`` of its own, the word's box starts after
    it; lines with nothing to take out are returned as they are."""
    from medflow.analyzers.labs.ocr import clean_word  # ocr imports this module

    xs = border_xs(lines)
    if not xs:
        return lines
    numbers = [w for line in lines for w in line.words if _NUMBER.match(w.text)]
    fits_rest = _page_measure(lines, xs)
    out: list[Line] = []
    for line in lines:
        words: list[Word] = []
        for w in line.words:
            at = next((x for x in xs if w.x0 - BORDER_SLACK <= x <= w.x0 + BORDER_MAX_W / 2), None)
            if at is None or w.text in BORDER_MARK_TEXTS:
                words.append(w)
            elif w.x1 - w.x0 <= BORDER_MAX_W + BORDER_SLACK:
                words.append(Word("|", w.x0, w.top, w.x1, w.bottom, w.conf))
            elif len(w.text) >= 2 and (
                w.text[0] in BORDER_GLUE or _leading_is_border(w, at, numbers, fits_rest)
            ):
                rest = _BORDER_SMUDGE.sub("", w.text[1:])
                x0 = w.x0 + (w.x1 - w.x0) * (len(w.text) - len(rest)) / len(w.text)
                words.append(Word("|", w.x0, w.top, min(x0, w.x0 + BORDER_MAX_W), w.bottom, w.conf))
                words.append(Word(clean_word(rest), x0, w.top, w.x1, w.bottom, w.conf))
            else:
                words.append(w)
        out.append(Line(words))
    return out
