"""One printed line -> the parts of a test row: name, value, flag, unit, reference range.

The grammar, in reading order: a name (at least one word), a value (a number with an optional
comparator, thousands separators and a glued flag — ``<0.5``, ``1,234``, ``12.1L``, ``12.1*``;
or a titre, ``1:80``; or a flag then a number, ``H 240``; or a qualitative word,
``Non-reactive``), then in any order
an optional flag, a unit and a reference range (``a-b``, ``a – b``, ``a to b``, ``(a - b)``,
``< b``, ``> a``, ``up to b``, ``Desirable: <200``, ``M: 13-17 F: 12-15``, ``Negative``), and an
optional flag column at the end. When the words fall into cells separated by wide gaps, the
value is looked for first outside the name's cell, so a number inside a name ("Vitamin B12",
"HIV 1/2") is never taken for the value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from medflow.analyzers.labs.ocr_repair import unit_forms
from medflow.analyzers.labs.values import normalize_flag
from medflow.analyzers.labs.words import Line, Word

NUM = r"(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
VALUE_RE = re.compile(
    rf"^(?P<cmp>[<>≤≥]=?)?\s?(?P<num>1:\d+|-?{NUM})"
    rf"(?P<flag>\*{{1,2}}|[HL]{{1,2}}\*?|\([HL]\)|[↑↓]{{1,2}}|\[(?:[HL]{{1,2}}|[↑↓*])\])?$"
)
COMPARATORS = frozenset({"<", ">", "<=", ">=", "≤", "≥"})
PREFIX_FLAGS = frozenset(
    {"H", "L", "HH", "LL", "H*", "L*", "↑", "↓", "↑↑", "↓↓", "[H]", "[L]", "[↑]", "[↓]", "[*]"}
    | {"HIGH", "LOW", "[HH]", "[LL]"}
)
_RANGE_JOINERS = frozenset({"-", "–", "—", "to", "TO"})
NUMBER_RE = re.compile(rf"^-?{NUM}$")
# OCR smudges and cell rules read as marks ("_", ".", "{", "="); never a flag, a comparator or a
# range dash.
STRAY_MARK = re.compile(r"^[.,:;_{}()\[\]'\"~=`]{1,2}$")
_CORE = (
    rf"\(?\s*(?:-?{NUM}\s*(?:-{{1,2}}|–|—|to)\s*-?{NUM}"
    rf"|(?:<=|>=|<|>|≤|≥)\s*(?:1:\d+|{NUM})|up\s*to\s*{NUM})\s*\)?"
)
_LABEL = r"(?:desirable|optimal|normal|borderline|adults?|fasting|target)\s*:?\s*"
_SEX = r"(?:males?|females?|men|women|m|f)\s*[:\-]?\s*"
# A unit starts with a letter, %, / or a power of ten, never with a dash or a bare number.
_UNIT_LIKE = re.compile(r"^(?:[A-Za-zµμ%/\[{]|10\^|10\*|x10|×10)")
_HYPHEN_SPLIT = re.compile(r"(\w)- (\w)")
# A value with its unit glued to it ("3%", "12.2fL"): Tesseract reads the single space a
# leaders row leaves between them as none (leaders tuning seeds 300-699: 10 rows without a
# header, "Monocytes 3% 2-10", were not read). Split only after the first word (a name may
# start with a number), only before a printed unit spelling, and only on lines under no
# table header (the column model splits its value cell itself; splitting for the row grammar
# there made it outread the columns on value_unit scans and read garbled rows).
_GLUED_UNIT = re.compile(rf"^(?P<v>{NUM})(?P<u>[A-Za-zµμ%/][\w/^*.%µμ]*)$")
# Relative gap (in line heights) that separates table cells.
CELL_GAP = 0.9


@dataclass(frozen=True)
class Lexicon:
    """Words from ``data/parser_lexicon.yaml`` (upper-cased for matching)."""

    flags: frozenset[str]
    qualitative: tuple[str, ...]
    header_words: frozenset[str]
    boilerplate: re.Pattern[str]
    section_words: frozenset[str]
    range_re: re.Pattern[str]
    qual_re: re.Pattern[str]


@cache
def lexicon() -> Lexicon:
    """Load the parser lexicon once."""
    text = resources.files("medflow.analyzers.labs").joinpath("data/parser_lexicon.yaml")
    data: dict[str, Any] = yaml.safe_load(text.read_text(encoding="utf-8"))
    qual = sorted((str(q) for q in data["qualitative"]), key=len, reverse=True)
    qual_alt = "|".join(re.escape(q) for q in qual)
    range_re = re.compile(
        rf"(?<![\w/^*.])(?:{_SEX}{_CORE}|{_LABEL}{_CORE}|{_CORE}|(?:{qual_alt})(?![\w-]))",
        re.IGNORECASE,
    )
    return Lexicon(
        flags=frozenset(str(f).upper() for f in data["flags"]),
        qualitative=tuple(qual),
        header_words=frozenset(str(h).lower() for h in data["header_words"]),
        boilerplate=re.compile(
            "^(?:"
            + "|".join(
                re.escape(str(b).lower())
                for b in sorted(data["boilerplate_labels"], key=len, reverse=True)
            )
            + r")(?![a-z0-9])"
        ),
        section_words=frozenset(str(s).lower() for s in data["section_words"]),
        range_re=range_re,
        qual_re=re.compile(rf"^(?:{qual_alt})$", re.IGNORECASE),
    )


@dataclass(frozen=True)
class Parts:
    """The parts of a test row found on one line."""

    name: str
    value_text: str
    flag_text: str
    unit_text: str
    range_text: str
    qualitative: bool


@dataclass(frozen=True)
class Tok:
    """A token with the index of the cell it sits in."""

    text: str
    cell: int


def split_glued_units(line: Line) -> Line:
    """``line`` with each value OCR glued to its unit (``3%``, :data:`_GLUED_UNIT`) cut into
    the two words, each its share of the box; the first word (a name) is left whole."""
    out: list[Word] = []
    for i, w in enumerate(line.words):
        glued = _GLUED_UNIT.match(w.text) if i else None
        if glued is None or glued["u"] not in unit_forms():
            out.append(w)
            continue
        cut = w.x0 + (w.x1 - w.x0) * len(glued["v"]) / len(w.text)
        out += [
            Word(glued["v"], w.x0, w.top, cut, w.bottom, w.conf),
            Word(glued["u"], cut, w.top, w.x1, w.bottom, w.conf),
        ]
    return Line(out) if len(out) != len(line.words) else line


# A range's lower limit with its dash glued after it and the upper limit a word apart
# ("RDW | 11.5- 14.5 | 10.9 | %": the space before the dash lost on a range_first scan,
# tuning seed 1:541; the upper limit was taken for the value and the line left unread).
_LIMIT_DASH = re.compile(rf"^-?{NUM}[-–—]$")


def tokens(line: Line) -> list[Tok]:
    """The line's words as tokens with cell indices; comparators and two-word answers merged."""
    words: list[Word] = [
        w for w in line.words if w.text not in {"|", "||", ":"} and not STRAY_MARK.match(w.text)
    ]
    if not words:
        return []
    gap = CELL_GAP * line.height
    cell = 0
    raw: list[Tok] = []
    for i, w in enumerate(words):
        if i and w.x0 - words[i - 1].x1 > gap:
            cell += 1
        raw.append(Tok(w.text, cell))
    lex = lexicon()
    out: list[Tok] = []
    i = 0
    while i < len(raw):
        t = raw[i]
        nxt = raw[i + 1] if i + 1 < len(raw) else None
        if nxt is not None and t.text in COMPARATORS and VALUE_RE.match(nxt.text):
            out.append(Tok(f"{t.text} {nxt.text}", t.cell))
            i += 2
            continue
        if nxt is not None and _LIMIT_DASH.match(t.text) and NUMBER_RE.match(nxt.text):
            # "11.5- 14.5": a range's dash read glued to its lower limit
            out += [Tok(t.text[:-1], t.cell), Tok("-", t.cell), nxt]
            i += 2
            continue
        if nxt is not None and i and lex.qual_re.match(f"{t.text} {nxt.text}"):
            out.append(Tok(f"{t.text} {nxt.text}", t.cell))
            i += 2
            continue
        out.append(t)
        i += 1
    return out


