"""Columns on scanned pages: glued letter flags, misread header words, spilled name tails."""

from __future__ import annotations

from medflow.analyzers.labs.columns import (
    read_cells,
    read_table_header,
    split_value,
    strip_leaders,
)
from medflow.analyzers.labs.rows import parse_line
from medflow.analyzers.labs.words import Line, Word

CHAR = 5.0


def cells(*texts: tuple[float, str], top: float = 100.0) -> Line:
    """A line whose cells start at the given x positions (CHAR points per character)."""
    words: list[Word] = []
    for x0, text in texts:
        x = x0
        for w in text.split():
            words.append(Word(w, x, top, x + CHAR * len(w), top + 10))
            x += CHAR * (len(w) + 1)
    return Line(sorted(words, key=lambda w: w.x0))


FLAG_FIRST = [(40, "Test"), (200, "Flag"), (240, "Result"), (300, "Units"), (360, "Range")]


def test_a_letter_flag_glued_before_the_value_is_split() -> None:
    assert split_value("H5.67") == ("5.67", "H", "", False)
    assert split_value("L0.8 mmol/L") == ("0.8", "L", "mmol/L", False)
    assert split_value("HH12") == ("12", "HH", "", False)
    # the closed-up space read as a point, the value showing its own point
    assert split_value("L.0.00") == ("0.00", "L", "", False)
    assert split_value("H,5.67 mmol/L") == ("5.67", "H", "mmol/L", False)
    assert split_value("L.5") is None  # a 1 read as L, not a flag
    # other letters before digits are no flag
    assert split_value("T3") is None
    assert split_value("B12") is None


def test_a_flag_column_value_glued_to_its_flag_falls_in_both_columns() -> None:
    tables = read_table_header(cells(*FLAG_FIRST), 600)
    assert tables is not None
    # "H5.67" read as one word from the flag column (x 200) into the result column
    row = read_cells(
        cells((40, "Potassium"), (225, "H5.67"), (300, "mmol/L"), (360, "3.5-5.1")), tables[0]
    )
    assert row.parts is not None
    assert (row.parts.value_text, row.parts.flag_text) == ("5.67", "H")
    assert row.parts.unit_text == "mmol/L"


def test_a_misread_header_word_is_snapped_when_three_others_are_named() -> None:
    line = cells((40, "Test"), (200, "Resu1t"), (260, "Units"), (320, "Reference Range"))
    tables = read_table_header(line, 600)
    assert tables is not None
    assert [c.role for c in tables[0].columns] == ["name", "result", "unit", "range"]
    # a misread word inside a two-word phrase joins the rest of it
    line = cells((40, "Test"), (200, "Result"), (260, "Units"), (320, "Referenoe Range"))
    tables = read_table_header(line, 600)
    assert tables is not None
    assert [c.role for c in tables[0].columns] == ["name", "result", "unit", "range"]
    assert tables[0].columns[3].label == "Referenoe Range"


def test_a_misread_header_word_is_not_snapped_with_too_few_named_columns() -> None:
    # only two columns named as printed: not enough to trust a near match
    assert read_table_header(cells((40, "Test"), (200, "Resu1t"), (260, "Units")), 600) is None
    # a word far from every header phrase is never snapped
    line = cells((40, "Test"), (200, "Result"), (260, "Units"), (320, "Glucose"))
    assert read_table_header(line, 600) is None


def test_a_four_letter_header_word_with_one_letter_misread_is_snapped() -> None:
    # "Plag" for Flag: difflib scores a one-letter slip in a four-letter word 0.75
    line = cells(
        (40, "Test Name"), (217, "Units"), (294, "Value"), (372, "Plag"), (419, "Normal Values")
    )
    tables = read_table_header(line, 600)
    assert tables is not None
    assert [c.role for c in tables[0].columns] == ["name", "unit", "result", "flag", "range"]
    # a four-letter word two letters from every phrase is never snapped
    line = cells((40, "Test"), (200, "Result"), (260, "Units"), (320, "Plog"))
    assert read_table_header(line, 600) is None


UNIT_FIRST = [(37, "Parameter"), (226, "Units"), (303, "Value"), (380, "H/L"), (427, "Range")]


def test_a_name_tail_read_apart_from_the_name_stays_in_the_name() -> None:
    tables = read_table_header(cells(*UNIT_FIRST), 600)
    assert tables is not None
    # OCR left a gap wider than a cell gap before "(FBS)"; the units column is nearer to it
    line = cells(
        (37, "Fasting Blood Sugar"), (149, "(FBS)"), (226, "mg/dL"), (303, "101"), (380, "H")
    )
    row = read_cells(line, tables[0])
    assert row.parts is not None
    assert row.parts.name == "Fasting Blood Sugar (FBS)"
    assert (row.parts.unit_text, row.parts.value_text, row.parts.flag_text) == ("mg/dL", "101", "H")


