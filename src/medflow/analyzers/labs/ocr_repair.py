"""A second reading of OCR'd rows with what the report and the knowledge base already tell.

Tesseract garbles units (``mmo] /T.`` for ``mmol/L``, ``K/ul.`` for ``K/uL``) and reads printed
arrows as letters (``[Tt]`` for ``[↑]``, ``J`` for ``↓``). Three checks undo what can be undone
without guessing, on rows read by OCR only:

* **units**: a unit that is not a known spelling, or differs from one only in case, spaces or
  stray marks, is compared with the spellings (``knowledge/unit_forms.yaml``) of the units the
  knowledge base accepts for the row's test, and with the units read cleanly on the report's
  other rows. The distance is an edit distance in which the confusions Tesseract makes
  (``data/ocr_confusions.yaml``: ``l``/``1``/``I``, ``u``/``µ``, stray marks) cost less. The
  unit is taken only when one spelling is clearly closest; otherwise the text stays as read.
  A name OCR garbled ("Sadinm") still names its test for this check when it lies clearly
  nearest one test's names (:func:`garbled_test`). Where no test is known, a unit read as no
  known spelling is compared with every spelling, the report's other units first
  (``cellsicumm`` -> ``cells/cumm``, ``Kiul.`` -> ``K/uL``), with the same margin. The units the
  knowledge base lists for the test are tried before those it only converts to (``nmol.`` is
  nmol/L for Total T4 beside rows printing mmol/L). ``10*3/uL`` is read as ``10^3/uL`` where
  another row of the report reads ``10^3/uL`` (Tesseract reads a caret as a star, not the
  reverse), the test known or not. A flag printed between the value and the unit and read
  into the unit cell (``[L] g/dL``) leaves the unit when it is taken for the flag.
  The litre is written as the report's other units clearly write it
  (``mmol/l`` -> ``mmol/L`` beside ``g/L`` and ``fL``): a report prints one convention, and
  Tesseract reads a capital L at the end of a unit as a small one on some rows only.
* **arrows**: a word beside the value or in the flag cell that is what Tesseract makes of an
  arrow is read as ``H`` or ``L`` only when the value and the printed range agree on that
  direction; otherwise it stays as read (and is shown as an unknown flag). One upright stroke
  read as the flag (``I``, ``|``, ``l``) beside a value inside its printed range is a cell
  border and is dropped. A doubled flag read with a lower-case letter (``[lL]`` for ``[↓]``)
  is one flag, not a critical one (:func:`_single_flag`). A lower-case ``l`` against the
  value taken for a low flag is the digit 1 when the value is not low with it
  (:func:`lower_l_read_as_flag`).
  A star set against the value and read as another mark (``32%`` for ``32*``) is the flag
  when the unit was read apart, the value lies beyond its range and no other flag of the
  report reads as a direction. A range printed per sex is read for each sex when the value
  lies within the span of both.
* **values**: a value read with a colon for its point (``1:5``) beside a printed range of plain
  numbers (no titre) is read as the decimal; an arrow printed after the value and read as its
  last digit (``11.04`` for "11.0 ↓") is the flag when the range's decimals and the value's
  side of it agree (:func:`arrow_glued_after`).
* **ranges**: a printed range far from the knowledge base's range for the test (``05-25`` for
  0.5-2.5: decimal points lost; ``0.1 - 4.0`` for 0.1 - 1.0; a border read as a leading minus
  or 1) is restored when exactly one reading with the fewest slips undone lies near the KB's
  range (:func:`restore_range`, thresholds in ``data/ocr_confusions.yaml``; ``112 - 132`` for
  1.12 - 1.32, ``1.72.2`` for 1.7 - 2.2: the dash lost); limits out of order that no slip
  explains are not used. A limit read as two digit groups beside a limit printing a point with
  as many decimals has its point back (``1.12 - 1 32``).

Each correction is kept on the row (``RawLabRow.corrections``) with the text as read, and the
row stays marked as OCR-read; the whole line as read is kept in ``RawLabRow.line``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

import yaml

from medflow.analyzers.labs.kb import KnowledgeBase, normalize_name
from medflow.analyzers.labs.kb_models import TestDef
from medflow.analyzers.labs.units import normalize_spelling
from medflow.analyzers.labs.values import normalize_flag, parse_range, parse_value
from medflow.domain.labs import RawLabRow
from medflow.domain.patient import Sex

# A unit is taken when its distance is at most this share of its length (and at least 1.0
# allowed), and the next spelling (of another text) is at least MARGIN farther.
MAX_SHARE = 0.35
MARGIN = 1.0
CHEAP_SUB = 0.4  # a substitution inside one confusion group
CASE_SUB = 0.1  # the same letter in the other case
MARK_COST = 0.3  # a stray mark dropped or added


@dataclass(frozen=True)
class Confusions:
    """Character groups Tesseract confuses, stray marks, and its readings of arrows."""

    groups: tuple[frozenset[str], ...]
    marks: frozenset[str]
    up: frozenset[str]
    down: frozenset[str]
    bracket: frozenset[str]
    up_in_flag_cell: frozenset[str]
    star: frozenset[str] = frozenset()
    range_near: float = 0.35
    range_far: float = 1.0
    digit_slips: tuple[tuple[str, str], ...] = ()
    max_range_slips: int = 2
    border_one_cost: int = 2
    splits: frozenset[tuple[str, str]] = frozenset()  # (read as two characters, printed)
    digit_lookalikes: tuple[tuple[str, str], ...] = ()
    star_glued: frozenset[str] = frozenset()
    joins: frozenset[tuple[str, str]] = frozenset()  # (read as one character, printed)


@cache
def confusions() -> Confusions:
    """``data/ocr_confusions.yaml``, loaded once."""
    text = resources.files("medflow.analyzers.labs").joinpath("data/ocr_confusions.yaml")
    data = yaml.safe_load(text.read_text(encoding="utf-8"))
    return Confusions(
        groups=tuple(frozenset(str(g)) for g in data["groups"]),
        marks=frozenset(str(data["marks"])),
        up=frozenset(str(a) for a in data["arrows"]["up"]),
        down=frozenset(str(a) for a in data["arrows"]["down"]),
        bracket=frozenset(str(data["arrows"]["bracket"])),
        up_in_flag_cell=frozenset(str(a) for a in data["arrows"]["up_in_flag_cell"]),
        star=frozenset(str(a) for a in data["star"]),
        range_near=float(data["ranges"]["near"]),
        range_far=float(data["ranges"]["far"]),
        digit_slips=tuple((str(k), str(v)) for k, v in data["ranges"]["digit_slips"].items()),
        max_range_slips=int(data["ranges"]["max_slips"]),
        border_one_cost=int(data["ranges"]["border_one_cost"]),
        splits=frozenset(
            (str(read), str(printed))
            for printed, reads in data.get("splits", {}).items()
            for read in reads
        ),
        digit_lookalikes=tuple(
            (str(ch), str(digit))
            for digit, chars in data["digit_lookalikes"].items()
            for ch in str(chars)
        ),
        star_glued=frozenset(str(m) for m in data.get("star_glued", [])),
        joins=frozenset(
            (str(read), str(printed))
            for printed, reads in data.get("joins", {}).items()
            for read in reads
        ),
    )


@cache
def unit_forms() -> tuple[str, ...]:
    """Printed unit spellings (``knowledge/unit_forms.yaml``), loaded once."""
    pkg = "medflow.analyzers.labs.knowledge"
    text = resources.files(pkg).joinpath("unit_forms.yaml").read_text(encoding="utf-8")
    return tuple(str(f) for f in yaml.safe_load(text)["forms"])


def _sub_cost(a: str, b: str, conf: Confusions) -> float:
    if a == b:
        return 0.0
    if a.lower() == b.lower():
        return CASE_SUB
    if any(a in g and b in g for g in conf.groups):
        return CHEAP_SUB
    return 1.0


def _indel(ch: str, conf: Confusions) -> float:
    return MARK_COST if ch in conf.marks else 1.0


def ocr_distance(read: str, printed: str, limit: float = float("inf")) -> float:
    """Edit distance from ``printed`` to what OCR ``read``, with OCR confusions made cheap: a
    substitution inside a confusion group, a stray mark, one printed character read as
    two (``data/ocr_confusions.yaml``: ``splits``, ``T.`` for a small ``L``) and two read as
    one (``joins``: ``U`` for ``L/``); infinity as soon as it must exceed ``limit`` (a name
    compared with every test name)."""
    conf = confusions()
    first = [0.0]
    for ch in printed:
        first.append(first[-1] + _indel(ch, conf))
    rows = [first]
    for i, a in enumerate(read, start=1):
        prev = rows[-1]
        row = [prev[0] + _indel(a, conf)]
        pair = read[i - 2 : i] if i >= 2 else ""
        for j, b in enumerate(printed, start=1):
            best = min(
                prev[j] + _indel(a, conf),
                row[j - 1] + _indel(b, conf),
                prev[j - 1] + _sub_cost(a, b, conf),
            )
            if pair and (pair, b) in conf.splits:
                best = min(best, rows[-2][j - 1] + CHEAP_SUB)
            if j >= 2 and (a, printed[j - 2 : j]) in conf.joins:
                best = min(best, prev[j - 2] + CHEAP_SUB)
            row.append(best)
        rows.append(row)
        # a split reaches back two rows: only when both are past the limit is every path
        if min(row) > limit and min(prev) > limit:
            return float("inf")
    return rows[-1][-1]


def _accepted(
    kb: KnowledgeBase, row: RawLabRow, pool: Sequence[str]
) -> tuple[set[str], set[str]] | None:
    """(units the knowledge base lists for the row's test and its alternates, the UCUM codes
    among ``pool``'s units that the test converts to its own unit), or None when the test is
    not known, neither by its name nor, for a unit read as no known spelling, by a name OCR
    clearly garbled (:func:`garbled_test`)."""
    test = kb.match(row.name, row.section)
    if test is None and kb.to_ucum(row.unit_text.strip()) is None:
        # a unit read as no known spelling: the test may still be known from a garbled name
        test = garbled_test(kb, row.name)
    if test is None:
        return None
    ids = (test.id, *test.alternates)
    listed: set[str] = set()
    for test_id in ids:
        t = kb.get(test_id)
        listed |= {t.unit, *(u.unit for u in t.units), *t.loinc_units}
    codes = {kb.to_ucum(p) for p in pool} - {None, ""}
    convertible = {c for c in codes if c is not None and any(kb.accepts(t, c) for t in ids)}
    return listed & convertible, convertible


# A name OCR garbled ("Sadinm", "Magnesiim", "Toral T4") is taken for a test when its
# distance to one of the test's names is at most NAME_SHARE of that name's length and every
# other test's names are at least MARGIN farther; names shorter than NAME_MIN_CHARS (CK, K+)
# are too short to tell apart.
NAME_SHARE = 0.25
NAME_MIN_CHARS = 5


# bounded: a long-running worker meets endless garbled names
@lru_cache(maxsize=4096)
def garbled_test(kb: KnowledgeBase, name: str) -> TestDef | None:
    """The test whose name OCR clearly garbled into ``name`` (see :data:`NAME_SHARE`), or None.

    Only the unit check uses it: on a degraded two_column scan (tuning seed 359) Tesseract read
    both the names and the units of most rows garbled ("Sadinm 142 mma /T."), so no test was
    known and the unit, near several spellings at once (mmol/L, nmol/L), stayed as read; the
    test's own units (Sodium: mmol/L, mEq/L) tell them apart. The row keeps its name as read.
    """
    read = normalize_name(clean_name(name))
    if len(read) < NAME_MIN_CHARS:
        return None
    nearest: dict[str, float] = {}  # each test's nearest name
    taken: dict[str, float] = {}  # the tests with a name near enough to take
    # a name farther than this is neither taken nor near enough to make the choice unclear
    limit = NAME_SHARE * 1.5 * len(read) + MARGIN
    for key, test_id in kb.aliases().items():
        if abs(len(key) - len(read)) > 2 * NAME_SHARE * max(len(key), len(read)):
            continue
        d = ocr_distance(read, key, limit)
        nearest[test_id] = min(d, nearest.get(test_id, d))
        if len(key) >= NAME_MIN_CHARS and d <= NAME_SHARE * len(key) + 1e-9:
            taken[test_id] = min(d, taken.get(test_id, d))
    if not taken:
        return None
    d, test_id = min((d, t) for t, d in taken.items())
    if any(t != test_id and other - d < MARGIN - 1e-9 for t, other in nearest.items()):
        return None
    return kb.get(test_id)


def snap_unit(
    read: str,
    candidates: Sequence[str],
    preferred: Sequence[str] = (),
    listed: Sequence[str] = (),
) -> str | None:
    """The printed spelling among ``candidates`` that OCR clearly read as ``read``, or None.

    Args:
        read: the unit text as OCR read it.
        candidates: printed spellings of every unit the row's test converts to.
        preferred: those of the units the knowledge base lists for the test, and the units
            printed on the report's other rows; tried first, when none of the other
            candidates is closer.
        listed: those of the units the knowledge base lists for the test alone; tried before
            ``preferred``, on the same terms: a unit another row prints that the test only
            converts to is no rival to the test's own unit that is nearer (``nmol.`` for
            nmol/L of Total T4 beside rows printing mmol/L, standard tuning seed 330).

    Returns:
        the closest spelling when its distance is small for its length and every other
        spelling (of another unit text) is at least ``MARGIN`` farther; None otherwise.
    """
    scored = sorted({(ocr_distance(read, c), c) for c in candidates})
    for tier in (listed, preferred):
        mine = [(d, c) for d, c in scored if c in tier]
        if mine and mine[0][0] <= scored[0][0] + 1e-9:
            found = _clear_best(mine)
            if found is not None:
                return found
    return _clear_best(scored)


def _clear_best(scored: list[tuple[float, str]]) -> str | None:
    if not scored:
        return None
    best, form = scored[0]
    if best > max(1.0, MAX_SHARE * len(form)) + 1e-9:
        return None
    key = normalize_spelling(form)
    rest = [d for d, c in scored[1:] if normalize_spelling(c) != key]
    if rest and rest[0] - best < MARGIN - 1e-9:
        return None
    return form


def _unit_fix(row: RawLabRow, kb: KnowledgeBase, others: Sequence[str]) -> str | None:
    """The unit as printed when OCR clearly garbled it, else None (see the module docstring).

    ``others``: the units read on the report's other rows.
    """
    read = row.unit_text.strip()
    if not read:
        return None
    pool = list(dict.fromkeys([*unit_forms(), *others]))
    found = _accepted(kb, row, pool)
    trimmed = _EDGE_MARKS.sub("", read)
    if trimmed and trimmed != read and kb.to_ucum(read) is None:
        # a known unit with a smudge at its end ("nmol/L.", "mg/dL,", "|fL"): the unit
        # without it, when the test (if known) accepts it; no other spelling can be nearer
        ucum = kb.to_ucum(trimmed)
        if ucum is not None and (found is None or ucum in found[1]):
            return _same_spelling(trimmed, pool, others) or trimmed
    caret = read.replace("*", "^")
    if caret != read and caret in others and kb.to_ucum(caret) == kb.to_ucum(read) is not None:
        # Tesseract reads the small caret of "10^3/uL" as "*" (the reverse was not seen): the
        # report prints the caret where another row reads it, whether or not the test's name
        # was read well enough to know it (the same unit, only its spelling changes). Only
        # the same unit: a report may print one power with a caret and another with a star
        # (value_unit check seed 714: 10*3/uL beside 10^...)
        return caret
    if found is None:
        # the name is too garbled to know the test: a unit read as no known spelling is
        # snapped, among every spelling, the report's other rows first; a known one only
        # loses a slip of case or a space (below)
        if kb.to_ucum(read) is not None:
            return _same_spelling(read, pool, others)
        return snap_unit(read, pool, others)
    listed, accepted = found
    candidates = [c for c in pool if kb.to_ucum(c) in accepted]
    ucum = kb.to_ucum(read)
    if ucum is None:
        own = [c for c in candidates if kb.to_ucum(c) in listed]
        preferred = [c for c in candidates if kb.to_ucum(c) in listed or c in others]
        return snap_unit(read, candidates, preferred, own)
    if ucum not in accepted:
        return None  # a known unit is never changed into another
    return _same_spelling(read, candidates, others)


# Smudges OCR glues to the ends of a unit (a period, a comma, a cell rule, a brace or bracket:
# "{mg/dL" beside a split-range scan's cell border, tuning seed 5:425); no unit spelling starts
# or ends with one.
_EDGE_MARKS = re.compile(r"^[.,;:_'`~|{}\[\]()]+|[.,;:_'`~|{}\[\]()]+$")


def trim_edge_marks(text: str) -> str:
    """``text`` without the smudges OCR glues to the ends of a unit (``mmol/L.`` -> ``mmol/L``)."""
    return _EDGE_MARKS.sub("", text)


def _same_spelling(read: str, candidates: Sequence[str], others: Sequence[str]) -> str | None:
    """The spelling of ``read`` (a known unit) the report prints, when OCR read it with a slip
    of case, a space or a mark (``fl``, ``mmol /L``), else None."""
    # a known spelling read with a slip of case, a space or a mark ("fl", "mmol /L"): the
    # spelling the report's other rows print, else the usual one
    same = [
        c
        for c in candidates
        if normalize_spelling(c) == normalize_spelling(read)
        and ocr_distance(read, c) <= 2 * CASE_SUB + MARK_COST
    ]
    if not same:
        return None
    forms = unit_forms()
    pick = max(same, key=lambda c: (others.count(c), c in forms, -ocr_distance(read, c)))
    if others.count(read) >= others.count(pick) and others.count(read):
        return None  # the report prints it so elsewhere too
    return pick if pick != read else None


# The litre symbol in a unit spelling: an l or L at the start or after a prefix letter, a slash
# or a space, that ends the unit or stands before a slash, a space or a brace ("mmol/L",
# "mg/dL", "fl", "mL/min"; not the l of "mol" or "cells").
_LITRE = re.compile(r"(?:^|(?<=[/\sdmuµμfnpk]))[lL](?=$|[/\s{])")
# Rows whose units print the litre one way that a report needs beyond those printing it the
# other way before its litre is read so on every row.
LITRE_MARGIN = 2


def litre_case(units: Sequence[str]) -> str | None:
    """``"L"`` or ``"l"``: how a report prints the litre, from the units read on its rows (each
    unit counted once per row, by the case of its litre symbols); None when no case leads by
    :data:`LITRE_MARGIN` rows.

    A report prints its units in one convention (``mmol/L``, ``g/L``, ``fL`` or ``mmol/l``,
    ``g/l``, ``fl``), but Tesseract reads a capital L at the end of a unit as a small one on
    some rows and not others (``mmol/l`` beside ``g/L`` and ``mmol/L``, two_column scans)."""
    cases = [{m.group() for m in _LITRE.finditer(u)} for u in units]
    upper = sum(c == {"L"} for c in cases)
    lower = sum(c == {"l"} for c in cases)
    if upper >= lower + LITRE_MARGIN:
        return "L"
    if lower >= upper + LITRE_MARGIN:
        return "l"
    return None


def litre_in_case(unit: str, case: str | None) -> str | None:
    """``unit`` with its litre symbols in the report's ``case`` (:func:`litre_case`) when read in
    the other case (``mmol/l`` -> ``mmol/L``), else None."""
    if case is None:
        return None
    written = _LITRE.sub(case, unit)
    return written if written != unit else None


# A one-sided range printed with a strict comparator ("<2.6", "> 1.0"; not "<=" or "≤").
_ONE_SIDED = re.compile(r"^\s*[<>](?!=)\s*-?\d")


def _direction(row: RawLabRow) -> str:
    """``H`` or ``L`` when the value lies beyond its printed range, else ``""``.

    A range printed per sex (``M: 0-15 F: 0-20``) is read for each sex when the value lies
    within the span of both: the patient's sex is not known here, and a printed arrow beside
    20 says the range that applies is the one it lies beyond (range_first tuning seed 321). The
    direction is given only when every sex's range the value lies beyond agrees on it. A value
    at the limit of a one-sided range printed with a strict comparator (``<2.6``) lies beyond
    it. A range per sex is read with its OCR slips undone (:func:`clean_sex_range`)."""
    value = parse_value(row.value_text)
    if value is None or value.number is None or not row.range_text:
        return ""
    printed = clean_sex_range(row.range_text) or row.range_text
    found: set[str] = set()
    for sex in (Sex.UNKNOWN, Sex.MALE, Sex.FEMALE):
        reference = parse_range(printed, sex)
        if reference is None:
            continue
        if reference.high is not None and value.number > reference.high:
            found.add("H")
        elif reference.low is not None and value.number < reference.low:
            found.add("L")
        elif _ONE_SIDED.match(reference.text or printed) and value.number in (
            reference.low,
            reference.high,
        ):
            # "<2.6" excludes 2.6 itself: a value at the limit of a one-sided range lies
            # beyond it (range_first tuning seed 341, an up arrow beside 2.6)
            found.add("H" if value.number == reference.high else "L")
        if sex is Sex.UNKNOWN and found:
            break
    return found.pop() if len(found) == 1 else ""


def arrow_reading(text: str) -> str:
    """``H`` or ``L`` when ``text`` is what Tesseract makes of an up or down arrow, else ``""``."""
    core = text.strip("[](){}|.,:;'")
    conf = confusions()
    bare = core.lstrip("".join(conf.bracket)) if len(core) > 1 else core
    for reading in dict.fromkeys((core, bare)):
        if reading in conf.up:
            return "H"
        if reading in conf.down:
            return "L"
    return ""


_FLAG_LETTER = re.compile(r"^[\[({|]?([a-zEI]?)([HL])([a-zEI]?)[\])}|]?$")


def letter_reading(text: str) -> str:
    """``H`` or ``L`` when ``text`` is one flag letter with a smudge read beside it (``LE``,
    ``Li``, ``aL``: a lower-case letter, ``E`` or ``I``, the marks of a bracket) or with one
    bracket of ``[L]`` lost (``[L``, ``H)``), else ``""``."""
    text = text.strip()
    m = _FLAG_LETTER.match(text)
    if m is None:
        return ""
    half = (text[0] in "[({") != (text[-1] in "])}")  # one bracket of a pair lost
    if not (m.group(1) or m.group(3) or half):
        return ""
    return m.group(2)


# One stroke standing up: what Tesseract makes of a cell border beside the flag cell.
BORDER_MARKS = frozenset({"I", "i", "l", "|", "!", "[", "]"})


def border_mark(row: RawLabRow) -> bool:
    """Whether the row's flag as read is a cell border: one upright stroke, beside a value
    that lies inside its printed range (a down arrow read as ``l`` lies below it). A stroke
    read as ``!`` is case-folded by the column reader into the abnormal flag ``A``: the row's
    ``A`` is a border when every word of its line that reads as ``A`` is such a stroke
    (``Lymphocytes % 20-45 ! 37``: a pipe table in 8 pt Times, shuffled tuning seed 326)."""
    if row.flag_text == "A":
        words = row.line.split()
        read = [w for w in words if normalize_flag(w) == "A"]
        if not read or any(w not in BORDER_MARKS for w in read):
            return False
    elif row.flag_text not in BORDER_MARKS:
        return False
    value = parse_value(row.value_text)
    reference = parse_range(row.range_text) if row.range_text else None
    if value is None or value.number is None or reference is None:
        return False
    if reference.low is None and reference.high is None:
        return False
    above = reference.high is not None and value.number > reference.high
    below = reference.low is not None and value.number < reference.low
    return not (above or below)


# A bracketed mark of one or two characters: what OCR makes of a bracketed flag (``[1]`` for
# ``[↓]``, ``[T]}`` for ``[↑]``).
_BRACKET_MARK = re.compile(r"^[\[({][^\s\[\](){}%]{1,2}[\])}][\])}|]?$")


def _unit_mark(row: RawLabRow) -> tuple[str, str] | None:
    """(the mark, the unit without it) when the unit as read starts with a bracketed mark and
    no flag was read: a bracketed flag printed after the value, before the unit."""
    words = row.unit_text.split()
    if row.flag_text or len(words) < 2 or not _BRACKET_MARK.match(words[0]):
        return None
    return words[0], " ".join(words[1:])


_PLAIN_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")


def arrow_read_as_value(row: RawLabRow) -> tuple[str, str, str] | None:
    """(value, flag, unit) when an arrow printed before the value was read as a digit and
    taken as the value, the value itself pushed into the unit cell, else None.

    On a leaders scan "↓ 134 mmol/L" was read "4 134 mmol/L": the row's value "4", its unit
    "134 mmol/L" (tuning seed 7:557). The value as read is one character Tesseract makes of
    an arrow (``arrows`` of ``data/ocr_confusions.yaml``), no flag was read, and the unit cell
    starts with a plain number; that number is the value when it lies beyond the printed
    range on the arrow's side (134 below 136-145 beside a down arrow): the arrow and the
    range agree. A unit cell never starts with a number of its own.
    """
    words = row.unit_text.split()
    if row.flag_text or len(row.value_text) != 1 or not words:
        return None
    want = arrow_reading(row.value_text)
    if not want or not _PLAIN_NUMBER.match(words[0]):
        return None
    if _direction(row.model_copy(update={"value_text": words[0]})) != want:
        return None
    return words[0], want, " ".join(words[1:])


def lower_l_read_as_flag(row: RawLabRow) -> str | None:
    """The value with a glued lower-case ``l`` read as the digit 1 (``4l`` -> ``41``) when the
    column reader took it for a low flag the value does not bear out, else None.

    A lab prints its flags in capitals; a lower-case ``l`` against a value's last digit is the
    digit ``1`` Tesseract read as a letter ("NT-proBNP 4l pg/mL <125": flag_first tuning seed
    333, read as 4 with the flag L). Taken only when the value read with the 1 does not lie
    below its printed range (a low flag would say it does)."""
    if row.flag_text != "L" or not _PLAIN_NUMBER.match(row.value_text):
        return None
    words = row.line.replace("|", " ").split()
    if f"{row.value_text}l" not in words:
        return None
    value = f"{row.value_text}1"
    if _direction(row.model_copy(update={"value_text": value})) == "L" or not row.range_text:
        return None
    return value


# A value with its last digit split off: the value as printed (its decimals) and that digit.
_GLUED_DIGIT = re.compile(r"^(-?\d+\.(\d+))(\d)$")
_LIMIT = re.compile(r"\d+(?:\.\d+)?")


def arrow_glued_after(row: RawLabRow) -> tuple[str, str] | None:
    """(value, flag) when an arrow printed after the value was read as a last digit of it,
    else None.

    On a two_column scan "11.0 ↓" and "2.7 ↓" were read "11.04" and "2.74" beside the ranges
    11.5-14.5 and 3.5-7.2 (tuning seed 369): the value and the flag both wrong. The value is
    taken without its last digit when no flag was read, that digit is what Tesseract makes of
    an arrow (``arrows`` of ``data/ocr_confusions.yaml``), the value without it prints the
    decimals of every limit of the printed range (a lab prints a result with its range's
    decimals, and the reading has one more), and it lies beyond the range on the arrow's side.
    """
    m = _GLUED_DIGIT.match(row.value_text.strip())
    if row.flag_text.strip() or m is None or not row.range_text:
        return None
    want = arrow_reading(m.group(3))
    places = {len(n.partition(".")[2]) for n in _LIMIT.findall(row.range_text) if float(n)}
    if not want or places != {len(m.group(2))}:
        return None
    if _direction(row.model_copy(update={"value_text": m.group(1)})) != want:
        return None
    return m.group(1), want


def _flag_fix(row: RawLabRow) -> tuple[str, str, str] | None:
    """(flag, the text read, the unit without it) when an arrow read as a letter is the
    row's printed flag and agrees with the value against the printed range."""
    want = _direction(row)
    if not want:
        return None
    if row.flag_text and not normalize_flag(row.flag_text):
        cell = "H" if row.flag_text in confusions().up_in_flag_cell else ""
        if want in (arrow_reading(row.flag_text), letter_reading(row.flag_text), cell):
            return want, row.flag_text, row.unit_text
        return None
    if row.flag_text:
        return None
    unit_words = row.unit_text.split()
    if len(unit_words) > 1 and arrow_reading(unit_words[-1]) == want:
        return want, unit_words[-1], " ".join(unit_words[:-1])
    if len(unit_words) > 1 and arrow_reading(unit_words[0]) == want:
        # the arrow printed after the value, before the unit ("12 [↑] mg/dL", dotted leaders)
        return want, unit_words[0], " ".join(unit_words[1:])
    words = row.line.replace("|", " ").split()
    for i, w in enumerate(words):
        if w == row.value_text:
            for k in (i - 1, i + 1):
                read = words[k] if 0 <= k < len(words) else ""
                if want in (arrow_reading(read), normalize_flag(read)):
                    # a flag printed between the value and the unit was read into the unit
                    # cell too ("[L] g/dL", standard tuning seed 440): no unit starts so
                    rest = unit_words[1:] if unit_words[:1] == [read] else unit_words
                    return want, read, " ".join(rest)
            break
    return None