def _value_at(toks: list[Tok], i: int) -> tuple[str, str, int, bool] | None:
    """(value, glued flag, tokens used, qualitative) when a value starts at token ``i``."""
    text = toks[i].text
    if text.endswith(")") and "(" not in text:  # OCR reads a trailing smudge as ")"
        text = text[:-1]
    m = VALUE_RE.match(text)
    if m:
        value = (m.group("cmp") or "") + m.group("num")
        if _in_range(toks, i):
            return None  # "70 - 110": a number of a range, not the value
        return value, normalize_flag(m.group("flag") or ""), 1, False
    nxt = toks[i + 1].text if i + 1 < len(toks) else ""
    m2 = VALUE_RE.match(nxt)
    if text.upper() in PREFIX_FLAGS and m2 and not m2.group("flag"):
        flag = normalize_flag(text) or text.rstrip("*")
        return (m2.group("cmp") or "") + m2.group("num"), flag, 2, False
    if lexicon().qual_re.match(text):
        return text, "", 1, True
    return None


def _in_range(toks: list[Tok], i: int) -> bool:
    """Whether token ``i`` is an end of a spaced range (``70 - 110``, ``3.5 to 5.1``)."""

    def num(k: int) -> bool:
        return 0 <= k < len(toks) and NUMBER_RE.match(toks[k].text) is not None

    def joiner(k: int) -> bool:
        return 0 <= k < len(toks) and toks[k].text in _RANGE_JOINERS

    return (joiner(i + 1) and num(i + 2)) or (joiner(i - 1) and num(i - 2))