def test_a_unit_cell_left_of_its_header_is_not_taken_for_a_name_tail() -> None:
    tables = read_table_header(cells(*UNIT_FIRST), 600)
    assert tables is not None
    # nearer to its column than to the name: a unit, even left of the header
    row = read_cells(cells((37, "Glucose"), (190, "mg/dL"), (303, "101")), tables[0])
    assert row.parts is not None
    assert (row.parts.name, row.parts.unit_text) == ("Glucose", "mg/dL")


def test_a_name_tail_spilled_under_the_next_header_stays_in_the_name() -> None:
    header = cells((40, "Test"), (200, "Result"), (260, "Units"), (320, "Range"))
    tables = read_table_header(header, 600)
    assert tables is not None
    # the name runs on to x 205, under "Result"; the value sits apart, right of it
    line = cells(
        (40, "Thyroid Stimulating Hormone (TSH)"), (225, "2.5"), (262, "uIU/mL"), (320, "0.4-4.0")
    )
    row = read_cells(line, tables[0])
    assert row.parts is not None
    assert row.parts.name == "Thyroid Stimulating Hormone (TSH)"
    assert (row.parts.value_text, row.parts.unit_text) == ("2.5", "uIU/mL")
    # a unit closer than a cell gap to the name is still the unit
    header = cells((40, "Test"), (100, "Units"), (160, "Result"))
    tables = read_table_header(header, 600)
    assert tables is not None
    # "fL" 8 points after the name: closer than a cell gap (9), wider than a word space (5)
    row = read_cells(cells((40, "Mean Volume"), (103, "fL"), (160, "88")), tables[0])
    assert row.parts is not None
    assert (row.parts.name, row.parts.unit_text) == ("Mean Volume", "fL")


SHORT_HEADERS = [(32, "Test"), (150, "Value"), (190, "UOM"), (230, "Ref. Range")]


def test_a_dash_ending_a_wrapped_name_stays_in_the_name() -> None:
    # two_column scan (seed 409): "LDL Cholesterol -" over "Calculated"; OCR set the dash
    # apart from the name (a gap wider than a cell gap), nearer to it than to the value
    tables = read_table_header(cells(*SHORT_HEADERS), 600)
    assert tables is not None
    line = cells((32, "LDL Cholesterol"), (120, "-"), (152, "62"), (190, "mg/dL"), (230, "< 100"))
    row = read_cells(line, tables[0])
    assert row.parts is not None
    assert row.parts.name == "LDL Cholesterol -"
    assert (row.parts.value_text, row.parts.unit_text) == ("62", "mg/dL")


def test_a_minus_sign_set_apart_from_its_value_is_not_taken_into_the_name() -> None:
    tables = read_table_header(cells(*SHORT_HEADERS), 600)
    assert tables is not None
    # the dash lies nearer to the number after it than to the name: a minus sign, never
    # dropped from the value into the name
    line = cells((32, "Base Excess"), (102, "-"), (118, "2.7"), (190, "mmol/L"), (230, "-2 - 3"))
    row = read_cells(line, tables[0])
    assert row.parts is None or (row.parts.name, row.parts.value_text) != ("Base Excess -", "2.7")


def test_a_rule_read_as_dashes_glued_to_a_header_word_is_dropped() -> None:
    # cumulative scan (random seed 18): the rule over the Unit header read with it, so no Unit
    # column was found and none of the report's 11 rows was read
    header = cells(
        (50, "Investigation"),
        (165, "05/11/2026"),
        (235, "06/10/2026"),
        (305, "17/09/2026"),
        (375, "_—_—Unit"),
        (435, "Normal Range"),
    )
    tables = read_table_header(strip_leaders(header), 600)
    assert tables is not None
    assert "unit" in [c.role for c in tables[0].columns]
    assert [w.text for w in strip_leaders(header).words][4] == "Unit"


def test_a_minus_sign_or_a_hyphen_is_not_taken_for_a_rule() -> None:
    line = cells((50, "Base Excess"), (165, "-2.7"), (235, "---5"), (375, "mmol/L"))
    assert [w.text for w in strip_leaders(line).words] == [
        "Base",
        "Excess",
        "-2.7",
        "---5",
        "mmol/L",
    ]