_TO = re.compile(r"(?<=[\d\s])t[0O](?=[\s\d:.]|$)")
# "3:.5", "1.:2", "1:2" are decimals; "1:80" (two digits or more after the colon) is a titre
_COLON_POINT = re.compile(r"(?<=\d)(?::\.|\.:|:(?=\d(?!\d)))(?=\d)")
_SPAN = re.compile(r"^(?P<a>-?\d+(?:\.\d+)?)\s*(?P<sep>[-–—+=]|to|-\s*-)\s*(?P<b>-?\d+(?:\.\d+)?)$")
_JUNK_EDGE = re.compile(r"^[\[\](){}|;:,.=_*'\s]+|[\[\](){}|;:,.=_*'\s]+$")
# A lower limit of zero read as the letter O ("Oto2" for "0 to 2": small type, the spaces lost
# too; leaders tuning seeds 387 and 417): a range cell prints no word "O" before "to".
_ZERO_LOW = re.compile(r"^[Oo](?=\s*(?:to|[-–—])\s*\d)")
# A cell border or bracket glued to a limit on its inner side ("3.9 - [5:5": separate Low and
# High cells joined, the High cell's border read with its number), or a smudge read as a degree
# sign between a limit and the dash ("3.5°-5:1", unit_first tuning seed 402).
_INNER_JUNK = re.compile(
    r"(?<=\s)[\[\](){}|]+(?=-?\d)|(?<=\d)[\[\](){}|]+(?=\s)|(?<=\d)[°º˚]+(?=\s*[-–—]\s*\d)"
)


