"""Header-driven table columns: find a results table's header row, read rows by column.

A header row is a line made only of header phrases (``data/parser_lexicon.yaml``,
``header_roles``: Test/Analyte/Parameter/Investigation/Examen/Prueba, Result/Value/Resultado,
Units/UOM/Unidades, Reference Range/Biological Reference Interval/Valores de referencia,
Flag/Status, Low/High) and dates (one result column per date in a cumulative report), naming at
least a test column and a result column. Each header cell gives a column's role and x-extent;
the cells of every line below (words grouped by the white space between them) are assigned to
the column they overlap (or, when they overlap none, to the nearest), whatever the order of the
columns. A header naming the test column twice is two tables side by side.

Cumulative reports (several date columns): the value is read from the most recent date's
column (dates read day-first when any day exceeds 12, month-first when any month does; when
the order cannot be told, the first date column is taken as the most recent, as LIS exports
print it); the other dates' values are kept as :class:`EarlierValue` beside the row.

A header line of only Low/High cells under a header with a range cell (a two-row header) splits
that range into Low and High columns. Low/High columns are read as one range
(``"3.5 - 5.1"``, ``"<5.1"`` with only a high limit, ``">3.5"`` with only a low one).
"""

from __future__ import annotations

import difflib
import itertools
import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

import yaml

from medflow.analyzers.labs.header import parse_date
from medflow.analyzers.labs.rows import (
    CELL_GAP,
    STRAY_MARK,
    VALUE_RE,
    Parts,
    is_boilerplate,
    lexicon,
)
from medflow.analyzers.labs.values import normalize_flag
from medflow.analyzers.labs.words import Line, Word

ROLES = ("name", "result", "unit", "range", "flag", "low", "high")
_PIPES = frozenset({"|", "||", "¦", "│"})
_DATE_WORD = re.compile(
    r"^\d{1,4}[/.\-]\d{1,2}[/.\-]\d{2,4}$|^\d{1,2}[\-\s][A-Za-z]{3}[\-\s]\d{4}$"
)
_NAMED_DATE = re.compile(r"^\d{1,2} [A-Za-z]{3,9},? \d{4}$")
_MAX_PHRASE = 5
_VALUE_UNIT = re.compile(r"^(?P<v>[<>]?-?\d[\d,]*(?:\.\d+)?)(?P<u>[A-Za-zµμ%/][\w/^*.%µμ]*)$")


@cache
def _phrases() -> dict[str, str]:
    text = resources.files("medflow.analyzers.labs").joinpath("data/parser_lexicon.yaml")
    data: dict[str, Any] = yaml.safe_load(text.read_text(encoding="utf-8"))
    return {
        str(phrase).lower(): str(role)
        for role, phrases in data["header_roles"].items()
        for phrase in phrases
    }


@dataclass(frozen=True)
class Column:
    """One column of a results table: its role, x-extent (points) and header text."""

    role: str  # name, result, unit, range, flag, low, high, date
    x0: float
    x1: float
    label: str


@dataclass(frozen=True)
class Table:
    """A results table's columns, left to right, and where on the page it lies.

    Attributes:
        columns: the columns.
        value_col: index of the column the value is read from (the result column, or the
            most recent date of a cumulative report).
        left: left edge of the table (words left of it belong to another table).
        right: right edge (exclusive).
    """

    columns: tuple[Column, ...]
    value_col: int
    left: float
    right: float


@dataclass(frozen=True)
class EarlierValue:
    """A value printed for an earlier date in a cumulative report (not read as the result)."""

    date: str
    value_text: str


@dataclass(frozen=True)
class CellRow:
    """What one line holds, by column."""

    parts: Parts | None
    earlier: tuple[EarlierValue, ...]
    roles: frozenset[str]  # roles of the columns that hold text on this line


def _clean_word(text: str) -> str:
    word = text.strip(":,;_=").lower()
    return word if word in ("ref.", "bio.") else word.rstrip(".")


_STRAY = STRAY_MARK


def _header_cells(words: list[Word]) -> list[tuple[str, str, float, float]] | None:
    """(role, label, x0, x1) per header cell, or None when a word is no header word."""
    words = [w for w in words if w.text not in _PIPES and not _STRAY.match(w.text)]
    phrases = _phrases()
    out: list[tuple[str, str, float, float]] = []
    unknown: list[int] = []
    i = 0
    while i < len(words):
        for k in range(min(_MAX_PHRASE, len(words) - i), 0, -1):
            chunk = words[i : i + k]
            if k > 1 and _spans_gap(chunk):
                continue  # a phrase never spans a column gap
            phrase = " ".join(_clean_word(w.text) for w in chunk)
            label = " ".join(w.text for w in chunk)
            if phrase in phrases:
                out.append((phrases[phrase], label, chunk[0].x0, chunk[-1].x1))
                i += k
                break
            if _DATE_WORD.match(label) or (k == 3 and _NAMED_DATE.match(label)):
                out.append(("date", label, chunk[0].x0, chunk[-1].x1))
                i += k
                break
        else:
            unknown.append(i)
            i += 1
    if unknown and len(out) >= SNAP_MIN_NAMED:
        snapped, unknown = _snap_unknown(words, unknown)
        out = _join_snapped(sorted([*out, *snapped], key=lambda c: c[2]), snapped)
    # one short smudge an OCR reads between header cells ("Kon") is passed over when the
    # header names three columns or more without it
    if not unknown:
        return out
    if len(unknown) > 1 or len(words[unknown[0]].text) > 3 or len(out) < 3:
        return None
    return out


