"""OCR word clean-up by shape: leader dots read as letters, asterisk flags read as other marks,
cell borders and flags glued to numbers; scanned table cells (a sex-split range, names wrapped
as tightly as the rows). Word boxes are those Tesseract gave on generated scans (300 dpi,
tuning seeds of ``benchmarks/labs_accuracy.py``)."""

from __future__ import annotations

from typing import Any

import pytest

from medflow.analyzers.labs.columns import read_cells, read_table_header
from medflow.analyzers.labs.ocr import (
    clean_word,
    is_leader_junk,
    lines_from_data,
    split_glued_flag,
    star_marks,
)
from medflow.analyzers.labs.parser import parse_pages
from medflow.analyzers.labs.words import Line, PageText, Word


def _data(words: list[tuple[str, float, int, int, int, int, int]]) -> dict[str, list[Any]]:
    """Tesseract's table from (text, conf, left, top, width, height, line) rows."""
    return {
        "text": [w[0] for w in words],
        "conf": [str(w[1]) for w in words],
        "left": [w[2] for w in words],
        "top": [w[3] for w in words],
        "width": [w[4] for w in words],
        "height": [w[5] for w in words],
        "block_num": [1] * len(words),
        "par_num": [1] * len(words),
        "line_num": [w[6] for w in words],
    }


# "Free T4 ........ 0.94 ng/dL ........ 0.80 - 1.80" on a grainy page: the leaders came back
# as flat words ("ccc", "eee", 4-5 px tall) and the dash of the range is 3 px tall.
LEADER_ROW = [
    ("Free", 96, 170, 1013, 69, 19, 1),
    ("T4", 93, 250, 1011, 34, 20, 1),
    ("ccc", 16.7, 354, 1027, 154, 4, 1),
    ("eee", 20.0, 587, 1027, 108, 4, 1),
    ("eens", 27.9, 888, 1026, 127, 5, 1),
    ("0.94", 84.3, 1040, 1010, 69, 21, 1),
    ("ng/dL", 90.1, 1130, 1010, 91, 25, 1),
    ("cece", 9.7, 1352, 1026, 74, 5, 1),
    ("eee", 38.5, 1685, 1114 - 104, 57, 34, 1),
    ("0.80", 93.0, 1790, 1010, 69, 21, 1),
    ("-", 92.5, 1880, 1020, 12, 3, 1),
    ("1.80", 96.2, 1910, 1010, 69, 21, 1),
]


def test_leader_dots_read_as_letters_are_dropped_and_the_range_dash_kept() -> None:
    lines = lines_from_data(_data(LEADER_ROW), dpi=300)
    assert [ln.text for ln in lines] == ["Free T4 0.94 ng/dL 0.80 - 1.80"]


@pytest.mark.parametrize(
    ("text", "height", "conf", "junk"),
    [
        ("eee", 4, 20.0, True),  # flat: dots
        ("2...", 4, 6.8, True),  # a digit cannot be 4 px tall
        ("-", 3, 92.0, False),  # the dash of a range
        ("....", 5, 0.0, False),  # dots read as dots: the leader stripper's job
        ("oo...", 33, 17.0, True),  # dots merged with grain above them, round letters
        ("mmol.", 42, 43.0, False),  # a real unit with a rule stroke in its box
        ("Phosphorus", 41, 23.0, False),  # a real name read unsurely
        ("to", 40, 30.0, False),  # "3.5 to 5.1"
        ("eee", 22, 30.0, False),  # as tall as the text: not judged by shape
    ],
)
def test_leader_junk_is_judged_by_box_height_against_the_body_text(
    text: str, height: int, conf: float, junk: bool
) -> None:
    assert is_leader_junk(text, height, conf, body=21.0) is junk


# A split Low/High table with a "Flag" column of asterisks: "RBC Count 3.89 10^6/uL 4.00 5.20 *"
# where Tesseract read the star as "z" (12 x 11 px, 0.48 body heights above the middle of 5.20).
def _star_row(mark: str, top: int, width: int = 12, height: int = 11) -> list[Any]:
    return [
        ("RBC", 96, 150, 760, 60, 30, 1),
        ("Count", 96, 220, 762, 100, 30, 1),
        ("3.89", 95, 900, 762, 70, 30, 1),
        ("10^6/uL", 90, 1250, 760, 130, 30, 1),
        ("4.00", 95, 1600, 760, 70, 30, 1),
        ("5.20", 95, 1880, 760, 70, 30, 1),
        (mark, 0, 2155, top, width, height, 1),
    ]


@pytest.mark.parametrize("read_as", ["z", ":", "-", "2", "“"])
def test_a_small_mark_at_the_top_of_the_row_is_an_asterisk_flag(read_as: str) -> None:
    lines = lines_from_data(_data(_star_row(read_as, top=755)), dpi=300)
    assert lines[0].text == "RBC Count 3.89 10^6/uL 4.00 5.20 *"