# A point read as a comma: a comma before one or two digits is no thousands separator
# ("<5,2" for < 5.2, parsed as 5 with the comma: tuning seed 330); "150,000" keeps its comma.
_DECIMAL_COMMA = re.compile(r"(?<=\d),(?=\d{1,2}(?!\d))")
# A 1 read as the letter it looks like, starting a limit before its decimal point ("L.7 =2.2"
# for 1.7 - 2.2, tuning seed 384; "l.7" was parsed as 0.7): no word of a range is "L.7".
_ONE_LETTER = re.compile(r"(?<![^\s<>=(\[:–—-])[lIL](?=\.\d)")
# "to" read as "te" (o and e: one confusion group) before a limit ("Up te 200", tuning seed
# 344); no range prints the word "te".
_TE = re.compile(r"(?<=\s)te(?=\s+\d)", re.IGNORECASE)


# Marks lost or misread between the limits of separate Low and High cells or a range cell
# (split-range and flag-first tuning seeds 5:500-699, 3:500-699):
# - a point read as a colon before two digits ("1:12 - 1.32"; a titre range prints colons in
#   both limits, "1:20 - 1:80") where the other limit prints as many decimals;
# - a comparator before the lower limit of a two-limit range ("<0 - 2": the Low cell's border
#   read as "<"; no printed range puts one before its lower limit);
# - the dash lost between two limits that both print a point ("3.5 5.1": two numbers with
#   points cannot be one number whose point was read as a gap).
_TWO_LIMITS = re.compile(r"^(?P<a>\d+[:.]\d+)(?P<sep>\s*(?:[-–—]|to)?\s*)(?P<b>\d+[:.]\d+)$")
_LOW_COMPARATOR = re.compile(r"^[<>]=?\s*(?=-?\d+(?:\.\d+)?\s*(?:[-–—]|to)\s*\d)")