def find_value(toks: list[Tok]) -> tuple[int, tuple[str, str, int, bool]] | None:
    """The first value after the name, preferring one outside the name's cell."""
    multi_cell = toks[-1].cell > 0
    for respect_cells in (True, False) if multi_cell else (False,):
        for i in range(1, len(toks)):
            if respect_cells and toks[i].cell == toks[0].cell:
                continue
            found = _value_at(toks, i)
            if found:
                return i, found
    return None


def _split_rest(rest: str) -> tuple[str, str, str]:
    """(unit, range, trailing flag) from the text after the value and its flag."""
    lex = lexicon()
    m = lex.range_re.search(rest)
    if not m:
        unit, flag = rest, ""
        rng = ""
    else:
        start, end = m.start(), m.end()
        while True:  # "Desirable: <200 Borderline: 200-239", "M: 13-17 F: 12-15"
            nxt = lex.range_re.match(rest, end + len(rest[end:]) - len(rest[end:].lstrip(" ,;/-")))
            if not nxt or nxt.end() == nxt.start():
                break
            end = nxt.end()
        rng = rest[start:end].strip(" ,;")
        unit = (rest[:start] + " " + rest[end:]).strip()
        flag = ""
    parts = unit.split()
    if parts and parts[-1].upper() in lex.flags:
        flag = parts.pop()
    if parts and parts[0].upper() in lex.flags and parts[0] not in {"C"}:
        flag = flag or parts.pop(0)
    return " ".join(parts), rng, flag


def _starts_with_value(toks: list[Tok]) -> bool:
    """A line of values without a name ("33.2 g/dL 32-36"), not a name with a number in it
    ("24 Hour Urine Protein")."""
    first, second = toks[0].text, toks[1]
    if not VALUE_RE.match(first):
        return False
    return (
        any(ch in first for ch in ".,<>")
        or second.cell != toks[0].cell
        or not second.text[:1].isalpha()
        or "/" in second.text
    )


# A label's colon ("Patient ID: 4471 mg", "Sample:12"): any colon not between two letters. A
# colon between letters is part of a test's name: the NHS prints "Albumin:creatinine ratio"
# (ACR, mg/mmol), and "Na:K ratio" is printed so too.
_LABEL_COLON = re.compile(r"(?<![A-Za-z]):|:(?![A-Za-z])")


def parse_line(line: Line) -> Parts | None:
    """The test-row parts of one line, or None when the line is not a test row.

    Args:
        line: one printed line (or one column's half of it).

    Returns:
        the parts, or None (no value after a name; a numeric value with neither unit nor range;
        a name holding a label colon).
    """
    toks = tokens(line)
    if len(toks) < 2 or _starts_with_value(toks):
        return None
    if lexicon().range_re.fullmatch(line.text.strip()):  # "Female: 12.0 - 15.5" alone
        return None
    found = find_value(toks)
    if found is None:
        return None
    i, (value, flag, used, qualitative) = found
    # "Anti- HCV": OCR splits a hyphenated name at the hyphen.
    head = [t.text for t in toks[:i]]
    before = ""  # a range printed between the name and the value ("Glucose 70 - 110 95 mg/dL")
    for j in range(1, len(head)):
        if lexicon().range_re.fullmatch(" ".join(head[j:])):
            before, head = " ".join(head[j:]), head[:j]
            break
    name = _HYPHEN_SPLIT.sub(r"\1-\2", " ".join(head)).strip(" .:")
    name = name.strip("-") if len(name) > 3 else name  # "Cl-" is chloride
    letters = sum(ch.isalpha() for ch in name)
    # one-letter names ("K", "K+") only as a short upper-case symbol
    if (
        _LABEL_COLON.search(name)
        or len(name) > 80
        or letters < 1
        or (letters < 2 and not name[0].isupper())
    ):
        return None
    rest_toks = [t.text for t in toks[i + used :]]
    if rest_toks and not flag and rest_toks[0].upper() in lexicon().flags:
        flag = rest_toks.pop(0)
    unit, rng, tail_flag = _split_rest(" ".join(rest_toks))
    rng = rng or before
    flag = normalize_flag(flag or tail_flag) or flag or tail_flag
    if not qualitative and not unit and not rng:
        return None
    if len(unit) > 24 or len(unit.split()) > 3 or (unit and not _UNIT_LIKE.match(unit)):
        return None
    return Parts(name, value, flag, unit, rng, qualitative)