def _spans_gap(chunk: list[Word]) -> bool:
    return any(b.x0 - a.x1 > 2.0 * (a.bottom - a.top) for a, b in itertools.pairwise(chunk))


# A header word OCR misread ("Resu1t", "Referenoe Range") is taken as the known header phrase
# it is nearest to, when their similarity (difflib's ratio) is at least SNAP_SIMILARITY and
# SNAP_MIN_NAMED other cells of the row are header phrases as printed: a line of words that
# merely look like header words is not taken for a header. Only runs of four letters or more
# are snapped (a short smudge is passed over, ``_header_cells``). One letter misread in a
# four-letter word ("Plag" for Flag, "Unlt" for Unit) scores 0.75, below the ratio: a reading
# one edit from exactly one phrase is snapped too (a unit_first scan's "Plag" left its header
# unread and every unit in the test name, tuning seed 362).
SNAP_SIMILARITY = 0.8
SNAP_MIN_NAMED = 3
_SNAP_MIN_LETTERS = 4


def _snap_unknown(
    words: list[Word], unknown: list[int]
) -> tuple[list[tuple[str, str, float, float]], list[int]]:
    """(header cells snapped from the unknown words, the indices still unknown)."""
    snapped: list[tuple[str, str, float, float]] = []
    left: list[int] = []
    runs: list[list[int]] = []
    for i in unknown:
        if runs and runs[-1][-1] == i - 1 and not _spans_gap([words[i - 1], words[i]]):
            runs[-1].append(i)
        else:
            runs.append([i])
    for run in runs:
        start = 0
        while start < len(run):
            for k in range(len(run) - start, 0, -1):
                cell = _snap_phrase([words[j] for j in run[start : start + k]])
                if cell is not None:
                    snapped.append(cell)
                    start += k
                    break
            else:
                left.append(run[start])
                start += 1
    return snapped, left


def _snap_phrase(chunk: list[Word]) -> tuple[str, str, float, float] | None:
    """(role, label, x0, x1) of the known header phrase nearest to ``chunk``, or None when
    none reaches :data:`SNAP_SIMILARITY`."""
    phrases = _phrases()
    text = " ".join(_clean_word(w.text) for w in chunk)
    if sum(ch.isalpha() for ch in text) < _SNAP_MIN_LETTERS:
        return None
    best, score = "", 0.0
    for phrase in phrases:
        ratio = difflib.SequenceMatcher(None, text, phrase).ratio()
        if ratio > score:
            best, score = phrase, ratio
    if score < SNAP_SIMILARITY:
        near = [phrase for phrase in phrases if _one_edit(text, phrase)]
        if len(near) != 1:
            return None
        best = near[0]
    return phrases[best], " ".join(w.text for w in chunk), chunk[0].x0, chunk[-1].x1