# A limit's point read as a gap ("1.12 - 1 32" for 1.12 - 1.32, "11 5 to 14.5"; "0 80 1.80" for
# 0.80 - 1.80, the dash lost too: unit_first tuning seed 492): one limit read as two digit
# groups, the other printing a point with as many decimals as the second group has digits. A
# lab prints both limits of a range with the same decimals, and a thousands group has three
# digits beside a limit with no point ("150 000 - 400 000" is left).
_GAP_POINT = re.compile(
    r"^(?P<a>\d+(?:\.\d+|\s\d+)?)(?P<sep>\s*(?:[-–—]|to)\s*|\s)(?P<b>\d+(?:\.\d+|\s\d+)?)$"
)


def _places(number: str) -> int:
    return len(re.split(r"[:.]", number)[1]) if re.search(r"[:.]", number) else 0


def _gap_point(text: str) -> str:
    """``text`` with a limit's point read as a gap put back (see :data:`_GAP_POINT`)."""
    m = _GAP_POINT.match(text)
    if m is None:
        return text
    a, b = m["a"], m["b"]
    gapped = [" " in a, " " in b]
    if gapped.count(True) != 1:
        return text
    split, other = (a, b) if gapped[0] else (b, a)
    if "." not in other or _places(other) != len(split.split()[1]):
        return text
    point = split.replace(" ", ".")
    low, high = (point, b) if gapped[0] else (a, point)
    return f"{low}{m['sep']}{high}"