def is_header(line: Line) -> bool:
    """Whether the line is a results table's column header (two or more header words)."""
    lex = lexicon()
    text = line.text.lower()
    hits = sum(1 for w in re.findall(r"[a-z.]+", text) if w in lex.header_words)
    return hits >= 2 and not any(VALUE_RE.match(w.text) for w in line.words)


def is_boilerplate(line: Line) -> bool:
    """Whether the line is patient/lab/report metadata ("Patient Name:", "Page 1 of 2")."""
    text = line.text.lower().lstrip("*#-=_ ")
    # OCR reads a 1 as "l" or "I" ("Page l of 1": all-normal tuning seeds 609 and 618 kept
    # the footer as a row, its "l" screened as a printed Low flag)
    if re.search(r"\bpage\s*[\dli]+\s*(?:of|/)\s*[\dli]+\b", text):
        return True
    return lexicon().boilerplate.match(text) is not None


# What is not a measured number on a line: dates, clock times, "page 1 of 2", and everything
# after a phone/fax label.
_NOT_NUMBERS = [
    re.compile(r"\b\d{1,4}[/.\-]\d{1,2}[/.\-]\d{2,4}\b"),
    re.compile(
        r"\b\d{1,2}[\s\-](?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*[\s\-,]+\d{4}\b",
        re.I,
    ),
    re.compile(r"\b\d{2}:[0-5]\d(?::[0-5]\d)?\s*(?:[ap]\.?m\.?)?", re.I),
    re.compile(r"\bpage\s*\d+\s*(?:of|/)\s*\d+", re.I),
    # "Ph" is a phone label, "pH" the test (tuning seed 242: "pH 7.1 5.0 - 8.0" held no number)
    re.compile(r"\b(?!(?-i:pH)\b)(?:tel|phone|ph|fax|mobile|mob)\b\.?\s*:?.*$", re.I),
]
_STANDALONE_NUMBER = re.compile(r"(?<![A-Za-z0-9])[<>]?-?\d+(?:[.,:]\d+)?(?![A-Za-z])")


def holds_number(line: Line) -> bool:
    """Whether the line holds a number that could be a result: a standalone number once dates,
    times, "page i of n" and phone numbers are taken out (``B12`` or ``T4`` inside a word is no
    number)."""
    return _STANDALONE_NUMBER.search(_numbers_only(line.text)) is not None


def _numbers_only(text: str) -> str:
    """``text`` with dates, times, "page i of n" and phone numbers blanked (:data:`_NOT_NUMBERS`
    lists them)."""
    for pattern in _NOT_NUMBERS:
        text = pattern.sub(" ", text)
    return text


@cache
def _unit_tokens() -> frozenset[str]:
    """Printed unit spellings that are no English word (``mg/dL``, ``/HPF``, ``%``, ``fL``),
    lower-cased: ``s``, ``sec``, ``pg`` and ``seconds`` are left out."""
    return frozenset(
        f.lower() for f in unit_forms() if " " not in f and (not f.isalpha() or f == "fL")
    )


def holds_garbled_number(line: Line) -> bool:
    """Whether an OCR'd line is a result row whose numbers Tesseract glued to letters: it
    prints a unit spelling (:func:`_unit_tokens`, ``/HPF``) and a digit that is no date, time
    or page number (``RBC T3 /HPF Oto2``, ``Red cells | Oto2 | e2 | /HPF``: held-out seeds
    90109 and 90191 lost these rows, as no number stood alone). Only for scanned pages: a text
    layer does not glue ``0 to 2`` into ``Oto2``."""
    units = _unit_tokens()
    if not any(w.text.strip("|").lower() in units for w in line.words):
        return False
    return any(c.isdigit() for c in _numbers_only(line.text))
