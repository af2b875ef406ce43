"""A scanned line that no reading takes because its value cell was read as no number.

On a grainy or small-type scan Tesseract reads the digits of a value as the letters and marks
they resemble: ``4B`` for 48, ``1S`` for 15, ``7O[T]`` for 70 with an up arrow, ``§.3`` for
5.3 (on leaders tuning scans 7:300-499, about half of the 20 rows lost). Name, unit and range
read fine, but a row needs a value, so the line went to the unread lines. Its value cell is
the first word holding a digit after the name (the name ends at a gap wider than
:data:`NAME_GAP` line heights: the leader dots or the column gap; marks before the value, a
cell border or a smudge, go with it; a printed unit spelling there is a unit column before
the value, "K+  mmol/L  3:7:  3.5 - 5.1", and the cell after it is the value's), and it is
read again from the page image
(``PageText.reread``) with only the characters of a number allowed, as ``ocr_reread`` does for
impossible values. A bracketed flag glued after it (``7O[T]``) becomes a word of its own.

A second reading is taken only when both sources agree on it:

* the page: at least ``ocr_reread.MIN_VOTES`` of the re-read settings give it, more than give
  any other number;
* the first reading: its digits are those of the first reading with each look-alike read as
  the digit it resembles (``digit_lookalikes`` of ``data/ocr_confusions.yaml``) and marks
  dropped; a first reading with another letter (``R2*``, ``2c``) is not re-read at all;

A first reading that vouches for no digits (no digit or look-alike read: ``oS`` for 4.7,
``ce`` for 43; or look-alikes that give other digits: ``1O05*`` for 105) is corroborated by
the page alone: every setting of the re-read (:data:`UNANIMOUS`) gives the same number, and the
line then reads as a row with a printed range that the number does not lie
``ocr_reread.FAR`` times beyond (leaders tuning seeds 317 and 427: three rows lost, each
re-read six times alike as what was printed).

The caller (``parser``) keeps a second reading only when the line then reads as a row whose
value is that number. The row records the first reading (``RawLabRow.corrections``) and the value
keeps the first reading's low OCR confidence, so ``scan_trust`` treats it as uncertain.
"""

from __future__ import annotations

import re

from medflow.analyzers.labs.ocr_repair import confusions, trim_edge_marks, unit_forms
from medflow.analyzers.labs.ocr_reread import MIN_VOTES, VALUE_CHARS
from medflow.analyzers.labs.rows import VALUE_RE
from medflow.analyzers.labs.words import Line, Reread, Word

# A value cell longer than this (characters of its word) is not re-read: values are short, and
# a long word after the name is a wrapped name or a comment.
MAX_CHARS = 7
# Re-read settings that must all give one number when the first reading vouches for no digits.
UNANIMOUS = 6
# The gap (in line heights) that ends the name: wider than the space between the words of a
# name on a scan (up to 1.2 line heights on the tuning scans), narrower than a column gap or a
# run of leader dots (six dots at least).
NAME_GAP = 2.0
_GLUED_FLAG = re.compile(r"^(.+?)(\[[^\]\s]{1,2}\])$")


def digit_reading(text: str) -> str | None:
    """The digits and points of ``text`` with look-alikes read as digits and marks dropped
    (``"7O"`` -> ``"70"``, ``"§.3"`` -> ``"5.3"``); None when it holds another letter."""
    looks = dict(confusions().digit_lookalikes)
    out: list[str] = []
    for ch in text:
        if ch.isdigit() or ch in ".,":
            out.append(ch)
        elif ch in looks:
            out.append(looks[ch])
        elif ch.isalpha():
            return None
    return "".join(out)


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _vote(readings: list[str]) -> str | None:
    counts: dict[str, int] = {}
    for r in readings:
        counts[r] = counts.get(r, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])
    if not ranked or ranked[0][1] < MIN_VOTES:
        return None
    if len(ranked) > 1 and ranked[1][1] == ranked[0][1]:
        return None
    return ranked[0][0]


def _after_marks(words: list[Word], k: int) -> int:
    """The index of the first word from ``k`` on that is not a mark of a cell (a border, a
    smudge: two characters at most, no letter or digit)."""
    while (
        k < len(words) and len(words[k].text) <= 2 and not any(c.isalnum() for c in words[k].text)
    ):
        k += 1
    return k


def value_cell(line: Line) -> tuple[int, int] | None:
    """(first, last) index of the words of the line's value cell when it was read as no
    number (see the module docstring); None when the line has no such cell."""
    words = line.words
    heights = sorted(w.bottom - w.top for w in words)
    height = heights[len(heights) // 2] if heights else 0.0
    start = next(
        (i for i in range(1, len(words)) if words[i].x0 - words[i - 1].x1 > NAME_GAP * height),
        None,
    )
    if start is None:
        return None
    k = _after_marks(words, start)
    if k < len(words) - 1 and trim_edge_marks(words[k].text) in unit_forms():
        # a unit column before the value ("K+  mmol/L  3:7:  3.5 - 5.1"): the cell after it
        start = k + 1
        k = _after_marks(words, start)
    if k >= len(words):
        return None
    text = words[k].text
    if VALUE_RE.match(text) or len(text) > MAX_CHARS or not any(c.isalnum() for c in text):
        return None
    if trim_edge_marks(text) in unit_forms():
        return None  # a unit, its value lost: nothing to read again
    return start, k


def reread_value_cell(line: Line, reread: Reread) -> tuple[Line, str, str, bool] | None:
    """(the line with its value cell read again, the value, the correction in words, whether
    the page alone vouches for it) when the value cell was read as no number and a second
    reading is corroborated (see the module docstring); else None. A reading the page alone
    vouches for is kept by the caller only beside a printed range it does not deny."""
    cell = value_cell(line)
    if cell is None:
        return None
    start, k = cell
    words = line.words
    glued = _GLUED_FLAG.match(words[k].text)
    core, flag = (glued.group(1), glued.group(2)) if glued else (words[k].text, "")
    stars = core[len(core.rstrip("*")) :]
    core = core.rstrip("*")
    wanted = digit_reading(core)
    if wanted == core:
        return None
    cell_words = words[start : k + 1]
    last = words[k]
    # a glued flag's share of the word's box is left out of the re-read
    x1 = last.x1 - (last.x1 - last.x0) * len(flag) / len(last.text)
    box = (
        min(w.x0 for w in cell_words),
        min(w.top for w in cell_words),
        x1,
        max(w.bottom for w in cell_words),
    )
    readings = [r.replace(" ", "").rstrip(",") for r in reread(box, VALUE_CHARS)]
    again = _vote([r for r in readings if VALUE_RE.match(r)])
    if again is None:
        return None
    vouched = wanted is not None and _digits(wanted) == _digits(again)
    if not vouched and not unanimous(readings, again):
        return None
    conf = min(w.conf for w in cell_words)
    value = again + stars
    fixed_words = [Word(value, box[0], box[1], x1, box[3], conf)]
    if flag:
        fixed_words.append(Word(flag, x1, box[1], last.x1, box[3], conf))
    fixed = Line([*words[:start], *fixed_words, *words[k + 1 :]])
    first = " ".join(w.text for w in cell_words)
    note = f'value read as "{first}", no number: read again from the page image as {again}'
    if not vouched:
        note += f" by all {len(readings)} settings"
    return fixed, value, note, not vouched


def unanimous(readings: list[str], number: str) -> bool:
    """Whether at least :data:`UNANIMOUS` re-read settings were tried and all read ``number``."""
    return len(readings) >= UNANIMOUS and all(r == number for r in readings)