def _lost_marks(text: str) -> str:
    """``text`` with the marks of :data:`_TWO_LIMITS`, :data:`_LOW_COMPARATOR` and
    :data:`_GAP_POINT` undone."""
    text = _gap_point(_LOW_COMPARATOR.sub("", text))
    m = _TWO_LIMITS.match(text)
    if m is None or _places(m["a"]) != _places(m["b"]):
        return text
    if (":" in m["a"]) != (":" in m["b"]):
        return text.replace(":", ".")
    if not m["sep"].strip() and m["sep"] and ":" not in text:
        return f"{m['a']} - {m['b']}"
    return text


# A range printed per sex ("M: 0.74-1.35 F: 0.59-1.04") as OCR reads it: the colon after a
# sex letter read as a dash, a point, a degree mark, a comparator or lost ("F- 0.59",
# "F. 0-20", "F°> 12.0", "F 4.00"), and a limit's point read as a space ("1 35" for 1.35; one or
# two digits after the space, so a thousands group "150 000" is no point). Nothing but the two
# sexes' spans is in the cell.
_SEX_LIMIT = r"\d+(?:\.\d+|\s\d{1,2}(?![\d.]))?"
_SEX_MARK = r"[:;.\-–—°>*'\"]*"


def _sex_span(key: str) -> str:
    """The pattern of one sex's span, its groups named after ``key``."""
    return (
        rf"(?P<{key}>[MF])\s*(?P<{key}m>{_SEX_MARK})\s*"
        rf"(?P<{key}a>{_SEX_LIMIT})\s*[-–—]\s*(?P<{key}b>{_SEX_LIMIT})"
    )


_SEX_SPLIT = re.compile(rf"^\s*{_sex_span('x')}\s*[,;/|]?\s*{_sex_span('y')}\s*$")
# Limits of one test's two sex ranges lie within this factor of each other (M: 13.5-17.5
# F: 12.0-15.5); a limit ten times its twin lost its point.
SEX_TWIN_FACTOR = 3.0


def _point_restored(limit: str, places: int) -> str:
    """``limit`` with its point put back ``places`` digits from the end (``135`` -> ``13.5``),
    or as read when it has a point or too few digits."""
    if "." in limit or places < 1 or len(limit) <= places:
        return limit
    return f"{limit[:-places]}.{limit[-places:]}"


def _twins_apart(limit: str, twin: str) -> bool:
    """Whether two limits (the same limit of the two sexes) differ by more than
    :data:`SEX_TWIN_FACTOR`; a zero limit is compared with nothing."""
    a, b = float(limit), float(twin)
    return a > 0 and b > 0 and max(a, b) / min(a, b) > SEX_TWIN_FACTOR


def clean_sex_range(text: str) -> str | None:
    """A range printed per sex as ``M: a-b F: c-d`` when OCR slipped on it, else None.

    Undone: the colon after a sex letter read as another mark or lost, a limit's point read as a
    space (``M: 4.50-5 90 F 4.00-5 20``), and a point lost from a limit (``M: 135-175 F°>
    120-15.5`` for 13.5-17.5 and 12.0-15.5) where the cell's other limits print the places and
    the limit as read is out of order with its pair or more than :data:`SEX_TWIN_FACTOR` from
    the same limit of the other sex, and the restored one is not. A reading that stays out of
    order, or with a limit still that far from its twin, is not taken.
    """
    m = _SEX_SPLIT.match(text)
    if m is None or m["x"] == m["y"]:
        return None
    limits = [m[k].replace(" ", ".") for k in ("xa", "xb", "ya", "yb")]
    places = max((len(x.split(".")[1]) for x in limits if "." in x), default=0)
    for _ in range(2):  # a limit restored can show its twin's point lost
        for i, limit in enumerate(limits):
            pair, twin = limits[i ^ 1], limits[i ^ 2]
            low, high = (limit, pair) if i % 2 == 0 else (pair, limit)
            fixed = _point_restored(limit, places)
            restored_pair = (fixed, pair) if i % 2 == 0 else (pair, fixed)
            dotted = "." in twin
            wrong = float(low) >= float(high) or (dotted and _twins_apart(limit, twin))
            right = float(restored_pair[0]) < float(restored_pair[1]) and not (
                dotted and _twins_apart(fixed, twin)
            )
            if fixed != limit and wrong and right:
                limits[i] = fixed
    if any(float(limits[k]) >= float(limits[k + 1]) for k in (0, 2)) or any(
        _twins_apart(limits[k], limits[k + 2]) for k in (0, 1)
    ):
        return None
    out = f"{m['x']}: {limits[0]}-{limits[1]} {m['y']}: {limits[2]}-{limits[3]}"
    clean = m["xm"] == ":" and m["ym"] == ":" and limits == [m[k] for k in ("xa", "xb", "ya", "yb")]
    return None if clean else out


# A one-sided range read with a cell border before its comparator (a stroke read as 7, 1, l or
# |: no range prints a digit against its comparator; "7<5:0" for <5.0, two_column scans with
# ruled cells). A colon after the limit is left: "<1:8" may be a titre, and a colon for the
# point is taken by :func:`restore_range` only near the knowledge base's range.
_ONE_SIDED_READ = re.compile(r"^[17lI|!]\s*(?P<range>[<>]=?\s*\d+(?::\d+)?)$")


def _clean_one_sided(read: str) -> str | None:
    """A one-sided range (``<5.0``) read with a cell border before it, the border dropped,
    else None."""
    m = _ONE_SIDED_READ.match(read)
    return m["range"] if m else None


