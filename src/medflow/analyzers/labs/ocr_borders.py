"""Cell borders that Tesseract read as a digit ``1`` glued to the number beside them.

A table printed with pipes between its cells (``| 5.0 | 8.0``) is read with most of its pipes
as words of their own (``|``, or ``]``, ``}`` for a pipe a little broken), each at the
border's place. On some lines the pipe touches the next cell's number and Tesseract reads the
two as one word whose first glyph is a ``1``: ``15.0`` for the Low limit 5.0 of a urine pH,
5.0 - 8.0 (split_range tuning seed 385). Where a word starts on a border (within
:data:`BORDER_TOL` of at least :data:`MIN_PIPES` pipes of other lines) its left edge says
nothing (Tesseract often takes a pipe into a word's box and drops it from the text: ``6.2``
boxed from the border), but its right edge does: the numbers of other lines that start just
right of that border (the cell's padding) give where the cell's text starts and how wide a
character is (a least-squares line of box width on character count: digits are of one width
in report fonts). The ``1`` is dropped when the word's right edge is nearer where its text
without the ``1`` would end than where its whole text would, by the margin
:data:`END_MARGIN`; ``19.4`` and ``13`` starting on a border keep their 1.
"""

from __future__ import annotations

import re
import statistics

from medflow.analyzers.labs.words import Line, Word

# Pipes read on their own: the upright stroke, or a bracket for a broken one.
PIPE_MARKS = frozenset({"|", "]", "[", "}", "{"})
# A pipe is a stroke: its box is at most this wide (points; a bracket read at 9 pt is 1-2).
PIPE_MAX_WIDTH = 2.5
# A word's left edge this close to a border's (points). On the tuning page the pipe-glued
# "15.0" started at the pipes' own x (442 pt) and the Low numbers of other rows 4-6 pt right
# of it; a page left a little skew after deskewing moves a border by under a point.
BORDER_TOL = 1.5
# Pipes of other lines at that x for it to be a border (a column of cells, not one mark).
MIN_PIPES = 3
# Numbers of other lines starting this far right of the border (points) are the cell's own
# text (the padding after a pipe read on its own was 4-7 pt on the tuning pages), and it takes
# this many of them to measure the cell.
PAD_MIN, PAD_MAX = 1.0, 12.0
MIN_REFS = 3
# The right edge is taken for the shorter text when nearer it by this share of a character.
END_MARGIN = 0.25
_BORDER_ONE = re.compile(r"^1(?=\d)(\d[\d.,]*)$")
_NUMBER = re.compile(r"^\d[\d.,]*$")


def _is_pipe(word: Word) -> bool:
    return word.text in PIPE_MARKS and word.x1 - word.x0 <= PIPE_MAX_WIDTH


def _cell_measure(border: float, refs: list[Word]) -> tuple[float, float, float] | None:
    """(where the cell's text starts, width per character, width offset) from the numbers
    ``refs`` that start just right of ``border``; None when there are too few."""
    cell = [w for w in refs if PAD_MIN < w.x0 - border <= PAD_MAX and _NUMBER.match(w.text)]
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


def _border_one(word: Word, border: float, refs: list[Word]) -> bool:
    """Whether ``word``'s leading 1 is the border at ``border`` (see the module docstring)."""
    measure = _cell_measure(border, refs)
    if measure is None:
        return False
    start, char, offset = measure
    whole = start + char * len(word.text) + offset
    short = whole - char
    return abs(word.x1 - short) + END_MARGIN * char < abs(word.x1 - whole)


def drop_border_ones(lines: list[Line]) -> list[Line]:
    """``lines`` with a border read as a leading ``1`` taken off the number it touches (see
    the module docstring); other lines are returned as they are."""
    pipes = [(i, w.x0) for i, line in enumerate(lines) for w in line.words if _is_pipe(w)]
    if len(pipes) < MIN_PIPES:
        return lines
    out: list[Line] = []
    for i, line in enumerate(lines):
        words = list(line.words)
        changed = False
        for k, w in enumerate(words):
            m = _BORDER_ONE.match(w.text)
            if m is None:
                continue
            near = [x for j, x in pipes if j != i and abs(x - w.x0) <= BORDER_TOL]
            if len(near) < MIN_PIPES:
                continue
            refs = [v for j, other in enumerate(lines) if j != i for v in other.words]
            if not _border_one(w, statistics.median(near), refs):
                continue
            x0 = w.x0 + (w.x1 - w.x0) / len(w.text)
            words[k] = Word(m.group(1), x0, w.top, w.x1, w.bottom, w.conf)
            changed = True
        out.append(Line(words) if changed else line)
    return out
