"""A scanned line whose value cell was read as letters and marks (``ocr_value_cell``): the
cell is read again from the page image, and the line is read as a row only when the page and
the first reading agree on the number. The first readings are Tesseract's on leaders tuning
scans (7:300-499)."""

from __future__ import annotations

import pytest
from tests.unit.analyzers.labs.test_ocr_reread import Scripted

from medflow.analyzers.labs.ocr_value_cell import digit_reading, reread_value_cell, value_cell
from medflow.analyzers.labs.parser import parse_pages
from medflow.analyzers.labs.words import Line, PageText, Word


def _line(name: str, value: str, rest: str, top: float = 200.0) -> Line:
    """A leaders row with its dots gone: the name, a wide gap, the value, unit and range."""
    words = []
    x = 40.0
    for t in name.split():
        words.append(Word(t, x, top, x + 6 * len(t), top + 6, 95.0))
        x += 6 * len(t) + 4
    words.append(Word(value, 245, top, 245 + 5 * len(value), top + 6, 70.0))
    x = 245 + 5 * len(value) + 6
    for t in rest.split():
        words.append(Word(t, x, top, x + 5 * len(t), top + 6, 95.0))
        x += 5 * len(t) + 40
    return Line(words)


@pytest.mark.parametrize(
    ("read", "digits"),
    [("4B", "48"), ("1S", "15"), ("7O", "70"), ("§.3", "5.3"), ("£1.85", "1.85"), ("R2", None)],
)
def test_look_alikes_are_read_as_the_digits_they_resemble(read: str, digits: str | None) -> None:
    assert digit_reading(read) == digits


def test_a_value_cell_read_as_letters_is_read_again_and_the_line_read_as_a_row() -> None:
    line = _line("LDL Cholesterol (calculated)", "4B", "mg/dL < 100")
    reread = Scripted(["48", "48", "4", "48", "", "48"])
    page = PageText(1, 612, 792, [line], ocr=True, reread=reread)
    (row,) = parse_pages([page]).rows
    assert (row.name, row.value_text, row.unit_text) == (
        "LDL Cholesterol (calculated)",
        "48",
        "mg/dL",
    )
    assert row.range_text == "< 100" and "value_text" in row.changed
    assert any('"4B"' in c and "48" in c for c in row.corrections)
    assert reread.boxes[0][0] == pytest.approx(245.0)


def test_without_the_re_read_the_line_stays_unread() -> None:
    line = _line("LDL Cholesterol (calculated)", "4B", "mg/dL < 100")
    parsed = parse_pages([PageText(1, 612, 792, [line], ocr=True)])
    assert not parsed.rows and len(parsed.unread) == 1


@pytest.mark.parametrize(
    "readings",
    [
        ["438", "438", "438", "48", "", ""],  # the page shows another number
        ["15", "1", "15", "1", "15", "1"],  # the settings disagree
        ["48", "", "", "", "", ""],  # one setting alone
    ],
)
def test_a_re_read_the_first_reading_does_not_corroborate_is_not_taken(
    readings: list[str],
) -> None:
    line = _line("LDL Cholesterol (calculated)", "4B", "mg/dL < 100")
    assert reread_value_cell(line, Scripted(readings)) is None


def test_a_glued_bracketed_flag_is_left_out_of_the_re_read_and_kept() -> None:
    line = _line("ALT (SGPT)", "7O[T]", "U/L 7 to 55")
    reread = Scripted(["70", "70", "10", "70", "0", ""])
    found = reread_value_cell(line, reread)
    assert found is not None
    fixed, value, _, _ = found
    assert value == "70"
    assert [w.text for w in fixed.words][2:4] == ["70", "[T]"]
    assert reread.boxes[0][2] == pytest.approx(245 + 25 * 2 / 5)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Chol /HDL Ratio", "oS"),  # no digit read: nothing to corroborate a re-read
        ("Hemoglobin A1c", "2c"),  # a letter that resembles no digit
    ],
)
def test_a_value_cell_that_vouches_for_no_digits_needs_every_setting_to_agree(
    name: str, value: str
) -> None:
    line = _line(name, value, "mmol/L 3.5 - 5.1")
    assert reread_value_cell(line, Scripted(["4.7", "4.7", "4.7", "4.7", "47", "4.7"])) is None
    found = reread_value_cell(line, Scripted(["4.7"] * 6))
    assert found is not None
    fixed, got, note, page_only = found
    assert (got, page_only) == ("4.7", True) and "all 6 settings" in note
    assert [w.text for w in fixed.words][-5:] == ["4.7", "mmol/L", "3.5", "-", "5.1"]