def clean_range(text: str) -> str:
    """A printed range with OCR slips undone where the reading stays a range of two ordered
    numbers: ``3:.5-5.1`` -> ``3.5-5.1``, ``1.7 t0 2.2`` -> ``1.7 to 2.2``, ``2.5 -4.5`` ->
    ``2.5 - 4.5`` (a negative upper limit below a positive lower one cannot be meant),
    ``Oto2`` -> ``0 to 2`` (a zero lower limit read as the letter O),
    ``0.80+ 1.20`` -> ``0.80 - 1.20``, brackets and smudges at the ends dropped, a border or
    bracket glued to a limit beside the separator dropped (``3.9 - [5:5`` -> ``3.9 - 5.5``,
    separate Low and High cells read with the High cell's border). A point read as a comma
    before one or two digits (``<5,2`` -> ``<5.2``) and a 1 read as ``l``, ``I`` or ``L``
    before a limit's point (``L.7`` -> ``1.7``) are undone in any range, and ``te`` before a
    limit is ``to`` (``Up te 200``). A colon for a point before two digits, a comparator
    before the lower limit and a dash lost between two pointed limits are undone where
    :data:`_TWO_LIMITS` says (``1:12 - 1.32``, ``<0 - 2``, ``3.5 5.1``). A cell border read
    before the comparator of a one-sided range is dropped (``7<5:0`` -> ``<5:0``; its colon is
    taken for the point by :func:`restore_range`, near the knowledge base's range only, since
    ``<1:8`` may be a titre); a range per sex is read by :func:`clean_sex_range`. Anything
    else is returned as read."""
    text = _TE.sub("to", _ONE_LETTER.sub("1", _DECIMAL_COMMA.sub(".", text)))
    read = text.strip()
    fixed = _COLON_POINT.sub(".", _INNER_JUNK.sub("", _JUNK_EDGE.sub("", _TO.sub("to", read))))
    fixed = _lost_marks(_ZERO_LOW.sub("0", fixed))
    m = _SPAN.match(fixed)
    if m is None:
        return clean_sex_range(text) or _clean_one_sided(read) or text
    low, high, sep = m["a"], m["b"], m["sep"]
    if high.startswith("-") and not low.startswith("-") and sep not in {"to", "+", "="}:
        high = high[1:]  # "2.5 - -4.5" read from "2.5 - 4.5"
    if float(low) >= float(high):
        return text
    if sep == "to":
        return f"{low} to {high}"
    if fixed == read and sep in {"-", "–", "—"} and not re.search(r"\s[-–—]\d", read):
        return text  # a clean reading is left as printed
    return f"{low} - {high}"


# A printed range of one or two plain numbers: "0.5 - 2.5", "05-25", "< 17", "-7.5-11.5".
_PLAIN_RANGE = re.compile(
    r"^(?P<op><=|>=|<|>)?\s*(?P<a>-?\d+(?:\.\d+)?)(?:\s*(?P<sep>-|–|to)\s*(?P<b>\d+(?:\.\d+)?))?$"
)


_BORDER_ONE = "a cell border read as a 1"


def _number_readings(number: str, conf: Confusions, first: bool) -> list[tuple[str, str]]:
    """What a number OCR read may have been printed as: (text, the slip undone); the reading
    itself first with no slip. A cell border read as a 1 or a minus is looked for only before
    the ``first`` number of the cell."""
    out = [(number, "")]
    body = number.removeprefix("-")
    if first and body != number:
        out.append((body, "a cell border read as a minus"))
    if "." not in body and len(body) >= 2:
        # the point after any digit ("112" for 1.12: split-range tuning seed 455); the
        # knowledge base's range picks the one place that lands near it
        out += [(f"{body[:i]}.{body[i:]}", "a decimal point lost") for i in range(1, len(body))]
    for read, printed in conf.digit_slips:
        for i, ch in enumerate(body):
            if ch == read:
                out.append((f"{body[:i]}{printed}{body[i + 1 :]}", f"a {printed} read as {read}"))
    if first and body.startswith("1") and len(body) >= 2 and body[1] != ".":
        out.append((body[1:], _BORDER_ONE))
    return out


def _unitless(ucum: str) -> bool:
    """Whether a UCUM unit is a bare count or an annotation (``{ratio}``, ``{INR}``, ``1``), that a
    report prints no unit for."""
    return ucum == "1" or (ucum.startswith("{") and ucum.endswith("}"))


def _kb_limits(row: RawLabRow, kb: KnowledgeBase) -> tuple[float | None, float] | None:
    """(low, high) of the knowledge base's range for the row's test in the unit read, either
    sex; None when the test, its unit or an upper limit is not known."""
    test = kb.match(row.name, row.section)
    if test is None:
        return None
    unit = kb.to_ucum(row.unit_text) if row.unit_text.strip() else test.unit
    if unit is None or (not row.unit_text.strip() and test.unit and not _unitless(test.unit)):
        return None
    ref = kb.reference_range(test.id, Sex.UNKNOWN, None, unit)
    if ref is None or ref.high is None or ref.high <= 0:
        return None
    return ref.low, ref.high


# A one-sided range whose limit's point OCR read as a colon or a dash ("<1:7", "-< 1-7" for
# < 1.7: triglycerides, leaders and unit_first tuning scans), marks before the comparator
# read from a smudge or the leader dots. A comparator is never followed by two limits, and a
# colon joins the digits of a titre ("<1:40"), never a range's: the reading is no range as
# it stands, and is taken with the point only when that lands near the knowledge base's
# range for the test (:func:`restore_range`).
_POINT_MARK = re.compile(
    r"^[-_~.,:;'`|]*\s*(?P<op><=|>=|<|>)\s*(?P<i>\d+)(?P<mark>[:-])(?P<f>\d+)$"
)


def _point_mark_reading(text: str) -> tuple[str, str] | None:
    """(``"< 1.7"``, the slip) for a one-sided range read with its point as a colon or dash
    (see :data:`_POINT_MARK`), else None."""
    m = _POINT_MARK.match(text.strip())
    if m is None:
        return None
    mark = "a colon" if m["mark"] == ":" else "a dash"
    return f"{m['op']} {m['i']}.{m['f']}", f"a decimal point read as {mark}"


# Two limits printing a point each, read as one word with the dash lost ("1.72.2" for 1.7 -
# 2.2, standard tuning seed 430): no number prints two points. A lab prints both limits with
# the same decimals, so the upper limit starts as many digits after the first point as the
# last group has: the one split, taken only near the knowledge base's range for the test.
_GLUED = re.compile(r"^(?P<i>\d+)\.(?P<mid>\d+)\.(?P<f>\d+)$")


def _glued_reading(text: str) -> tuple[str, str] | None:
    """(``"1.7 - 2.2"``, the slip) for two limits read as one word (see :data:`_GLUED`), or
    None."""
    m = _GLUED.match(text.strip())
    places = len(m["f"]) if m else 0
    if m is None or len(m["mid"]) <= places:
        return None
    low = f"{m['i']}.{m['mid'][:places]}"
    high = f"{m['mid'][places:]}.{m['f']}"
    return f"{low} - {high}", "the dash between its limits lost"


def _alike_places(low: str, high: str) -> bool:
    """Whether two limits print the same decimals, a zero limit alike with any."""
    zero = float(low) == 0 or float(high) == 0
    return zero or _places(low.lstrip("-")) == _places(high)


def _range_off(low: float | None, high: float, kb_low: float | None, kb_high: float) -> float:
    """How far (low, high) lies from the KB's range (kb_low, kb_high), in KB upper limits."""
    if low is not None and low >= high:
        return float("inf")
    gap_low = abs(low - (kb_low or 0.0)) if low is not None else 0.0
    return max(gap_low, abs(high - kb_high)) / kb_high