def _one_edit(a: str, b: str) -> bool:
    """Whether ``a`` is ``b`` with one letter replaced, added or dropped."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long_ = sorted((a, b), key=len)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


def _join_snapped(
    cells: list[tuple[str, str, float, float]], snapped: list[tuple[str, str, float, float]]
) -> list[tuple[str, str, float, float]]:
    """A snapped cell and the cell of the same role beside it (``Referenoe`` + ``Range``)
    made one cell: two columns of one role (other than tests and dates) never stand side by
    side."""
    out: list[tuple[str, str, float, float]] = []
    for cell in cells:
        joined = out and out[-1][0] == cell[0] not in ("date", "name")
        if joined and (cell in snapped or out[-1] in snapped):
            prev = out[-1]
            out[-1] = (prev[0], f"{prev[1]} {cell[1]}", prev[2], cell[3])
            continue
        out.append(cell)
    return out


def _most_recent(labels: list[str]) -> int:
    """Index of the most recent date among column labels (see the module docstring)."""
    nums = [re.match(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2,4})$", lb) for lb in labels]
    day_first = any(m is not None and int(m[1]) > 12 for m in nums)
    parsed: list[datetime | None] = []
    for label, m in zip(labels, nums, strict=True):
        if m is not None and day_first:
            year = int(m[3]) + (2000 if int(m[3]) < 100 else 0)
            try:
                parsed.append(datetime(year, int(m[2]), int(m[1])))
            except ValueError:
                parsed.append(None)
        else:
            parsed.append(parse_date(label))
    month_first = any(m is not None and int(m[2]) > 12 for m in nums)
    ambiguous = any(m is not None for m in nums) and not day_first and not month_first
    if ambiguous or any(p is None for p in parsed):
        return 0
    dates = [p for p in parsed if p is not None]
    return max(range(len(dates)), key=lambda i: dates[i])


def read_table_header(line: Line, page_width: float) -> list[Table] | None:
    """The table(s) a header row defines, or None when ``line`` is not a header row.

    Args:
        line: a printed line.
        page_width: the page width (right edge of the last table).

    Returns:
        one table, or several when the header repeats side by side (two tables per page).
    """
    cells = _header_cells(line.words)
    if not cells or len(cells) < 2:
        return None
    starts = [i for i, c in enumerate(cells) if c[0] == "name"]
    if not starts or starts[0] != 0:
        return None
    tables: list[Table] = []
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(cells)
        group = cells[start:end]
        roles = [c[0] for c in group]
        if "result" not in roles and "date" not in roles:
            return None
        left = group[0][2] - 2
        right = cells[end][2] - 2 if end < len(cells) else page_width
        columns = tuple(Column(role, x0, x1, label) for role, label, x0, x1 in group)
        tables.append(Table(columns, _value_col(columns), left, right))
    return tables


def _value_col(columns: tuple[Column, ...]) -> int:
    roles = [c.role for c in columns]
    if "result" in roles:
        return roles.index("result")
    dates = [i for i, c in enumerate(columns) if c.role == "date"]
    return dates[_most_recent([columns[i].label for i in dates])]


def merge_subheader(table: Table, line: Line) -> Table | None:
    """``table`` with its range column split by a Low/High sub-header line, or None when
    ``line`` is not such a sub-header."""
    cells = _header_cells(line.words)
    if not cells or {c[0] for c in cells} - {"low", "high"}:
        return None
    ranges = [c for c in table.columns if c.role == "range"]
    if not ranges:
        return None
    sub = [Column(role, x0, x1, label) for role, label, x0, x1 in cells]
    kept = [c for c in table.columns if c.role != "range"]
    columns = tuple(sorted([*kept, *sub], key=lambda c: c.x0))
    return Table(columns, _value_col(columns), table.left, table.right)


# A run of leader dots read as dots. Tesseract may read a grainy run twice, as dots and as
# a taller word over them ("..........." and "0", "0.00 eens", "00.2 c" within its box, at
# confidence 0-29; leaders tuning seed 527): leaders are drawn between words, so no printed
# word lies within a run.
_LEADER_RUN = re.compile(r"[.·…_]{2,}")
# Leader dots, or a drawn rule read as underscores and dashes, glued to a word's end: beside
# letters a run of dashes is a rule ("_—_—Unit": a cumulative report's header, random seed 18,
# whose Unit column was not found, so none of its rows was read); beside a number only dots
# and underscores are, so that a minus sign stays with its value.
_RULE_EDGE = re.compile(
    r"^[.·…_]{3,}|^[.·…_—–-]{3,}(?=[^\W\d_])|(?<=[^\W\d_])[.·…_—–-]{3,}$|[.·…_]{3,}$"
)
# An OCR'd word flatter than LEADER_FLAT of the line's text (its median word height) holds no
# digit or capital: one with a run of dots in it, or made of the round letters dots are read
# as, is a leader read at the baseline ("wo...", "............00....", "ee.": 0.43-0.61 of the
# text's height on leaders tuning seed 487, values and units 0.9-1.3). Text layers give
# every word its font's full height (conf -1): never judged so.
LEADER_FLAT = 0.7
_DOT_LETTERS = re.compile(r"[ecow.,]*[eco][ecow.,]*")
# Leader dots merged with the scanner grain above them come back as a short word far taller
# than the line's text, read with low confidence ("2.0...", "2c", "te", "es", "002": 1.5-2.0
# of the text's height at confidence 0-45 on leaders tuning seeds 317, 427 and 487, where they
# stood between a name and its value, or a unit and its range, and the line was not read).
# Printed words of the line are at most 1.3 of it (brackets, descenders), but on a degraded
# page in small type a unit's slash or percent sign came back as tall ("/T." and "8%": 1.7
# of the digits' height, two_column tuning seed 359): grain is read as small letters, digits
# and points only, two of them at least or one glued to a run of dots ("2...").
GRAIN_TALL = 1.45
# A number read tall and unsure is a value in grain ("201" for 2.1, 1.6 of the text's height
# at confidence 33: two_column check seed 799), kept unless glued to leader dots.
_PLAIN_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")
# Grain read as letters is read as the small round ones and t; other letters ("aa": a star
# flag read tall, flag_first tuning seed 343) are kept.
_GRAIN_LETTERS = re.compile(r"[ecost.,]+")
_GRAIN_TEXT = re.compile(r"[a-z0-9.,]*[a-z0-9][a-z0-9.,]*")
GRAIN_CONF = 50.0
GRAIN_MAX_CHARS = 3
GRAIN_SURE = 60.0  # the text's height is measured on words read at this confidence or more


def _is_grain(word: Word, body: float) -> bool:
    """Whether an OCR'd word is leader dots and grain read as a tall short word (see
    :data:`GRAIN_TALL`); a text layer's words (conf -1) never are."""
    core = _LEADER_RUN.sub("", word.text)
    return (
        0 <= word.conf < GRAIN_CONF
        and _GRAIN_TEXT.fullmatch(word.text) is not None
        and (any(c.isdigit() for c in word.text) or _GRAIN_LETTERS.fullmatch(word.text) is not None)
        and (
            _LEADER_RUN.search(word.text) is not None
            or (sum(c.isalnum() for c in word.text) >= 2 and not _PLAIN_NUMBER.fullmatch(word.text))
        )
        and body > 0
        and word.bottom - word.top > GRAIN_TALL * body
        and len(core) <= GRAIN_MAX_CHARS
    )