# A flag column before the result ("Anion Gap * 7 mmol/L 8-16"): Tesseract read the star as
# "3", 10 x 10 px with its top level with the digit's top, its middle 0.27 body heights above
# the middle of the "7" beside it (seed 433, flag_first, body 26 px).
STAR_BEFORE_RESULT = [
    ("Anion", 95.9, 166, 735, 84, 25, 1),
    ("Gap", 96.5, 263, 735, 62, 32, 1),
    ("3", 52.5, 982, 734, 10, 10, 1),
    ("7", 96.3, 1185, 734, 17, 24, 1),
    ("mmol/L", 95.5, 1517, 728, 110, 42, 1),
    ("8-16", 96.9, 1847, 733, 67, 25, 1),
]


def test_a_star_alone_in_a_flag_column_level_with_the_digit_tops_is_a_flag() -> None:
    assert star_marks(_data(STAR_BEFORE_RESULT), body=26.0) == {2}


@pytest.mark.parametrize(
    ("mark", "top", "width", "height"),
    [
        (":", 776, 6, 14),  # a colon sits on the x-height, not above the digits
        ("-", 775, 12, 4),  # a dash is flat and mid-height
        ("|", 755, 3, 13),  # a border stub is thin
        ("a", 775, 12, 15),  # a small letter sits on the baseline
    ],
)
def test_marks_that_are_not_raised_stars_are_not_made_flags(
    mark: str, top: int, width: int, height: int
) -> None:
    data = _data(_star_row(mark, top=top, width=width, height=height))
    assert star_marks(data, body=30.0) == set()


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("{13.3", "13.3"),  # "Haemoglobin {13.3 g/dL": the cell border before the value
        ("[0.7", "0.7"),
        ("J1.1", "1.1"),
        ("[4%", "4%"),
        ("5.3}", "5.3"),
        ("[-2.9", "-2.9"),
        ("[H])", "[H]"),
        ("{H])", "[H]"),
        (")7.5", "7.5"),  # "| 7.1 fL | 7.5 - 11.5": the border before the range
        ("[1]", "[1]"),  # an up arrow read as a digit: ocr_repair reads it as a flag
        ("[H]", "[H]"),
        ("(T3)", "(T3)"),
        ("(3.5-5.1)", "(3.5-5.1)"),
        ("58*", "58*"),
        ("1:80", "1:80"),
    ],
)
def test_cell_borders_glued_to_numbers_and_flags_are_dropped(raw: str, clean: str) -> None:
    assert clean_word(raw) == clean


@pytest.mark.parametrize(
    ("read", "words"),
    [
        ("[T]113", ["[T]", "113"]),  # "[↑] 113" read without the space
        ("[4]95", ["[4]", "95"]),
        ("[3]6.4", ["[3]", "6.4"]),  # a bold "[↓] 6.4" (two_column tuning seed 309)
        ("[H]5.2", ["[H]", "5.2"]),
        ("[t19,969", ["[t19,969"]),  # the closing bracket read as a digit: not split
        ("[12]3", ["[12]3"]),
        ("3.3[1]", ["3.3", "[1]"]),  # "3.3 [↓]" read without the space (leaders seed 377)
        ("70[H]", ["70", "[H]"]),
        ("B12[1]", ["B12[1]"]),  # no value before the bracket: not split
        ("113", ["113"]),
    ],
)
def test_a_bracketed_flag_glued_to_its_value_is_two_words(read: str, words: list[str]) -> None:
    assert split_glued_flag(read) == words


def test_the_split_words_share_the_box() -> None:
    data = _data([("Glucose", 96, 150, 700, 120, 30, 1), ("[T]113", 90, 1000, 700, 120, 30, 1)])
    (line,) = lines_from_data(data, dpi=300)
    assert [w.text for w in line.words] == ["Glucose", "[T]", "113"]
    flag, value = line.words[1:]
    assert flag.x0 == pytest.approx(240.0) and value.x1 == pytest.approx(268.8)
    assert flag.x1 == pytest.approx(value.x0)


def _ocr_line(*words: tuple[str, float, float], top: float = 200.0) -> Line:
    """A scanned line: Tesseract's ink boxes (digits 5 pt tall on a 7.9 pt font)."""
    return Line([Word(t, x0, top, x1, top + 5.0) for t, x0, x1 in words])


def test_a_sex_split_range_on_a_scan_stays_in_the_range_column() -> None:
    # "Analyte | Ref. Range | Observed Value | Units | H/L", tuning scan seed 251
    header = _ocr_line(
        ("Analyte", 40, 71),
        ("Ref.", 235, 252),
        ("Range", 258, 280),
        ("Observed", 364, 400),
        ("Value", 404, 427),
        ("Units", 443, 465),
        ("H/L", 523, 536),
        top=150.0,
    )
    tables = read_table_header(header, 612)
    assert tables is not None
    row = _ocr_line(
        ("Hemoglobin", 40, 84),
        ("M:", 236, 243),
        ("13.5-17.5", 250, 288),
        ("F:", 294, 301),
        ("12.0-15.5", 308, 347),
        ("16.3", 365, 381),
        ("g/dL", 444, 461),
    )
    parts = read_cells(row, tables[0]).parts
    assert parts is not None
    assert (parts.value_text, parts.range_text) == ("16.3", "M: 13.5-17.5 F: 12.0-15.5")