def restore_range(row: RawLabRow, kb: KnowledgeBase) -> tuple[str, str] | None:
    """(the printed range, what OCR slipped on) when the range read is far from the knowledge
    base's range for the test and exactly one reading with the fewest slips undone
    (``data/ocr_confusions.yaml``: ``ranges``) lies near it, or when a one-sided range read
    with its point as a colon or dash (:data:`_POINT_MARK`) or two limits read as one word
    (:data:`_GLUED`) lie near it so read;
    ``("", why)`` when the limits read are out of order and no reading restores them; None
    when the reading stands."""
    glued = _glued_reading(row.range_text)
    if glued is not None:
        kb_glued = _kb_limits(row, kb)
        low_text, high_text = glued[0].split(" - ")
        apart = _range_off(float(low_text), float(high_text), *kb_glued) if kb_glued else math.inf
        near = apart <= confusions().range_near
        return glued if near else None
    marked = _point_mark_reading(row.range_text)
    if marked is not None:
        kb_marked = _kb_limits(row, kb)
        number = float(marked[0].split()[1])
        if kb_marked is None or marked[0].startswith(">"):
            return None
        near = _range_off(None, number, *kb_marked) <= confusions().range_near
        return marked if near else None
    m = _PLAIN_RANGE.match(row.range_text.strip())
    kb_range = _kb_limits(row, kb) if m else None
    if m is None or kb_range is None:
        return None
    conf = confusions()
    kb_low, kb_high = kb_range
    op, sep = m["op"], m["sep"]
    if (op is None) == (m["b"] is None) or (op is not None and op.startswith(">")):
        return None  # "< 1.7", "2.5 - 7.1" only: a lower bound alone is not checked

    def off(low: float | None, high: float) -> float:
        return _range_off(low, high, kb_low, kb_high)

    def limits(a: str, b: str | None) -> tuple[float | None, float]:
        return (None, float(a)) if b is None else (float(a), float(b))

    if off(*limits(m["a"], m["b"])) <= conf.range_far:
        return None
    found: dict[tuple[float | None, float], tuple[int, str, str]] = {}
    highs = _number_readings(m["b"], conf, first=False) if m["b"] is not None else [("", "")]
    alike = m["b"] is None or _alike_places(m["a"], m["b"])
    for a, why_a in _number_readings(m["a"], conf, first=True):
        for b, why_b in highs:
            slips = [w for w in (why_a, why_b) if w]
            cost = len(slips) + sum(w == _BORDER_ONE for w in slips) * (conf.border_one_cost - 1)
            if not slips or cost > conf.max_range_slips:
                continue
            if alike and b and not _alike_places(a, b):
                # slips undone never make limits read with the same decimals unlike
                # ("2557-1" is not 2.557 - 7: unit_first check seed 832)
                continue
            key = limits(a, b or None)
            if off(*key) <= conf.range_near:
                text = f"{op} {a}" if op else f"{a} {'to' if sep == 'to' else '-'} {b}"
                why = " and ".join(dict.fromkeys(slips))
                if key not in found or cost < found[key][0]:
                    found[key] = (cost, text, why)
    if found:
        fewest = min(n for n, _, _ in found.values())
        best = [(t, w) for n, t, w in found.values() if n == fewest]
        return best[0] if len(best) == 1 else None
    low, high = limits(m["a"], m["b"])
    if low is not None and low >= high:
        return "", "its lower limit is not below its upper limit"
    return None


# A lower limit of 1 read as an upright stroke set apart from the range ("| to 6" for 1 to 6,
# standard tuning seed 440): a range cell prints no "to 6" without its lower limit ("Up to 6"
# has its word), and a stroke is what Tesseract makes of a 1 (``digit_lookalikes``).
_TO_ONLY = re.compile(r"^to\s+\d")


def lost_one(row: RawLabRow) -> str | None:
    """The range with its lower limit 1 back when it was read as ``to N`` after a stroke that
    is a 1 (see :data:`_TO_ONLY`), else None."""
    text = row.range_text.strip()
    if not _TO_ONLY.match(text):
        return None
    words = row.line.split()
    want = text.split()
    # not "L": the printed flag may stand there
    ones = {ch for ch, digit in confusions().digit_lookalikes if digit == "1"} - {"L"}
    for i in range(1, len(words) - len(want) + 1):
        if words[i : i + len(want)] == want and words[i - 1] in ones:
            return f"1 {text}"
    return None


# Marks OCR glues to the words of a test name from noise ("CKD-EPI!", "Total;"); no test
# name prints them.
_NAME_MARKS = re.compile(r"(?<=\w)[!;|\\]+(?=\s|\)|$)|(?<=\s)[!;|\\]+(?=\w)")


def clean_name(name: str) -> str:
    """A test name without the marks OCR glued to its words (``eGFR (CKD-EPI! 2021)``)."""
    return " ".join(_NAME_MARKS.sub("", name).split())


# Rows of one report whose flags read as stars, at least, before a flag read in lower case
# is taken for a star (see :func:`_star_flag`).
STAR_ROWS = 2


def _star_flag(row: RawLabRow, flags: Sequence[str]) -> str | None:
    """The word read for the row's flag when it is a printed star, else None.

    A star read as one or two lower-case letters that only case-fold into the abnormal flag
    (``aa`` -> ``AA`` -> ``A``; the row holds ``A``, its line the word as read) is taken for
    a star when the report's other flags (``flags``, normalised) are all stars, at least
    :data:`STAR_ROWS` of them (a flag_first scan's star read as "aa", tuning seed 343): no lab
    prints a flag in lower case. Both readings say "abnormal, direction not printed"; the star
    is what the report prints. A flag cell read as a mark a star is read as
    (``data/ocr_confusions.yaml``: ``star``, ``x``) is taken for a star on the same evidence,
    and only beside a value outside its printed range (tuning seed 384, 7.8 pt Times); so is
    such a mark read alone on the line of a row read with no flag (:func:`_lone_star`)."""
    others = [f for f in flags if f]
    if len(others) < STAR_ROWS or any(f != "*" for f in others):
        return None
    cleaned = row.model_copy(update={"range_text": clean_range(row.range_text)})
    if row.flag_text in confusions().star and _direction(cleaned):
        return row.flag_text  # a star read as a letter it looks like, beside a value out of range
    if not row.flag_text and _direction(cleaned):
        return _lone_star(row)
    if row.flag_text != "A":
        return None
    words = row.line.replace("|", " ").split()
    read = [w for w in words if len(w) <= 2 and normalize_flag(w) == "A"]
    if len(read) != 1 or not (read[0].isalpha() and read[0].islower()):
        return None
    return read[0]


def _report_flags(rows: Sequence[RawLabRow]) -> list[str]:
    """The report's flags as read (normalised), each star read as a letter (:func:`_star_flag`)
    taken as the star, so that one star read as ``a`` does not keep the others from being
    told among the report's stars (range_first tuning seed 441: a star read as ``a`` beside
    one read as ``7``)."""
    read = [normalize_flag(r.flag_text) if r.flag_text.strip() else "" for r in rows]
    return [
        "*" if row.ocr and _star_flag(row, [g for k, g in enumerate(read) if k != i]) else f
        for i, (row, f) in enumerate(zip(rows, read, strict=True))
    ]


def _lone_star(row: RawLabRow) -> str | None:
    """The one word of the row's line that is a mark a star is read as (``=``, ``x``: see
    ``star`` of ``data/ocr_confusions.yaml``) and no word of its value, unit or range, else
    None. The column reader drops such a mark from the flag cell as a stray (``Lymphocytes =
    15 % 20-45`` for a star printed in the flag column before the value: flag_first tuning
    seed 403; ``| mg/dl | =`` at the end of a range_first row: seed 441)."""
    cells = {*row.value_text.split(), *row.unit_text.split(), *row.range_text.split()}
    words = row.line.replace("|", " ").split()
    read = [w for w in words if w in confusions().star and w not in cells]
    return read[0] if len(read) == 1 else None


def _single_flag(row: RawLabRow) -> str | None:
    """The word read for the row's doubled flag (``HH``, ``LL``) when it is one flag with a
    smudge, else None.

    The column reader case-folds a flag cell, so ``[lL]`` becomes ``LL``; but a lab prints its
    critical flags in capitals, and a letter read in lower case beside a capital is the shaft
    of an arrow or a smudge beside one letter (``[lL]``, ``[Ll]`` for a bracketed down arrow:
    bracket_arrows tuning seeds 380 and 394), which :func:`letter_reading` reads as one letter.
    Left as read when the value lies beyond its printed range on the other side (a sex-split
    range gives no side: the letter still stands for one flag, not two)."""
    if row.flag_text not in ("HH", "LL"):
        return None
    words = row.line.replace("|", " ").split()
    read = [
        w for w in words if normalize_flag(w) == row.flag_text and any(ch.islower() for ch in w)
    ]
    if len(read) != 1 or letter_reading(read[0]) != row.flag_text[0]:
        return None
    return read[0] if _direction(row) in ("", row.flag_text[0]) else None


# A value read with a colon where its point was printed ("1:5" for 1.5): OCR leaves "1:<digits>"
# as read (``ocr.clean_word``), since a titre is printed so ("1:80"). Beside a printed range of
# plain numbers the value is no titre (a titre's range is a titre too: "<1:40").
_COLON_VALUE = re.compile(r"^([<>]?)(\d+):(\d+)$")
_TITRE_IN_RANGE = re.compile(r"\d\s*:\s*\d")