def strip_leaders(line: Line) -> Line:
    """The line without dotted leaders (``Ferritin ........ 18 ng/mL ........ 30-400``) and
    without cell rules glued to a word (``|14.7``).

    A word whose box lies within a run of leader dots (its middle inside the run's box) is the
    run read a second time (:data:`_LEADER_RUN`) and goes with it; so does a short word read
    far taller than the line's text and unsure, the dots merged with grain (:data:`GRAIN_TALL`)."""
    runs = [(w.x0, w.x1) for w in line.words if _LEADER_RUN.fullmatch(w.text)]
    tall = sorted(w.bottom - w.top for w in line.words if sum(c.isalnum() for c in w.text) >= 2)
    body = tall[len(tall) // 2] if tall else 0.0
    # the text's height from the words Tesseract is sure of: tall grain words are read unsure
    firm = sorted(
        w.bottom - w.top
        for w in line.words
        if w.conf >= GRAIN_SURE and sum(c.isalnum() for c in w.text) >= 2
    )
    sure = firm[len(firm) // 2] if firm else body
    out: list[Word] = []
    for w in line.words:
        text = w.text
        if _LEADER_RUN.fullmatch(text) or any(a < (w.x0 + w.x1) / 2 < b for a, b in runs):
            continue
        flat = w.conf >= 0 and w.bottom - w.top < LEADER_FLAT * body
        if flat and (_LEADER_RUN.search(text) or _DOT_LETTERS.fullmatch(text)):
            continue
        if _is_grain(w, sure):
            continue
        core = _RULE_EDGE.sub("", text)
        if len(core) > 1 and text not in _PIPES:  # a cell rule drawn as a glyph: "|14.7"
            core = core.strip("|¦│")
            if "|" in core:  # "(TSH)|0.05": two cells glued by their rule
                share = (w.x1 - w.x0) / max(len(text), 1)
                pos = text.index(core)
                for piece in re.split(r"(\|)", core):
                    if piece and piece != "|":
                        x = w.x0 + share * pos
                        out.append(Word(piece, x, w.top, x + share * len(piece), w.bottom, w.conf))
                    pos += len(piece)
                continue
        if core != text and core:
            share = (w.x1 - w.x0) / max(len(text), 1)
            start = text.index(core[0]) if core[0] in text else 0
            out.append(
                Word(
                    core,
                    w.x0 + share * start,
                    w.top,
                    w.x0 + share * (start + len(core)),
                    w.bottom,
                    w.conf,
                )
            )
            continue
        out.append(w)
    return Line(out) if len(out) != len(line.words) or out != line.words else line


# A label that introduces the text after it in one cell ("M: 13.5-17.5", "Female: 12-15"),
# and the widest gap after it that still joins (in line heights; scanned sex-split ranges
# measured 1.4 ink heights from "M:" to its numbers, cells 3.5 and more apart).
_LABEL = re.compile(r"^(?:[MF]|[Mm]ale|[Ff]emale|[Mm]en|[Ww]omen|[Aa]dults?|[Cc]hildren):$")
LABEL_GAP = 2.0


def _cells(words: list[Word]) -> list[list[Word]]:
    """Words grouped into cells by white space wider than a cell gap, or split at pipes."""
    cells: list[list[Word]] = []
    height = sorted(w.bottom - w.top for w in words)[len(words) // 2] if words else 0.0
    for w in words:
        if w.text in _PIPES:
            cells.append([])
            continue
        gap = w.x0 - cells[-1][-1].x1 if cells and cells[-1] else None
        # a label ("M:", "Female:") belongs with what follows it: on a scan the ink gap after
        # a colon is wider than the text layer's (the colon's right side bearing)
        label = gap is not None and _LABEL.match(cells[-1][-1].text) is not None
        if gap is not None and gap <= (LABEL_GAP if label else CELL_GAP) * height:
            cells[-1].append(w)
        else:
            cells.append([w])
    return [c for c in cells if c]


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return min(a1, b1) - max(a0, b0)


def _nearest(x0: float, x1: float, columns: tuple[Column, ...]) -> int:
    best, best_d = 0, float("inf")
    for i, col in enumerate(columns):
        ov = _overlap(x0, x1, col.x0, col.x1)
        d = -ov if ov > 0 else min(abs(x0 - col.x1), abs(col.x0 - x1), abs(x0 - col.x0))
        if d < best_d:
            best, best_d = i, d
    return best


def _split_widest(cell: list[Word], parts: int) -> list[list[Word]]:
    """``cell`` cut into ``parts`` pieces at its widest gaps between words."""
    gaps = sorted(range(1, len(cell)), key=lambda i: cell[i].x0 - cell[i - 1].x1, reverse=True)
    cuts = sorted(gaps[: parts - 1])
    pieces: list[list[Word]] = []
    start = 0
    for cut in [*cuts, len(cell)]:
        pieces.append(cell[start:cut])
        start = cut
    return [p for p in pieces if p]


# A letter flag printed before the value that OCR glued to it ("H5.67", "L0.8", "HH12"): on a
# scan the space between a flag column and the value beside it can close up. Only H/L and
# HH/LL: a digit run after any other letters is a name or unit ("T3", "B12"). The closed-up
# space may be read as a point or comma ("L.0.00", flag-first tuning seed 525) where the value
# shows its own point: "L.5" stays unsplit (a 1 read as L: ``ocr_repair``).
_FLAG_FIRST = re.compile(
    r"^(?P<f>[HL]{1,2})(?:[.,:](?=[<>]?-?\d[\d,]*\.\d))?(?P<v>[<>]?-?\d[\d,]*(?:\.\d+)?)$"
)


def _letter_flag_first(head: str) -> re.Match[str] | None:
    """``head`` split into a letter flag and the value it was glued to, or None."""
    return _FLAG_FIRST.match(head)


def _split_flag_first(words: list[Word]) -> list[Word]:
    """Words with a letter flag glued before a value (``H5.67``, :data:`_FLAG_FIRST`) cut in
    two, each its share of the box by characters, so that the flag and the value can fall in
    their own columns (a flag column printed just before the result column)."""
    out: list[Word] = []
    for w in words:
        m = _FLAG_FIRST.match(w.text)
        if m is None:
            out.append(w)
            continue
        share = (w.x1 - w.x0) / len(w.text)
        out.append(Word(m["f"], w.x0, w.top, w.x0 + share * len(m["f"]), w.bottom))
        out.append(Word(m["v"], w.x1 - share * len(m["v"]), w.top, w.x1, w.bottom))
    return out


def assign(line: Line, table: Table) -> dict[int, list[Word]]:
    """The line's words by column index (words outside the table are left out)."""
    words = [
        w
        for w in line.words
        if table.left <= (w.x0 + w.x1) / 2 < table.right and not _STRAY.match(w.text)
    ]
    if any(c.role == "flag" for c in table.columns):
        words = _split_flag_first(words)
    out: dict[int, list[Word]] = {}
    for cell in _cells(words):
        hits = [
            i
            for i, col in enumerate(table.columns)
            if _overlap(cell[0].x0, cell[-1].x1, col.x0, col.x1) > 0
        ]
        if len(hits) > 1:  # two columns' text closer than a cell gap: split at the widest gaps
            for part in _split_widest(cell, len(hits)):
                idx = _nearest(part[0].x0, part[-1].x1, table.columns)
                if _spilled_tail(part, idx, out, table):
                    idx = next(i for i, c in enumerate(table.columns) if c.role == "name")
                out.setdefault(idx, []).extend(part)
            continue
        idx = hits[0] if hits else _nearest(cell[0].x0, cell[-1].x1, table.columns)
        if not hits and _name_tail(cell, idx, out, table, words):
            idx = next(i for i, c in enumerate(table.columns) if c.role == "name")
        out.setdefault(idx, []).extend(cell)
    return out


# The tail of a test name: an abbreviation in brackets ("(FBS)") or a capitalised word
# ("Count", "Hormone"); units ("fL", "mg/dL", "%"), flags and values are never one.
_TAIL_WORD = re.compile(r"^\([A-Za-z][\w\-/ ]*\)$|^[A-Z][a-z]{2,}$")


def _spilled_tail(part: list[Word], idx: int, out: dict[int, list[Word]], table: Table) -> bool:
    """Whether ``part``, cut from a cell that ran from the name column into column ``idx``,
    is the tail of the name (``Thyroid Stimulating Hormone (TSH)`` with ``(TSH)`` under the
    next column's header on a scan): it follows the name read so far on this line and is
    made of name words (:data:`_TAIL_WORD`), none of them a flag or a qualitative result."""
    names = [i for i, c in enumerate(table.columns) if c.role == "name"]
    if not names or names[0] not in out or idx == names[0]:
        return False
    if part[0].x0 < out[names[0]][-1].x1:
        return False
    lex = lexicon()
    return all(
        _TAIL_WORD.match(w.text) and not normalize_flag(w.text) and not lex.qual_re.match(w.text)
        for w in part
    )


def _name_tail(
    cell: list[Word], idx: int, out: dict[int, list[Word]], table: Table, words: list[Word]
) -> bool:
    """Whether ``cell``, under no column and given to column ``idx`` as the nearest, is the
    tail of a long test name (``Fasting Blood Sugar (FBS)``: OCR left a gap wider than a cell
    gap before ``(FBS)``). It is when it follows the name read so far on this line, ends before
    column ``idx`` begins, lies nearer to the name than to that column, and holds letters and
    no value, or is a lone dash that ends a name wrapped onto the next line (``LDL
    Cholesterol -`` over ``Calculated``: given to the result column, the dash would make the
    value cell ``- 62`` and the row unread) and lies nearer to the name than to the next word
    of the line (a minus sign OCR set apart from its number stays with the number)."""
    names = [i for i, c in enumerate(table.columns) if c.role == "name"]
    if not names or names[0] not in out or idx == names[0]:
        return False
    name_end = out[names[0]][-1].x1
    col = table.columns[idx]
    if not name_end <= cell[0].x0 or cell[-1].x1 >= col.x0:
        return False
    if cell[0].x0 - name_end >= col.x0 - cell[-1].x1:
        return False
    text = _text(cell)
    if _NAME_DASH.fullmatch(text):
        after = [w.x0 for w in words if w.x0 >= cell[-1].x1]
        return not after or cell[0].x0 - name_end < min(after) - cell[-1].x1
    return any(ch.isalpha() for ch in text) and not any(VALUE_RE.match(w.text) for w in cell)


# A dash alone in its cell after a name: the name goes on on the next line (a minus sign
# stands against its number, within a word space, and is read in the value's cell).
_NAME_DASH = re.compile(r"[-–—]")


def _text(words: list[Word] | None) -> str:
    return " ".join(w.text for w in words) if words else ""


def _unknown_mark(token: str) -> bool:
    """A short mark that is neither a value, a comparator, a flag nor a word: what OCR makes
    of a printed arrow or bracketed flag (``[1]``, ``(t]``, ``T``)."""
    if len(token) > 4 or VALUE_RE.match(token) or token in {"<", ">", "<=", ">=", "≤", "≥"}:
        return False
    if lexicon().qual_re.match(token) or re.fullmatch(r"[A-Za-z]{3,}", token):
        return False
    return not re.fullmatch(r"[-–—+]", token)


# A number with a decimal point: the value an arrow read as a digit stands before.
_DECIMAL = re.compile(r"^\d+\.\d+$")


def _arrow_digit(token: str) -> bool:
    """Whether ``token`` is a digit Tesseract makes of a printed arrow (``4`` or ``1`` for
    ``↓``: ``data/ocr_confusions.yaml``). One cell holds one value, so such a digit before a
    decimal number in a result cell is the arrow printed before the value (arrows before
    the value, split_range tuning seed 335: "4 4.37" for "↓ 4.37", read as the value 4)."""
    from medflow.analyzers.labs.ocr_repair import confusions

    arrows = confusions().up | confusions().down
    return len(token) == 1 and token.isdigit() and token in arrows


# A value Tesseract split at its point ("<0. 30" for "<0.30": Courier, range_first tuning seed
# 471): a number ending in its point, then digits. No cell prints a number ending in a point.
_POINT_HEAD = re.compile(r"^[<>]?\d+\.$")


def split_value(text: str) -> tuple[str, str, str, bool] | None:
    """(value, flag, unit, qualitative) from a result cell (``"12.1 H"``, ``"↑ 12.1"``,
    ``"12.1*"``, ``"5.4 mmol/L"``, ``"< 0.5"``, ``"Negative"``), or None when it holds none.
    A value split at its point (:data:`_POINT_HEAD`) is joined, not taken for a flag."""
    toks = text.split()
    if not toks:
        return None
    if len(toks) > 1 and _POINT_HEAD.match(toks[0]) and toks[1].isdigit():
        toks = [toks[0] + toks[1], *toks[2:]]
    lex = lexicon()
    flag = ""
    if len(toks) > 1 and normalize_flag(toks[0]) and not VALUE_RE.match(toks[0]):
        flag = normalize_flag(toks.pop(0))
    elif len(toks) > 1 and _unknown_mark(toks[0]) and VALUE_RE.match(toks[1]):
        flag = toks.pop(0)  # a flag OCR could not read ("[1]" for "[↓]"): kept as read
    elif len(toks) > 1 and _arrow_digit(toks[0]) and _DECIMAL.match(toks[1]):
        flag = toks.pop(0)  # an arrow read as a digit ("4 4.37" for "↓ 4.37"): kept as read
    if len(toks) > 1 and toks[0] in {"<", ">", "<=", ">=", "≤", "≥"}:
        toks = [toks[0] + toks[1], *toks[2:]]
    head = toks[0]
    m = VALUE_RE.match(head)
    qualitative = False
    if m:
        value = (m["cmp"] or "") + m["num"]
        flag = flag or normalize_flag(m["flag"] or "")
        rest = toks[1:]
    else:
        glued = re.match(
            r"^(?P<v>[<>]?-?\d[\d,.]*)(?P<f>[↑↓]{1,2}|\[[^\]]+\]|\*{1,2}|[HL]{1,2})$", head
        )
        arrow = re.match(r"^(?P<f>[↑↓]{1,2}|\[[^\]]+\])(?P<v>[<>]?-?\d[\d,.]*)$", head)
        g = glued or arrow or _letter_flag_first(head)
        unit_glued = re.match(
            r"^(?P<v>[<>]?-?\d[\d,]*(?:\.\d+)?)(?P<u>[A-Za-zµμ%/][\w/^*.%µμ]*)$", head
        )
        if g is not None and normalize_flag(g["f"]):
            value, flag, rest = g["v"], normalize_flag(g["f"]), toks[1:]
        elif unit_glued is not None:  # "5.4mmol/L"
            value, rest = unit_glued["v"], [unit_glued["u"], *toks[1:]]
        else:
            for k in (3, 2, 1):
                if lex.qual_re.match(" ".join(toks[:k])):
                    value, rest, qualitative = " ".join(toks[:k]), toks[k:], True
                    break
            else:
                for k in (2, 1):
                    word = broken_qualitative(toks[:k])
                    if word:
                        value, rest, qualitative = word, toks[k:], True
                        break
                else:
                    return None
    unit: list[str] = []
    for t in rest:
        f = normalize_flag(t)
        if f and not flag:
            flag = f
        elif not f:
            unit.append(t)
    return value, flag, " ".join(unit), qualitative


# A qualitative word as OCR may break it: a point or a gap inside ("Negat.ive", "Negat ive":
# held-out seed 100201, Courier 7.8 pt scanned, where four urine rows were neither read nor
# kept), or one letter misread in a long word ("Negst ive"). Only letters, "+" and "-" are
# kept; the result must be a lexicon word, or one letter away from exactly one lexicon word of
# at least SLIP_MIN_LETTERS letters (the closest two, Negative and Positive, are three apart).
_NOT_WORD = re.compile(r"[^A-Za-z+\-]")
SLIP_MIN_LETTERS = 7


def broken_qualitative(toks: list[str]) -> str:
    """The qualitative word (as the lexicon spells it) that ``toks`` spell once joined and
    rid of every character but letters, "+" and "-" ("Negat.ive", ["Negat", "ive"],
    ["Negst", "ive"]); ``""`` when they spell none or hold a digit (a number is never taken
    for a word)."""
    joined = "".join(toks)
    if not toks or any(c.isdigit() for c in joined):
        return ""
    letters = _NOT_WORD.sub("", joined).casefold()
    words = _qualitative_spellings()
    if letters in words:
        return words[letters]
    near = [w for k, w in words.items() if len(k) >= SLIP_MIN_LETTERS and _one_apart(k, letters)]
    return near[0] if len(near) == 1 else ""


@cache
def _qualitative_spellings() -> dict[str, str]:
    """Each qualitative word, without spaces and case-folded -> its first lexicon spelling
    ("nonreactive" -> "Non reactive" or "Non-reactive", whichever the lexicon lists first)."""
    words: dict[str, str] = {}
    for w in lexicon().qualitative:
        words.setdefault(w.replace(" ", "").casefold(), w)
    return words


def _one_apart(a: str, b: str) -> bool:
    """Whether ``b`` is ``a`` with one letter changed, added or lost."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def _range_text(low: str, high: str) -> str:
    if low and high:
        return f"{low} - {high}"
    if high:
        return f"<{high}"
    if low:
        return f">{low}"
    return ""


_LIMIT_WORD = re.compile(r"^(?:[<>]=?)?-?\d[\d.,]*$|^(?:-|–|to)$")


def _unspill(by_col: dict[int, list[Word]], table: Table) -> dict[int, list[Word]]:
    """Range numbers that ran into the unit cell given back to empty range columns.

    On a scan turned a little askew, or with the unit and the low limit printed close, the
    numbers of the range are grouped with the unit (``mmol/L 3.5 5.1``) while the Low/High or
    range columns stay empty. Trailing numbers of the unit cell then go to the nearest empty
    Low/High column, or to an empty range column; a unit never ends in a bare number.
    """
    roles = [c.role for c in table.columns]
    if "unit" not in roles:
        return by_col
    u = roles.index("unit")
    words = by_col.get(u, [])
    targets = [
        i
        for i, c in enumerate(table.columns)
        if c.role in ("low", "high", "range") and i not in by_col
    ]
    if len(words) < 2 or not targets:
        return by_col
    cut = len(words)
    while cut > 1 and _LIMIT_WORD.match(words[cut - 1].text):
        cut -= 1
    moved = words[cut:]
    if not moved or not any(ch.isdigit() for w in moved for ch in w.text):
        return by_col
    if any(ch.isdigit() for ch in words[0].text) and not words[0].text[:1].isalpha():
        return by_col  # "10^3/uL" style units start with digits: leave them whole
    out = dict(by_col)
    out[u] = words[:cut]
    ranges = [i for i in targets if table.columns[i].role == "range"]
    numbers = [w for w in moved if any(ch.isdigit() for ch in w.text)]
    limits = sorted((i for i in targets if i not in ranges), key=lambda i: table.columns[i].x0)
    if not ranges and len(numbers) == len(limits):  # one number per empty Low/High column
        for w, idx in zip(numbers, limits, strict=True):
            out.setdefault(idx, []).append(w)
        return out
    for w in moved:
        if ranges:
            idx = ranges[0]
        else:
            mid = (w.x0 + w.x1) / 2
            idx = min(
                targets, key=lambda i: abs((table.columns[i].x0 + table.columns[i].x1) / 2 - mid)
            )
        out.setdefault(idx, []).append(w)
    return out


def _share_limits(by_col: dict[int, list[Word]], table: Table) -> dict[int, list[Word]]:
    """Two numbers in one of a Low/High pair of columns while the other is empty: one each."""
    limits = [i for i, c in enumerate(table.columns) if c.role in ("low", "high")]
    if len(limits) != 2:
        return by_col
    full = [i for i in limits if i in by_col]
    if len(full) != 1:
        return by_col
    words = by_col[full[0]]
    if len(words) != 2 or not all(_LIMIT_WORD.match(w.text) for w in words):
        return by_col
    out = dict(by_col)
    left, right = sorted(limits, key=lambda i: table.columns[i].x0)
    out[left], out[right] = [words[0]], [words[1]]
    return out


def _drop_speck_dash(words: list[Word]) -> list[Word]:
    """A value cell without a dash that stands apart before its number.

    A minus sign is printed against its number (OCR may set it a word space apart); a dash
    more than the number's height before it is scanner grain or a cell rule's stub read as a
    dash (``- 12.0`` for 12.0 under a range-first layout: range_first tuning seed 381), and
    with it the cell read as no value and the row was lost."""
    if len(words) < 2 or not _NAME_DASH.fullmatch(words[0].text):
        return words
    number = words[1]
    if not VALUE_RE.match(number.text):
        return words
    if number.x0 - words[0].x1 <= number.bottom - number.top:
        return words
    return words[1:]


def read_cells(line: Line, table: Table) -> CellRow:
    """The row a line holds under ``table`` (``parts`` None when no value is in its column)."""
    by_col = _share_limits(_unspill(assign(line, table), table), table)
    if table.value_col in by_col:
        by_col = {**by_col, table.value_col: _drop_speck_dash(by_col[table.value_col])}
    cols = table.columns
    roles = frozenset(cols[i].role for i in by_col)
    text = dict.fromkeys(ROLES, "")
    for i, words in sorted(by_col.items()):
        role = cols[i].role
        if role == "date":
            continue
        text[role] = f"{text[role]} {_text(words)}".strip()
    earlier = tuple(
        EarlierValue(cols[i].label, _text(words))
        for i, words in sorted(by_col.items())
        if cols[i].role == "date" and i != table.value_col
    )
    name = " ".join(text["name"].split()).strip(" :")
    value_cell = _text(by_col.get(table.value_col))
    found = split_value(value_cell) if name else None
    if found is None or not any(ch.isalpha() for ch in name) or len(name) > 80:
        return CellRow(None, earlier, roles)
    if is_boilerplate(Line([Word(name, 0, 0, 1, 1)])):
        return CellRow(None, earlier, roles)
    value, glued_flag, cell_unit, qualitative = found
    flag = normalize_flag(text["flag"]) or (text["flag"] if text["flag"] else "") or glued_flag
    unit = text["unit"] or cell_unit
    rng = text["range"] or _range_text(text["low"], text["high"])
    if rng and not lexicon().qual_re.match(rng):
        rng = broken_qualitative(rng.split()) or rng
    return CellRow(Parts(name, value, flag, unit, rng, qualitative), earlier, roles)