def _page(lines: list[Line], *, ocr: bool) -> PageText:
    return PageText(1, 612, 792, lines, ocr=ocr)


def test_a_name_wrapped_as_tightly_as_the_rows_is_joined_on_a_scan() -> None:
    # two tables side by side in a small font, tuning scan seed 249: wraps lie 8.6-10.1 pt
    # under their row, rows 11.3-12.8 pt apart (Tesseract's tops move with the glyphs)
    def row(name: str, value: str, top: float) -> Line:
        return _ocr_line((name, 36, 56), (value, 110, 122), ("ng/dL", 150, 170), top=top)

    lines = [
        _ocr_line(("Test", 36, 52), ("Value", 110, 130), ("UOM", 150, 166), top=140.0),
        row("Ferritin", "88", 160.0),
        row("Folate", "9.1", 172.8),
        row("Total", "103", 184.1),
        _ocr_line(("Triiodothyronine", 36, 96), top=194.2),
        _ocr_line(("(T3)", 36.7, 50), top=203.0),
        row("Iron", "35", 215.0),
    ]
    names = [r.name for r in parse_pages([_page(lines, ocr=True)]).rows]
    assert names == ["Ferritin", "Folate", "Total Triiodothyronine (T3)", "Iron"]


# A grainy leaders row read twice by Tesseract: the run as dots and, over it, taller words at
# confidence 0-29 ("0", "0.00 eens", "00.2 c"); boxes in points from leaders tuning seed 527.
def _leader_row_read_twice(junk: list[tuple[str, float, float]]) -> Line:
    words = [
        Word("Platelet", 41, 192.7, 82, 198.7, 96),
        Word("Count", 89, 193.2, 114, 199.0, 87),
        Word("...........", 120, 197.5, 244, 199.0, 0),
        *[Word(text, x0, 191.8, x1, 201.6, 0) for text, x0, x1 in junk],
        Word("440", 253, 193.2, 267, 199.2, 84),
        Word("x10^3/uL", 273, 193.2, 315, 199.7, 71),
        Word("...", 322, 198.0, 334, 199.2, 0),
        Word("150", 428, 193.7, 442, 199.4, 96),
        Word("to", 449, 194.2, 458, 199.7, 96),
        Word("450", 465, 193.7, 480, 199.7, 96),
    ]
    return Line(sorted(words, key=lambda w: w.x0))


@pytest.mark.parametrize(
    "junk", [[("0", 179, 188)], [("0.00", 142, 160), ("eens", 226, 243)], [("00", 205, 216)]]
)
def test_words_read_within_a_run_of_leader_dots_are_dropped_with_it(
    junk: list[tuple[str, float, float]],
) -> None:
    rows = parse_pages([_page([_leader_row_read_twice(junk)], ocr=True)]).rows
    assert [(r.name, r.value_text, r.unit_text, r.range_text) for r in rows] == [
        ("Platelet Count", "440", "x10^3/uL", "150 to 450")
    ]


# A grainy leaders row whose leaders Tesseract read at the baseline as flat words with dots
# or round letters in them (boxes in points from leaders tuning seed 487; text 6.0-7.2 pt tall).
def test_flat_leader_words_with_dots_or_round_letters_are_dropped() -> None:
    words = [
        Word("Fasting", 49, 435.3, 86, 443.3, 96),
        Word("Insulin", 93, 435.7, 129, 441.9, 38),
        Word("19.5", 258, 435.5, 278, 442.0, 92),
        Word("uIU/mL", 284, 436.1, 316, 442.1, 82),
        Word("............00....", 323, 439.5, 417, 442.6, 0),
        Word("ee.", 354, 439.8, 400, 442.4, 5),
        Word("2.6-24.9", 427, 435.4, 469, 442.1, 90),
    ]
    rows = parse_pages([_page([Line(words)], ocr=True)]).rows
    assert [(r.value_text, r.unit_text, r.range_text) for r in rows] == [
        ("19.5", "uIU/mL", "2.6-24.9")
    ]


def test_a_text_layer_word_is_never_judged_flat() -> None:
    # a text layer (conf -1) with a short glyph box: kept as printed
    words = [
        Word("Neutrophils", 49, 100, 100, 107, -1),
        Word("62", 258, 100, 270, 107, -1),
        Word("%", 276, 100, 282, 107, -1),
        Word("eco", 300, 104, 315, 107, -1),
        Word("40-75", 427, 100, 452, 107, -1),
    ]
    rows = parse_pages([_page([Line(words)], ocr=False)]).rows
    assert [r.unit_text for r in rows] == ["% eco"]