def colon_value(row: RawLabRow) -> str | None:
    """The value with its colon read as the decimal point (``1:5`` -> ``1.5``) when the row's
    printed range holds numbers and no titre (range_first tuning seed 341), else None."""
    m = _COLON_VALUE.match(row.value_text)
    if m is None or not row.range_text or _TITRE_IN_RANGE.search(row.range_text):
        return None
    reference = parse_range(row.range_text)
    if reference is None or (reference.low is None and reference.high is None):
        return None
    return f"{m[1]}{m[2]}.{m[3]}"


_DIRECTIONS = frozenset({"H", "L", "HH", "LL"})


def _glued_star(row: RawLabRow, flags: Sequence[str]) -> str | None:
    """The word read for the row's value when a star printed against it was read as another
    mark (``star_glued`` of ``data/ocr_confusions.yaml``: ``32%`` for ``32*``), else None.

    Taken only when the row has no flag, its unit was read as a word of its own after the
    value (so the ``%`` is not the unit: ``1%`` with its ``%`` unit column read apart), the
    value lies beyond its printed range (a star marks an abnormal value), and none of the
    report's other flags reads as a direction (``H``, ``L``, ``HH``, ``LL``: a report printing
    letters or arrows would have printed one here; cumulative tuning seeds 318 and 388, where
    the star was the report's only flag read as one)."""
    if row.flag_text or not row.unit_text or not _direction(row):
        return None
    words = row.line.replace("|", " ").split()
    marks = confusions().star_glued
    glued = next(
        (w for w in words if w[len(row.value_text) :] in marks and w.startswith(row.value_text)),
        None,
    )
    if glued is None:
        return None
    after = words[words.index(glued) + 1 :]
    if row.unit_text.split()[0] not in after:
        return None
    return None if any(f in _DIRECTIONS for f in flags) else glued


def repair_rows(rows: Sequence[RawLabRow], kb: KnowledgeBase) -> list[RawLabRow]:
    """Rows with OCR garbles in units and arrow flags undone where the evidence is clear.

    Args:
        rows: one report's rows as read; rows not read by OCR are returned unchanged.
        kb: the knowledge base (test names -> accepted units).

    Returns:
        the rows, corrected ones with ``corrections`` saying what was read.
    """
    forms = set(unit_forms())
    seen = [
        r.unit_text
        if r.unit_text
        and kb.to_ucum(r.unit_text) is not None
        and (" " not in r.unit_text or r.unit_text in forms)
        else ""
        for r in rows
    ]
    flags = _report_flags(rows)
    report_litre = litre_case([u for u in seen if u])
    out: list[RawLabRow] = []
    for i, row in enumerate(rows):
        if not row.ocr:
            out.append(row)
            continue
        notes: list[str] = []
        update: dict[str, str] = {}
        first = row
        star = _star_flag(row, [f for k, f in enumerate(flags) if k != i])
        if star is not None:
            update["flag_text"] = "*"
            notes.append(
                f'flag read as "{star}" taken as *: a star read as a letter (no flag is printed '
                "in lower case), and the report's other flags are stars"
            )
        single = _single_flag(row) if star is None else None
        if single is not None:
            update["flag_text"] = row.flag_text[0]
            notes.append(
                f'flag read as "{single}" taken as {row.flag_text[0]}: a letter read in lower '
                "case is no critical flag (printed in capitals) but a smudge beside one letter"
            )
        before = arrow_read_as_value(row)
        if before is not None:
            value, code, unit = before
            update.update({"value_text": value, "flag_text": code, "unit_text": unit})
            notes.append(
                f'value read as "{row.value_text}" and unit as "{row.unit_text}" taken as '
                f"{value} with the flag {code}: an arrow printed before the value, read as a "
                "digit, and the value lies beyond the printed range on the arrow's side"
            )
            row = row.model_copy(update={"value_text": value, "flag_text": code, "unit_text": unit})
        after = arrow_glued_after(row) if before is None else None
        if after is not None:
            update.update({"value_text": after[0], "flag_text": after[1]})
            notes.append(
                f'value read as "{row.value_text}" taken as {after[0]} with the flag {after[1]}: '
                "an arrow printed after the value, read as its last digit (one decimal more "
                "than the printed range's), and the value lies beyond the range on the "
                "arrow's side"
            )
            row = row.model_copy(update={"value_text": after[0], "flag_text": after[1]})
        point = colon_value(row)
        if point is not None:
            update["value_text"] = point
            notes.append(
                f'value read as "{row.value_text}" taken as {point}: a point read as a colon, '
                "and the printed range holds no titre"
            )
            row = row.model_copy(update={"value_text": point})
        one = lower_l_read_as_flag(row)
        if one is not None:
            update.update({"value_text": one, "flag_text": ""})
            notes.append(
                f'value read as "{row.value_text}l" taken as {one} with no flag: a lower-case l '
                "against the value is the digit 1 (flags are printed in capitals), and the "
                "value read with it is not below its range"
            )
            row = row.model_copy(update={"value_text": one, "flag_text": ""})
        glued = _glued_star(row, [f for k, f in enumerate(flags) if k != i])
        if glued is not None:
            update["flag_text"] = "*"
            notes.append(
                f'value read as "{glued}" taken as {row.value_text} with the flag *: a star '
                "read as another mark, the unit read apart, the value beyond its range, and no "
                "other flag of the report reads as a direction"
            )
        flag = _flag_fix(row) if glued is None else None
        mark = _unit_mark(row) if flag is None else None
        if mark is not None:
            update["flag_text"], update["unit_text"] = mark
            notes.append(
                f'"{mark[0]}" read before the unit taken as the printed flag (as read): a '
                "bracketed mark is no unit"
            )
        if flag is None and border_mark(row):
            update["flag_text"] = ""
            notes.append(
                f'flag read as "{row.flag_text}" dropped: a cell border (one upright stroke), '
                "and the value lies inside the printed range"
            )
        if flag is not None:
            code, read, unit = flag
            update["flag_text"] = code
            update["unit_text"] = unit
            notes.append(
                f'flag read as "{read}" taken as {code}: what OCR makes of a printed flag or '
                "arrow, and the value lies beyond the printed range"
            )
        name = clean_name(row.name)
        if name and name != row.name:
            update["name"] = name
            notes.append(f'name read as "{row.name}"')
        rng = (lost_one(row) or clean_range(row.range_text)) if row.range_text else ""
        if rng and rng != row.range_text:
            update["range_text"] = rng
            notes.append(f'range read as "{row.range_text}" taken as {rng}')
        restored = restore_range(row.model_copy(update={"range_text": rng}), kb) if rng else None
        if restored is not None:
            update["range_text"] = restored[0]
            if restored[0]:
                notes.append(
                    f'range read as "{rng}" taken as {restored[0]}: {restored[1]}, the reading '
                    "far from the knowledge base's range for the test and the restored one near it"
                )
            else:
                notes.append(
                    f'range read as "{rng}" not used: {restored[1]}, and no OCR slip undone '
                    "gives the knowledge base's range for the test"
                )
        current = row.model_copy(update=update) if update else row
        others = [u for k, u in enumerate(seen) if u and k != i]
        snapped = _unit_fix(current, kb, others)
        unit = snapped or current.unit_text
        litre = litre_in_case(unit, report_litre) if kb.to_ucum(unit) is not None else None
        if litre is not None and litre != current.unit_text:
            notes.append(
                f'unit read as "{current.unit_text}" taken as {litre}: the litre written as '
                "the report's units write it"
            )
            update["unit_text"] = litre
        elif snapped is not None and litre is None:
            notes.append(f'unit read as "{current.unit_text}" taken as {snapped}')
            update["unit_text"] = snapped
        if update:
            changed = tuple(
                dict.fromkeys(
                    [*row.changed, *(k for k, v in update.items() if getattr(first, k) != v)]
                )
            )
            row = row.model_copy(
                update={**update, "corrections": (*row.corrections, *notes), "changed": changed}
            )
        out.append(row)
    return out