def test_a_number_is_read_as_it_is() -> None:
    line = _line("Potassium", "3.9", "mmol/L 3.5 - 5.1")
    assert reread_value_cell(line, Scripted(["48"] * 6)) is None


@pytest.mark.parametrize(
    ("rest", "rows"),
    [
        ("< 5.0", 1),  # leaders tuning seed 317: "Chol/HDL Ratio ..... 4.7 ..... < 5.0"
        ("", 0),  # no printed range to check the number against
        ("< 0.3", 0),  # the number lies far beyond the printed range
    ],
)
def test_a_number_the_page_alone_vouches_for_is_kept_beside_a_range_that_allows_it(
    rest: str, rows: int
) -> None:
    line = _line("Chol /HDL Ratio", "oS", rest)
    page = PageText(1, 612, 792, [line], ocr=True, reread=Scripted(["4.7"] * 6))
    parsed = parse_pages([page])
    assert len(parsed.rows) == rows
    if rows:
        assert parsed.rows[0].value_text == "4.7" and parsed.rows[0].range_text == rest


def test_the_name_ends_at_a_wide_gap_not_between_its_words() -> None:
    line = _line("Vitamin B12 level", "2B9", "pg/mL 200 - 900")
    assert value_cell(line) == (3, 3)


def test_a_value_cell_after_a_unit_column_is_read_again() -> None:
    # unit_first tuning scans: "K+  mmol/L  3:7:  3.5 -5.1", "LDL ...  mg/dL  §2  <100"
    line = _line("K+", "mmol/L", "3:7: 3.5 -5.1")
    assert value_cell(line) == (2, 2)
    found = reread_value_cell(line, Scripted(["3.7", "3.7", "37", "3.7", "", "3.7"]))
    assert found is not None
    fixed, value, _, _ = found
    assert value == "3.7"
    assert [w.text for w in fixed.words] == ["K+", "mmol/L", "3.7", "3.5", "-5.1"]
    head = [("Test", 40), ("Units", 245), ("Result", 276), ("Reference", 326), ("Range", 376)]
    header = Line([Word(t, x, 180, x + 5 * len(t), 186, 95.0) for t, x in head])
    line = _line("LDL Cholesterol (calculated)", "mg/dL", "§2 <100")
    reread = Scripted(["52", "52", "52", "5"])
    page = PageText(1, 612, 792, [header, line], ocr=True, reread=reread)
    (row,) = parse_pages([page]).rows
    assert (row.value_text, row.unit_text, row.range_text) == ("52", "mg/dL", "<100")


def test_a_unit_alone_after_the_name_is_no_value_cell() -> None:
    assert value_cell(_line("Potassium", "mmol/L", "")) is None


def test_a_starred_value_read_again_keeps_its_star_as_the_flag() -> None:
    # leaders tuning seed 427: "105*" read as "1O05*" (look-alikes giving other digits), read
    # again as 105 by every setting
    line = _line("LDL Cholesterol (calculated)", "1O05*", "mg/dL <100")
    page = PageText(1, 612, 792, [line], ocr=True, reread=Scripted(["105"] * 6))
    (row,) = parse_pages([page]).rows
    assert (row.value_text, row.flag_text, row.range_text) == ("105", "*", "<100")