def test_an_arrow_read_as_a_digit_before_a_decimal_value_is_the_flag_not_the_value() -> None:
    # "↓ 4.37" read as "4 4.37": the digit is kept as the flag as read (ocr_repair reads it)
    assert split_value("4 4.37") == ("4.37", "4", "", False)
    assert split_value("1 0.62 mg/dL") == ("0.62", "1", "mg/dL", False)
    # a digit no arrow is read as, or before a whole number, is left alone
    assert split_value("5 4.37") == ("5", "", "4.37", False)
    assert split_value("4 12") == ("4", "", "12", False)


RANGE_FIRST = [(40, "Analyte"), (160, "Reference Range"), (300, "Value"), (360, "UOM")]


def test_a_dash_standing_apart_before_the_value_is_no_minus_sign() -> None:
    tables = read_table_header(cells(*RANGE_FIRST), 600)
    assert tables is not None
    # a speck read as "-" 14 pt before "12.0" (range_first tuning seed 381): the row was lost
    speck = Line(
        sorted(
            [
                *cells((40, "Folic Acid"), (160, "3.0 to 17.0"), (360, "ng/mL")).words,
                Word("-", 288, 100, 288, 110),
                Word("12.0", 302, 100, 322, 110),
            ],
            key=lambda w: w.x0,
        )
    )
    row = read_cells(speck, tables[0])
    assert row.parts is not None
    assert (row.parts.value_text, row.parts.range_text) == ("12.0", "3.0 to 17.0")
    # a minus sign set a word space apart from its number stays with it
    minus = Line(
        sorted(
            [
                *cells((40, "Base excess"), (160, "-2 to 2"), (360, "mmol/L")).words,
                Word("-", 298, 100, 301, 110),
                Word("3.1", 304, 100, 319, 110),
            ],
            key=lambda w: w.x0,
        )
    )
    assert read_cells(minus, tables[0]).parts is None


def test_a_value_split_at_its_point_is_one_value_not_a_flag_and_a_value() -> None:
    # "<0.30" read "<0. 30" (Courier): "<0." was kept as an unreadable flag, 30 as the value
    assert split_value("<0. 30 mg/L") == ("<0.30", "", "mg/L", False)
    assert split_value("1. 25") == ("1.25", "", "", False)
    # an unreadable mark before a value is still kept as the flag read
    assert split_value("[1] 0.53") == ("0.53", "[1]", "", False)


def _word(text: str, x0: float, x1: float, height: float, conf: float) -> Word:
    return Word(text, x0, 200 - height, x1, 200, conf)


def test_leader_grain_read_as_a_tall_short_word_is_dropped() -> None:
    # leaders tuning seeds 487 and 427: leader dots merged with the grain above them read as
    # "2.0..." (11.3 pt tall at confidence 0) before the value and "te", "es" (9.4 pt, 20 and
    # 38) before the range, on a line whose text is 6 pt tall: neither line was read as a row
    line = Line(
        [
            _word("Base", 49, 69, 5.8, 95),
            _word("Excess", 76, 108, 6.0, 90),
            _word("2.0...", 114, 136, 11.3, 0),
            _word("2.1", 258, 272, 6.2, 92),
            _word("mmol/L", 279, 311, 6.5, 80),
            _word("te", 392, 406, 9.4, 20),
            _word("es", 410, 421, 9.4, 38),
            _word("-2.0", 428, 447, 6.2, 88),
            _word("-", 455, 458, 0.7, 88),
            _word("3.0", 466, 480, 6.2, 96),
        ]
    )
    assert strip_leaders(line).text == "Base Excess 2.1 mmol/L -2.0 - 3.0"
    assert parse_line(strip_leaders(line)) is not None


def test_a_tall_word_read_with_confidence_or_a_long_one_is_kept() -> None:
    # a bracketed flag is taller than the text but read surely; a low-confidence long word is
    # a garbled name, not grain
    line = Line(
        [
            _word("Glucose", 49, 90, 6.0, 95),
            _word("[H]", 120, 135, 9.4, 90),
            _word("Fastingg", 150, 190, 9.4, 20),
            _word("130", 258, 272, 6.2, 92),
            _word("mma", 280, 292, 3.0, 28),
            _word("/T.", 295, 302, 9.4, 1),  # a unit's slash in small type, read tall
            _word("8%", 310, 318, 9.4, 15),
            _word("201", 330, 341, 9.6, 33),  # a value read in grain (2.1)
            _word("aa", 350, 355, 11.5, 23),  # a star flag read as letters
        ]
    )
    assert strip_leaders(line).text == "Glucose [H] Fastingg 130 mma /T. 8% 201 aa"
