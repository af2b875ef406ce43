"""A second look at the page image for an OCR'd value or range that cannot be what was printed.

Tesseract loses or adds a decimal point in a value (``1222`` for 12.2, ``133`` for 1.33),
reads a border or a smudge as a digit (``02``, ``.52``) and garbles a printed range (``41 - 2.2``
for 1.7 - 2.2, ``112 to 1.32``). Such a reading is found without guessing what was meant:

* a **value** that lies more than :data:`FAR` times beyond its printed range (above its upper
  limit or below its lower one), or that no printer writes (a leading zero before a digit, a
  leading point);
* a **range** that does not read as a range, or whose lower limit is not below the upper one.

The cell is then read again from the page image (``PageText.reread``: the word's box cropped
with a margin, enlarged, read at three sizes as a line and as a word with only digits, the
point, the dash, comparators and "to" allowed). A new reading is taken only when at least
:data:`MIN_VOTES` of those readings agree on it, more of them than read the first reading
again, and it is well formed:

* for a value, a number within :data:`FAR` times of the range, holding the digits first read
  (or those with one digit fewer where the re-read shows a point: a point read as a digit),
  so a re-read cannot bring a new number; a far value keeps its side of the range, and no
  value is moved into its range;
* for a range, an ordered range whose limits print the same decimals, which the row's value
  does not contradict by :data:`FAR` times, and which holds the digits first read (one fewer
  where a point or dash was read as a digit) unless the value lies outside it: a re-read
  range with new digits may flag a value, never clear it (split Low and High cells are each
  read again as a number and joined).

Separate Low and High cells are also read again when one of them was read as no number
(``ve``, ``TES``) or with a confidence below ``reread_below`` (``205`` at 21 for 7.5), even
when the two read as an ordered range. Such a first reading vouches for no digits, so the
digits rule above cannot apply: the cell takes the number that every setting reading one
gives, at least :data:`MIN_VOTES` of them (a reading that lost its point counted with the one
that shows it), or the number most settings read when it has the first reading's digits with
its look-alike letters read as digits (``i5``: 15), when the range is then well formed as
above (split-range tuning seeds 5:500-699: 5 of 16 wrong ranges, from limits read as letters
or at low confidence).

A value cell Tesseract read with a confidence below ``reread_below`` of
``data/scan_trust.yaml`` (:func:`reread_low_confidence`; "41" for 11, "212" for 12; an
impossible value the rule above left as read, too) is read again the same way. A second
reading counts when it is a number that at least :data:`MIN_VOTES` settings agree on, more of
them than read the first reading again. It never replaces the first reading: on the same side
of the printed range it is only noted (re-reads were seen to drop digits, "37" as "3"); on the
other side (one inside the range, one above it) neither is trusted: the first reading stays and
the value is held for review (``RawLabRow.held``, the reason in words), so it is summarised
neither as a finding nor as normal.

A value read as a whole number above a range whose limits all print decimals ("44" beside
2.5 - 4.5, "49" beside 3.5 - 5.1) is read again too (:func:`reread_lost_point`): a small point
is what Tesseract loses most readily, and a lab prints a result with its range's decimals. The
re-read is taken when at least :data:`MIN_VOTES` settings read the same digits with a point
where the range's precision puts it (a comma read for the point counts), no other placement
more often, the readings of those digits with or without the point (lost again at some sizes)
outnumbering any other number read, and a printed H/L flag agreeing with the new value's side.
The value may then lie inside its range: the page shows the point and the range's decimals
corroborate it, and the value cell is marked as changed (``scan_trust``). Tuning seeds
5:500-699 (4 of 17 wrong split-range values) and 7/1/2:500-599 (6 values); two helpers found
the same slip on their own families and their two rules are merged into this one.

A flag cell read as marks that are no flag and that no reading of ``ocr_repair`` takes for one
(``fae`` for ``| L``, ``{ae`` for ``| *``: a cell's border stroke and its flag read as one
word), beside a value outside its printed range, is read again with only the letters and marks
of a flag allowed (:func:`reread_flag`). The flag read is taken when every reading that shows
one agrees with the value's side of the range and one is read most often; otherwise the flag
stays as first read (shown as read, never dropped). The page gives the flag; the value and
range only corroborate it.

Otherwise the row stays as read, and ``plausibility`` holds an implausible value for review
as before. Each change is recorded on the row (``RawLabRow.corrections``) with the text as
first read.

On text layers nothing is re-read (their pages have no ``reread``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from functools import cache

from medflow.analyzers.labs.ocr_repair import (
    BORDER_MARKS,
    arrow_reading,
    clean_sex_range,
    confusions,
    letter_reading,
    ocr_distance,
    trim_edge_marks,
    unit_forms,
)
from medflow.analyzers.labs.scan_trust import settings as trust_settings
from medflow.analyzers.labs.values import normalize_flag, parse_range, parse_value
from medflow.analyzers.labs.words import Line, Reread, Word
from medflow.domain.labs import RawLabRow

# A value more than FAR times above its printed upper limit or below its lower limit is
# re-read: the line ``plausibility`` holds such a value for review at (the tuning scans' lost
# and added points were 30-100 times out). Real results that far out exist (a CRP of 250
# beside "<5"): a re-read never moves a value to the other side of its range or into it,
# and is not taken when the settings read the first reading as often.
FAR = 10.0
VALUE_CHARS = "0123456789.,-<>"
RANGE_CHARS = "0123456789.,-<>to"
# A re-read is taken when at least this many of its settings (``ocr.REREAD_SIZES`` x
# ``REREAD_PSM``) gave the same acceptable reading.
MIN_VOTES = 2
_MALFORMED = re.compile(r"^(?:0\d|\.\d)")
_NUMBER = re.compile(r"^[<>]?=?-?\d[\d,]*(?:\.\d+)?$")


def _limits(range_text: str) -> tuple[float | None, float | None] | None:
    ref = parse_range(range_text) if range_text.strip() else None
    if ref is None or (ref.low is None and ref.high is None):
        return None
    return ref.low, ref.high


def far_out(value_text: str, range_text: str) -> bool:
    """Whether a numeric value lies more than :data:`FAR` times beyond its printed range."""
    value = parse_value(value_text)
    limits = _limits(range_text)
    if value is None or value.number is None or limits is None:
        return False
    low, high = limits
    number = value.number
    if high is not None and high > 0 and number > FAR * high:
        return True
    return low is not None and low > 0 and 0 <= number < low / FAR


def suspicious_value(value_text: str, range_text: str) -> bool:
    """A value reading that cannot be what was printed (see the module docstring)."""
    text = value_text.strip().lstrip("<>=")
    if _MALFORMED.match(text) and not text.startswith("0."):
        return True
    return far_out(value_text, range_text)


def bad_range(range_text: str) -> bool:
    """A printed range that does not read as one, or reads with its limits out of order."""
    if not range_text.strip() or not re.search(r"\d", range_text):
        return False
    ref = parse_range(range_text)
    if ref is None:
        return True
    if ref.low is not None and ref.high is not None:
        return ref.low >= ref.high
    return ref.low is None and ref.high is None


def _box(words: list[Word]) -> tuple[float, float, float, float]:
    return (
        min(w.x0 for w in words),
        min(w.top for w in words),
        max(w.x1 for w in words),
        max(w.bottom for w in words),
    )


def _value_words(lines: list[Line], value_text: str) -> list[Word]:
    """The word the value was read from (the first that holds it after the row's first word)."""
    for line in lines:
        for w in line.words[1:]:
            if w.text == value_text or w.text.rstrip("*%HL") == value_text:
                return [w]
    return []


def _range_words(lines: list[Line], range_text: str) -> list[Word]:
    """The run of words on one line that reads as ``range_text``."""
    want = range_text.split()
    for line in lines:
        texts = [w.text for w in line.words]
        for i in range(len(texts) - len(want) + 1):
            if texts[i : i + len(want)] == want:
                return line.words[i : i + len(want)]
    return []


def _side(value_text: str, range_text: str) -> str:
    """``H`` above the printed range, ``L`` below it, ``""`` inside it or unknown."""
    value = parse_value(value_text)
    limits = _limits(range_text)
    if value is None or value.number is None or limits is None:
        return ""
    low, high = limits
    if high is not None and value.number > high:
        return "H"
    if low is not None and value.number < low:
        return "L"
    return ""


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _one_digit_fewer(a: str, b: str) -> bool:
    """Whether digit string ``b`` is ``a`` with one digit left out."""
    return len(a) == len(b) + 1 and any(a[:i] + a[i + 1 :] == b for i in range(len(a)))


def same_digits(first: str, again: str) -> bool:
    """Whether ``again`` holds the digits of the ``first`` reading, or those with one digit
    dropped (a point read as a digit: ``1222`` and ``12.2``), and is not the same text."""
    a, b = _digits(first), _digits(again)
    if not b or again == first:
        return False
    if a == b:
        return True
    # one digit fewer only where the re-read shows the point that digit was
    return _one_digit_fewer(a, b) and "." in again and "." not in first


def range_digits(first: str, again: str) -> bool:
    """Whether a re-read range holds the digits first read, or those with one digit fewer (a
    dash or point read as a digit: ``7.52115`` and ``7.5-11.5``)."""
    a, b = _digits(first), _digits(again)
    if not b:
        return False
    return a == b or _one_digit_fewer(a, b)


def _cell_run(text: str, lines: list[Line], taken: list[Word] | None = None) -> list[Word] | None:
    """The words of a cell read as ``text`` (after a row's first word, none of them among the
    words ``taken`` by another cell), when the page holds that run of words once; None when
    it holds it nowhere or more than once (no telling which cell to read again)."""
    want = text.split()
    runs = [
        line.words[i : i + len(want)]
        for line in lines
        for i in range(1, len(line.words) - len(want) + 1)
        if [w.text for w in line.words[i : i + len(want)]] == want
    ]
    runs = [r for r in runs if not any(w is t for w in r for t in taken or [])]
    return runs[0] if len(runs) == 1 else None


def _vote(readings: list[str], ok: Callable[[str], bool]) -> str | None:
    """The reading given most often among those ``ok`` accepts, when given at least
    :data:`MIN_VOTES` times and more often than any other accepted one."""
    counts = Counter(r for r in readings if r and ok(r)).most_common()
    if not counts or counts[0][1] < MIN_VOTES:
        return None
    if len(counts) > 1 and counts[1][1] == counts[0][1]:
        return None
    return counts[0][0]


def _limit_numbers(range_text: str) -> list[str]:
    """The numbers a printed range's text holds, as printed."""
    return re.findall(r"\d+(?:\.\d+)?", range_text)


def _decimals(number: str) -> int:
    return len(number.split(".")[1]) if "." in number else 0


def same_precision(range_text: str) -> bool:
    """Whether the limits of a range print the same number of decimals (``1.7 - 2.2``, not
    ``1.12-122``), a zero limit or a one-sided range excepted."""
    nums = _limit_numbers(range_text)
    if len(nums) != 2 or any(float(n) == 0 for n in nums):
        return True
    return _decimals(nums[0]) == _decimals(nums[1])


# A range built from separate Low and High columns ("41 - 2.2": two words on the line).
_SPLIT = re.compile(r"^(-?\S+) - (-?\S+)$")


def _limit_words(lines: list[Line], low: str, high: str) -> tuple[Word, Word] | None:
    """The words of separate Low and High cells read as ``low`` and ``high``, when the row's
    lines hold each once (after the name), as two words, or hold the High cell once and the Low
    cell's text more than once (``Basophils 0 % 0 Z``: the value reads as the Low cell; split
    range tuning seed 495), the word right before the High cell being the Low cell; None
    otherwise."""

    def hits(text: str) -> list[Word]:
        return [w for line in lines for w in line.words[1:] if w.text == text]

    highs, lows = hits(high), hits(low)
    if len(highs) != 1 or not lows:
        return None
    if len(lows) > 1:
        lows = [
            line.words[i - 1]
            for line in lines
            for i in range(2, len(line.words))
            if line.words[i] is highs[0] and line.words[i - 1].text == low
        ]
    return (lows[0], highs[0]) if len(lows) == 1 and lows[0] is not highs[0] else None


def doubtful_limit(word: Word) -> bool:
    """Whether a limit cell's first reading says nothing of what was printed: no number
    (``ve``, ``TES``, ``1:12``) or a word Tesseract read with a confidence below
    ``reread_below`` of ``data/scan_trust.yaml`` (``205`` at 21 for 7.5)."""
    low_conf = 0 <= word.conf < trust_settings().reread_below
    return low_conf or not _NUMBER.match(word.text)


def unanimous_number(readings: list[str]) -> str | None:
    """The number every re-read setting that reads one gives (at least :data:`MIN_VOTES` of
    them), a reading with no point counted for the one with the same digits and a point (a
    small point lost at one size: ``175`` beside ``17.5``); None when they disagree."""
    numbers = [r for r in readings if _NUMBER.match(r)]
    pointed = {_digits(r): r for r in numbers if "." in r}
    canon = {r if "." in r else pointed.get(_digits(r), r) for r in numbers}
    return canon.pop() if len(canon) == 1 and len(numbers) >= MIN_VOTES else None


def lookalike_digits(text: str) -> str:
    """The digits of a limit cell read with letters, the look-alikes read as the digits they
    resemble (``digit_lookalikes`` of ``data/ocr_confusions.yaml``: ``i5`` -> ``15``, ``Z`` ->
    ``2``); ``""`` when it holds another letter (``eh7``) or no digit."""
    looks = dict(confusions().digit_lookalikes)
    out: list[str] = []
    for ch in text:
        if ch.isdigit():
            out.append(ch)
        elif ch in looks:
            out.append(looks[ch])
        elif ch.isalpha():
            return ""
    return "".join(out)


def _reread_limits(
    cells: tuple[Word, Word],
    reread: Reread,
    fits: Callable[[str], bool],
    formed: Callable[[str], bool],
) -> str | None:
    """A range from Low and High cells each read again (see :func:`reread_row`), or None.

    The limits most settings read are taken when the range ``fits``. Otherwise a limit cell
    whose first reading is :func:`doubtful_limit` takes the number every setting reads
    (:func:`unanimous_number`), the other cell kept as first read, when the range is
    ``formed``: that first reading vouches for nothing, so the page alone gives the limit,
    but only when all its readings agree, or when the number most settings read has the
    digits of the first reading with its look-alikes read as digits (:func:`lookalike_digits`:
    ``i5`` read again as 15, 55, 15: split-range tuning seed 435): the page and the first
    reading then agree on it."""
    voted: list[str] = []
    trusted: list[str] = []
    vouched = False
    for word in cells:
        readings = [r.replace(" ", "").rstrip(",") for r in reread(_box([word]), VALUE_CHARS)]
        pick = _vote(readings, lambda r: bool(_NUMBER.match(r)))
        voted.append(pick if pick is not None else word.text)
        sure = unanimous_number(readings) if doubtful_limit(word) else word.text
        looks = lookalike_digits(word.text)
        if sure is None and pick is not None and looks and _digits(pick) == looks:
            sure = pick
        vouched = vouched or sure != word.text
        trusted.append(sure if sure is not None else "")
    again = f"{voted[0]} - {voted[1]}"
    if fits(again):
        return again
    again = f"{trusted[0]} - {trusted[1]}"
    return again if vouched and all(trusted) and formed(again) else None


# A value read as a whole number of two digits or more (its point lost, "49" for 4.9).
_WHOLE = re.compile(r"^\d{2,}$")
_POINTED = re.compile(r"^\d+\.\d+$")


def range_places(range_text: str) -> int:
    """The decimals every non-zero limit of a printed range is printed with (``3.5-5.1`` -> 1,
    ``1.12 to 1.32`` -> 2, ``< 2.6`` -> 1); 0 when a limit is whole or the limits differ."""
    places = {_decimals(n) for n in _limit_numbers(range_text) if float(n) != 0}
    return places.pop() if len(places) == 1 else 0


def lost_point(value_text: str, range_text: str) -> int:
    """The decimals a value read as a whole number may have lost its point at, or 0.

    Tesseract drops the small point of a value at full-page resolution, at high confidence
    ("49" for 4.9, "73" for 7.3, "117" for 1.17: 13 of about 500 rows on tuning scans
    7/1/2:500-599), mostly well under :data:`FAR` times its range. Such a reading is a whole
    number above its printed range whose limits all print decimals: labs print a value at
    its range's precision, so the point, when it is there, stands that many digits from the
    end. A real whole number above such a range (a CRP of 25 beside 0.0 - 5.0) is read again
    too, and stays as read unless the page shows a point.

    Beside a range with no upper limit (``> 1.0``) a lost point leaves the value inside the
    range ("15" for 1.5 HDL cholesterol beside > 1.0, tuning seed 401): such a value is read
    again too, as one above a two-sided range is.
    """
    places = range_places(range_text)
    if not places or not _WHOLE.match(value_text.strip()) or len(value_text.strip()) <= places:
        return 0
    limits = _limits(range_text)
    open_above = limits is not None and limits[1] is None
    side = _side(value_text, range_text)
    return places if side == "H" or (open_above and not side) else 0


def _flag_side(flag_text: str) -> str:
    """``H`` or ``L`` for a printed flag that gives a direction, else ``""``."""
    return {"H": "H", "HH": "H", "L": "L", "LL": "L"}.get(normalize_flag(flag_text), "")


def reread_lost_point(
    row: RawLabRow, lines: list[Line], reread: Reread
) -> tuple[str, str, list[str] | None]:
    """(value, correction, readings) when a value that may have lost its point
    (:func:`lost_point`) reads again from the page image with that point, else ``("", "",
    readings)``; ``readings`` are the value word's re-readings, for
    :func:`reread_low_confidence` not to read the same box again (None when the cell was not
    read again, or read without a flag glued to it).

    The page gives the point: at least :data:`MIN_VOTES` re-read settings read the value's
    digits with a point (or a comma: the point read with a tail, "4,3") where the range's
    precision puts it. The first reading may be read
    again as often (the one-word setting drops the point the page read missed: "35" three
    times, "3.5" three times): the range's precision, a second source, corroborates the
    point. A printed flag with a direction must agree with the new value's side of the range.
    """
    places = lost_point(row.value_text, row.range_text)
    words = _value_words(lines, row.value_text) if places else []
    if not words:
        return "", "", None
    word = words[0]
    # a flag glued after the value ("27H") is left out of the box by its share of the word
    x1 = word.x0 + (word.x1 - word.x0) * len(row.value_text) / max(len(word.text), 1)
    box = (word.x0, word.top, x1, word.bottom)
    digits = row.value_text.strip()
    want = f"{digits[:-places]}.{digits[-places:]}"
    first = [r.replace(" ", "").rstrip(",") for r in reread(box, VALUE_CHARS)]
    reused = first if box == _box(words) else None
    # the point read with a tail as a comma ("4,3") is the point
    readings = [r.replace(",", ".") for r in first]
    pointed = Counter(r for r in readings if _POINTED.match(r) and _digits(r) == digits)
    placements = pointed.most_common(2)
    if pointed.get(want, 0) < MIN_VOTES or placements[0][0] != want:
        return "", "", reused
    if len(placements) > 1 and placements[1][1] == pointed[want]:
        return "", "", reused  # another placement read as often: no telling where the point is
    # the readings of these digits, with the point or without it (lost again at some sizes),
    # must outnumber any other number read: the cell may hold another number altogether
    alike = pointed[want] + readings.count(digits)
    other = Counter(r for r in readings if _NUMBER.match(r) and _digits(r) != digits)
    most_other = other.most_common(1)[0][1] if other else 0
    if most_other >= alike or suspicious_value(want, row.range_text):
        return "", "", reused
    flag = _flag_side(row.flag_text)
    if flag and _side(want, row.range_text) != flag:
        return "", "", reused
    note = (
        f'value read as "{row.value_text}", a whole number above its range printed to '
        f"{places} decimal{'s' if places > 1 else ''}: read again from the page image as {want}"
    )
    return want, note, reused


def _side_words(side: str) -> str:
    return {"H": "above", "L": "below"}.get(side, "inside")


def reread_low_confidence(
    row: RawLabRow, lines: list[Line], reread: Reread, readings: list[str] | None = None
) -> tuple[dict[str, str], list[str], str]:
    """A value cell read with low confidence read again (see the module docstring);
    ``readings`` are those of the cell already read again, when it was.

    Returns:
        the cells to update, the corrections in words, and why the value is held for review
        (``""`` when it is not).
    """
    below = trust_settings().reread_below
    conf = row.value_confidence
    if conf is None or conf >= below or not _NUMBER.match(row.value_text.strip()):
        return {}, [], ""
    words = _value_words(lines, row.value_text)
    if not words:
        return {}, [], ""
    if readings is None:
        readings = [r.replace(" ", "").rstrip(",") for r in reread(_box(words), VALUE_CHARS)]
    again = _vote(
        readings,
        lambda r: (
            bool(_NUMBER.match(r))
            and r != row.value_text
            and not suspicious_value(r, row.range_text)
        ),
    )
    if again is None or readings.count(row.value_text) >= readings.count(again):
        return {}, [], ""
    first_side, new_side = _side(row.value_text, row.range_text), _side(again, row.range_text)
    if first_side == new_side:
        # the first reading is kept: a re-read that agrees on the side of the range was seen
        # to drop digits ("37" read again as "3", "4.37" as "4" on tuning scans 300-399, value
        # field 92.66% -> 92.41% when taken); the value stays under the trust threshold, so the
        # summary does not call the report normal either way
        note = (
            f'value read as "{row.value_text}" at OCR confidence {conf:.0f}, read again from '
            f"the page image as {again} ({_side_words(new_side)} the range as well): kept as "
            "first read"
        )
        return {}, [note], ""
    note = (
        f'value read as "{row.value_text}" at OCR confidence {conf:.0f}, read again from the '
        f"page image as {again}"
    )
    held = (
        f"the scan's value was read as {row.value_text} ({_side_words(first_side)} the "
        f"printed range {row.range_text}) and on a second reading as {again} "
        f"({_side_words(new_side)} it): check the printed report"
    )
    return {}, [note], held


# What a printed flag cell may hold when read again: the letters and marks of a flag and the
# cell's border stroke. Arrows are not in Tesseract's English set; an arrow read as a letter
# or mark is undone by ``ocr_repair`` from what was first read.
FLAG_CHARS = "HL*|[]()"
_FLAG_EDGES = "[](){}"


def _flag_code(reading: str) -> str:
    """The flag a re-read of a flag cell shows (``"| *"`` -> ``*``, ``"[L"`` -> ``L``), the
    cell's border stroke and brackets aside; ``""`` when it shows none."""
    core = reading.replace("|", "").replace(" ", "").strip(_FLAG_EDGES)
    return normalize_flag(core) if core else ""


def _agreeing_flags(side: str) -> frozenset[str]:
    """The printed flags that agree with a value ``side`` (``H`` or ``L``) of its range."""
    return frozenset({side, side * 2, "*", "**"})


def reread_flag(row: RawLabRow, lines: list[Line], reread: Reread) -> tuple[str, str]:
    """(flag, correction) when a flag cell read as no flag is read again (see the module
    docstring), else ``("", "")``.

    Only a cell that holds marks no reading of ``ocr_repair`` takes for a flag (``fae`` for
    ``| L``, ``{ae`` for ``| *``: the border stroke and the flag read as one word) is read
    again, and only beside a value outside its printed range. The re-read flag is taken when
    every reading that shows a flag agrees with the value's side of the range (``H``/``HH``
    above, ``L``/``LL`` below, ``*`` either side) and one flag is read most often: the page
    shows it, the value and range corroborate it. Otherwise the cell stays as first read.
    """
    text = row.flag_text.strip()
    if not text or normalize_flag(text) or text in BORDER_MARKS:
        return "", ""
    if arrow_reading(text) or letter_reading(text) or text in confusions().up_in_flag_cell:
        return "", ""  # an arrow or letter read with a slip: ocr_repair reads it
    side = _side(row.value_text, row.range_text)
    if not side:
        return "", ""
    # a flag read as a dash is told from the dash of the range read beside it
    run = _cell_run(text, lines, _range_words(lines, row.range_text))
    if run is None:
        return "", ""
    codes = [c for c in (_flag_code(r) for r in reread(_box(run), FLAG_CHARS)) if c]
    if not codes or any(c not in _agreeing_flags(side) for c in codes):
        return "", ""
    counts = Counter(codes).most_common()
    if len(counts) > 1 and counts[1][1] == counts[0][1]:
        return "", ""
    flag = counts[0][0]
    note = (
        f'flag read as "{text}", no flag: read again from the page image as {flag}, which '
        f"the value {_side_words(side)} its printed range agrees with"
    )
    return flag, note


# A unit cell read as no printed spelling of ``knowledge/unit_forms.yaml`` is read again with
# only the characters those spellings use. Small type (7-8 pt, two tables side by side) read
# at 300 dpi garbles units past what ``ocr_repair`` can snap ("mma /T." and "mmol /T." for
# mmol/L: m/n and L/T slips leave mmol/L and nmol/L too close to tell), while the cell
# enlarged (``ocr.REREAD_SCALE``) reads clean. A re-read spelling is taken when the settings
# agree on it (``MIN_VOTES``, more than any other spelling and than the first reading) and it
# lies within UNIT_MAX_SHARE of its length from the first reading (``ocr_repair.ocr_distance``):
# the page shows the unit, the first reading corroborates it. Seeds: two_column 300-499.
UNIT_MAX_SHARE = 0.6


@cache
def _unit_chars() -> str:
    """Every character of the printed unit spellings (the re-read's allowed characters)."""
    return "".join(sorted({ch for form in unit_forms() for ch in form if not ch.isspace()}))


def reread_unit(row: RawLabRow, lines: list[Line], reread: Reread) -> tuple[str, str]:
    """(unit, correction) when a unit cell read as no printed spelling is read again as one
    (see :data:`UNIT_MAX_SHARE`), else ``("", "")``."""
    text = row.unit_text.strip()
    forms = set(unit_forms())
    if not text or trim_edge_marks(text) in forms:
        return "", ""
    run = _cell_run(text, lines)
    if run is None:
        return "", ""
    readings = [trim_edge_marks(" ".join(r.split())) for r in reread(_box(run), _unit_chars())]

    def fits(r: str) -> bool:
        return r in forms and ocr_distance(text, r) <= UNIT_MAX_SHARE * len(r) + 1e-9

    again = _vote(readings, fits)
    if again is None or readings.count(trim_edge_marks(text)) >= readings.count(again):
        return "", ""
    note = f'unit read as "{text}", no printed unit: read again from the page image as {again}'
    return again, note


# Leader dots read as small round letters and marks ("es", "lel.", "ee,"; see
# ``columns.strip_leaders``).
_DOTS_READ = re.compile(r"[ecowlsn.,:;']{1,5}")


def split_unit_cell(row: RawLabRow) -> tuple[str, str, str] | None:
    """(unit, range, correction) when a row read with no range has a unit cell that is a
    printed unit spelling followed by more words; else None.

    On a leaders row (``mg/dL ........ 2.5-4.5``) whose dots Tesseract lost or read as letters
    that were dropped, a range cell read with a slip (``2.5~4.5``, ``R6- 10.3`` for 8.6 -
    10.3, ``e125`` for < 125) reads as no range, and the row grammar takes every word after
    the value for the unit (leaders tuning seeds 7:300-499: 6 units, "mg/dL 2.5~4.5"). A
    printed unit is one spelling of ``knowledge/unit_forms.yaml``: what follows it is the range
    cell, kept as the range when it holds a digit (then read again from the page image when it
    does not read as a range, :func:`reread_row`), dropped otherwise (leader dots read as
    ``es``, ``lel.``; a range label whose numbers were lost). The knowledge base's range is
    used, saying so, for a row left without one. Beside a range that was read, only leader
    dots read as round letters (``mg/dL es``) are dropped from the unit.
    """
    words = row.unit_text.split()
    forms = set(unit_forms())
    if len(words) < 2 or " ".join(words) in forms:
        return None
    head = next((i for i in range(len(words) - 1, 0, -1) if " ".join(words[:i]) in forms), 0)
    if not head:
        return None
    unit, rest = " ".join(words[:head]), " ".join(words[head:])
    if row.range_text.strip():
        # a range was read: only leader dots read as letters lie between it and the unit
        if not _DOTS_READ.fullmatch(rest):
            return None
        return unit, row.range_text, f'unit read as "{row.unit_text}": leader dots dropped'
    if any(c.isdigit() for c in rest):
        return unit, rest, f'unit read as "{row.unit_text}": the unit {unit} and the range {rest}'
    return unit, "", f'unit read as "{row.unit_text}": the unit {unit}, "{rest}" dropped'


def reread_row(row: RawLabRow, lines: list[Line], reread: Reread) -> RawLabRow:
    """``row`` with an impossible value or range read again from the page image, when the new
    reading is well formed and agrees with the rest of the row (see the module docstring).

    Args:
        row: one OCR'd row as parsed.
        lines: the lines it was read from (their words carry the boxes).
        reread: the page's re-reader.

    Returns:
        the row, with ``corrections`` saying what was first read where a cell changed.
    """
    unit_cell = split_unit_cell(row)
    if unit_cell is not None:
        unit, rng, split_note = unit_cell
        row = row.model_copy(
            update={
                "unit_text": unit,
                "range_text": rng,
                "corrections": (*row.corrections, split_note),
                "changed": tuple(dict.fromkeys([*row.changed, "unit_text"])),
            }
        )
    update: dict[str, str] = {}
    notes: list[str] = []
    held = ""
    pointed, point_note, readings = reread_lost_point(row, lines, reread)
    if pointed:
        update, notes = {"value_text": pointed}, [point_note]
    elif not suspicious_value(row.value_text, row.range_text):
        update, notes, held = reread_low_confidence(row, lines, reread, readings)
    else:
        if readings is None:
            words = _value_words(lines, row.value_text)
            read = reread(_box(words), VALUE_CHARS) if words else []
            readings = [r.replace(" ", "").rstrip(",") for r in read]
        far = far_out(row.value_text, row.range_text)
        side = _side(row.value_text, row.range_text)

        def keeps_side(r: str) -> bool:
            # a far value keeps its side; no value is moved into its range
            new = _side(r, row.range_text)
            return new == side if far else not (side and not new)

        again = _vote(
            readings,
            lambda r: (
                bool(_NUMBER.match(r))
                and same_digits(row.value_text, r)
                and not suspicious_value(r, row.range_text)
                and keeps_side(r)
            ),
        )
        if again is not None and readings.count(row.value_text) >= readings.count(again):
            again = None  # read as first read as often: the value may be what was printed
        if again is not None:
            update["value_text"] = again
            notes.append(
                f'value read as "{row.value_text}", impossible beside its range: read again '
                f"from the page image as {again}"
            )
        else:
            # a far value is only ever held, never replaced by a new number ("224" for 2.2
            # read again as "4": all-normal tuning seed 629)
            _, low_notes, held = reread_low_confidence(row, lines, reread, readings)
            notes = low_notes if held else []
    words = _range_words(lines, row.range_text)
    split = _SPLIT.match(row.range_text)
    cells = _limit_words(lines, split.group(1), split.group(2)) if split and not words else None
    doubtful = cells is not None and any(doubtful_limit(w) for w in cells)
    # a range printed per sex that reads as one once its slips are undone is not read
    # again (``ocr_repair`` undoes them): a re-read cell loses the sex letters
    if bad_range(clean_sex_range(row.range_text) or row.range_text) or doubtful:
        value = update.get("value_text", row.value_text)

        def formed(r: str) -> bool:
            return (
                r != row.range_text
                and not bad_range(r)
                and same_precision(r)
                and _limits(r) is not None
                and not far_out(value, r)
            )

        def fits(r: str) -> bool:
            # new digits in a range may only make the value abnormal, never normal
            return formed(r) and (range_digits(row.range_text, r) or _side(value, r) != "")

        read = reread(_box(words), RANGE_CHARS) if words else []
        again = _vote([" ".join(r.split()) for r in read], fits)
        if again is None and cells is not None:
            again = _reread_limits(cells, reread, fits, formed)
        if again is not None:
            why = "not a range" if bad_range(row.range_text) else "a limit read unsure"
            update["range_text"] = again
            notes.append(
                f'range read as "{row.range_text}", {why}: read again from the page '
                f"image as {again}"
            )
    unit, unit_note = reread_unit(row, lines, reread)
    if unit:
        update["unit_text"] = unit
        notes.append(unit_note)
    flag, flag_note = reread_flag(row.model_copy(update=update), lines, reread)
    if flag:
        update["flag_text"] = flag
        notes.append(flag_note)
    if not update and not notes:
        return row
    changed = tuple(
        dict.fromkeys([*row.changed, *(k for k, v in update.items() if getattr(row, k) != v)])
    )
    extra: dict[str, str] = {"held": held} if held else {}
    return row.model_copy(
        update={
            **update,
            **extra,
            "corrections": (*row.corrections, *notes),
            "changed": changed,
        }
    )
