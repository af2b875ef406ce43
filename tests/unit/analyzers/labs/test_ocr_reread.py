"""Re-reading an impossible OCR'd value or range from the page image (``ocr_reread``): what is
re-read, what a re-read may change, and a real crop read again by Tesseract. The readings are
those Tesseract gave on crops of the tuning scans (``benchmarks/labs_accuracy.py``)."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from medflow.analyzers.labs.ocr import TesseractOcr, reread_box, unskew_box
from medflow.analyzers.labs.ocr_reread import (
    bad_range,
    lost_point,
    reread_row,
    same_digits,
    split_unit_cell,
    suspicious_value,
)
from medflow.analyzers.labs.words import Line, Reread, Word
from medflow.domain.labs import RawLabRow


def _row(name: str, value: str, rng: str, unit: str = "") -> tuple[RawLabRow, list[Line]]:
    words = [Word(name, 40, 100, 100, 108), Word(value, 200, 100, 220, 108)]
    words += [Word(t, 300 + 30 * i, 100, 325 + 30 * i, 108) for i, t in enumerate(rng.split())]
    line = Line(words)
    row = RawLabRow(
        name=name, value_text=value, unit_text=unit, range_text=rng, line=line.text, ocr=True
    )
    return row, [line]


class Scripted:
    """A page re-reader that answers from a script and records the boxes asked for."""

    def __init__(self, readings: list[str]) -> None:
        self.readings = readings
        self.boxes: list[tuple[float, float, float, float]] = []

    def __call__(self, box: tuple[float, float, float, float], allowed: str) -> list[str]:
        self.boxes.append(box)
        return self.readings


@pytest.mark.parametrize(
    ("value", "rng", "suspicious"),
    [
        ("133", "1.12-1.32", True),  # 1.33 with its point lost: 100 times out
        ("1222", "M: 13.5-17.5 F: 12.0-15.5", True),
        ("02", "0.0-5.0", True),  # no printer writes a leading zero before a digit
        (".52", "40 - 129", True),
        ("0.2", "0.0-5.0", False),
        ("583", "70 - 99", False),  # high, but not 10 times the upper limit (plausibility's)
        ("0.43", "1.80 - 7.70", False),
        ("Negative", "Negative", False),
        ("47", "", False),  # nothing to judge it by
    ],
)
def test_a_value_is_re_read_only_when_no_printer_would_print_it_beside_its_range(
    value: str, rng: str, suspicious: bool
) -> None:
    assert suspicious_value(value, rng) is suspicious


@pytest.mark.parametrize(
    ("rng", "bad"),
    [
        ("112 to 1.32", True),  # limits out of order
        ("2.7 - 2.2", True),
        ("1.12 - 1.32", False),
        ("<5.0", False),
        ("Negative", False),
        ("", False),
    ],
)
def test_a_range_is_re_read_when_its_limits_are_out_of_order(rng: str, bad: bool) -> None:
    assert bad_range(rng) is bad


@pytest.mark.parametrize(
    ("first", "again", "same"),
    [
        ("133", "1.33", True),
        ("02", "0.2", True),
        ("1222", "12.2", True),  # the point had been read as a 2
        ("1222", "122", False),  # a digit fewer, and no point to show where it went
        ("47", "5", False),  # a new number
        ("47", "1.17", False),
        ("133", "133", False),  # the same reading again
    ],
)
def test_a_re_read_may_only_move_a_point(first: str, again: str, same: bool) -> None:
    assert same_digits(first, again) is same


def test_a_lost_point_read_again_is_taken_and_recorded() -> None:
    row, lines = _row("Ionized Calcium", "133", "1.12-1.32")
    reread = Scripted(["133", "", "135", "1.33", "", "1.33"])
    out = reread_row(row, lines, reread)
    assert out.value_text == "1.33"
    assert any('"133"' in note and "1.33" in note for note in out.corrections)
    assert reread.boxes == [(200, 100, 220, 108)]  # the value's own word


@pytest.mark.parametrize(
    ("value", "rng", "places"),
    [
        ("49", "3.5-5.1", 1),  # potassium 4.9: inside its range with the point
        ("117", "1.12 to 1.32", 2),
        ("25", "< 2.6", 1),
        ("114", "7.5-11.5", 1),  # MPV 11.1 read with a 4 for its 1 and no point
        ("10", "7.5-11.5", 0),  # inside its range as read: no sign of a lost point
        ("4.9", "3.5-5.1", 0),  # read with its point
        ("250", "<5", 0),  # a whole range: the value's precision is not told
        ("9", "1.7-2.2", 0),  # one digit: no place for a point before the last
        ("140", "135 - 145", 0),
        ("15", "> 1.0", 1),  # HDL 1.5: a range with no upper limit holds the value either way
        ("15", "5.0 - 99.0", 0),  # inside a two-sided range: no sign of a lost point
    ],
)
def test_a_lost_point_is_suspected_in_a_whole_number_above_a_range_printed_with_decimals(
    value: str, rng: str, places: int
) -> None:
    assert lost_point(value, rng) == places


def test_a_lost_point_shown_by_the_page_where_the_range_puts_it_is_taken() -> None:
    # "35" for a CK-MB of 3.5 beside 0.0 - 5.0 (read at confidence 24; range_first tuning
    # scan): the one-line setting reads the point at every size, the one-word setting not
    row, lines = _row("CK-MB", "35", "0.0 - 5.0")
    reread = Scripted(["3.5", "35", "3.5", "35", "3.5", "35"])
    out = reread_row(row, lines, reread)
    assert out.value_text == "3.5"
    assert "value_text" in out.changed
    assert any('"35"' in note and "3.5" in note for note in out.corrections)
    assert reread.boxes == [(200, 100, 220, 108)]


@pytest.mark.parametrize(
    "readings",
    [
        ["3.5", "35", "", "35", "", "35"],  # one setting shows a point: not enough
        ["0.35", "0.35", "35", "", "", ""],  # two decimals beside a range printed to one
        ["35", "35", "35", "35", "35", "35"],  # no point on the page: a real 35
    ],
)
def test_a_whole_number_stays_as_read_unless_the_page_shows_the_point(
    readings: list[str],
) -> None:
    row, lines = _row("CK-MB", "35", "0.0 - 5.0")
    assert reread_row(row, lines, Scripted(readings)).value_text == "35"


@pytest.mark.parametrize(
    ("value", "rng"),
    [
        ("35", "0.0 - 5.0"),  # read at low confidence: the low-confidence re-read follows
        ("215", "1.0 - 3.0"),  # impossible beside its range: the impossible-value re-read
    ],
)
def test_a_value_cell_read_again_for_its_point_is_not_read_a_second_time(
    value: str, rng: str
) -> None:
    row, lines = _row("Phosphorus", value, rng)
    row = row.model_copy(update={"value_confidence": 20.0})
    reread = Scripted([value] * 6)  # no point on the page
    assert reread_row(row, lines, reread).value_text == value
    assert reread.boxes == [(200, 100, 220, 108)]


def test_a_point_read_as_a_comma_counts_as_the_point() -> None:
    # "43" for an HbA1c of 4.3 beside 4.0-5.6 (unit_first tuning scan)
    row, lines = _row("Hemoglobin A1c", "43", "4.0-5.6")
    out = reread_row(row, lines, Scripted(["43", "43", "4.3", "43", "4,3", "43"]))
    assert out.value_text == "4.3"


def test_a_point_against_the_printed_flag_is_not_taken() -> None:
    # "49 H" beside 3.5 - 5.1: the printed flag says above, 4.9 is inside
    row, lines = _row("Potassium", "49", "3.5-5.1")
    row = row.model_copy(update={"flag_text": "H"})
    assert reread_row(row, lines, Scripted(["4.9", "4.9", "4.9"])).value_text == "49"


def test_a_far_value_is_never_brought_into_its_range_nor_across_it() -> None:
    # a real CRP of 250 beside "<5" is far out too: a re-read that puts a point in it stays out
    row, lines = _row("CRP", "250", "<5")
    assert reread_row(row, lines, Scripted(["2.50", "2.50", "2.50"])) == row
    row, lines = _row("Hemoglobin", "1222", "13.5-17.5")  # above; 12.2 would be below
    assert reread_row(row, lines, Scripted(["12.2", "12.2", "122"])) == row


def test_a_re_read_that_reads_the_first_reading_as_often_is_not_taken() -> None:
    # (a range printed to one decimal: no second source for a point two digits from the end)
    row, lines = _row("Ionized Calcium", "133", "1.1-1.3")
    assert reread_row(row, lines, Scripted(["133", "133", "1.33", "1.33"])) == row


@pytest.mark.parametrize(
    "readings",
    [
        ["", "47", "", "", "5", "7"],  # no reading agreed on
        ["5", "5", "5", "5", "5", "5"],  # agreed, but a number OCR never read first
        ["4.7", "", "", "", "", ""],  # one vote is not enough
    ],
)
def test_an_unsure_or_new_re_read_leaves_the_value_as_read(readings: list[str]) -> None:
    row, lines = _row("INR", "47", "0.80-1.20")
    assert reread_row(row, lines, Scripted(readings)) == row


def test_a_plausible_value_is_never_re_read() -> None:
    row, lines = _row("Glucose", "583", "70 - 99")
    reread = Scripted(["5.83", "5.83"])
    assert reread_row(row, lines, reread) == row
    assert reread.boxes == []


@pytest.mark.parametrize(
    ("value", "rng", "readings", "again"),
    [
        # the point lost at some sizes only: the readings without it count with it
        ("44", "2.5 - 4.5", ["4.4", "44", "4.4", "44", "4.4", "44"], "4.4"),
        ("39", "3.0 - 17.0", ["3.9", "3.9", "3.9", "3.9", "39", "3.9"], "3.9"),
        ("41", "<5.0", ["41", "41", "4.1", "441", "4.1", "441"], "4.1"),
    ],
)
def test_a_whole_value_beside_a_decimal_range_read_again_with_its_point_is_taken(
    value: str, rng: str, readings: list[str], again: str
) -> None:
    row, lines = _row("Phosphorus", value, rng)
    out = reread_row(row, lines, Scripted(readings))
    assert out.value_text == again
    assert out.changed == ("value_text",)
    assert any(f'"{value}"' in note and again in note for note in out.corrections)


@pytest.mark.parametrize(
    ("value", "rng", "readings"),
    [
        ("125", "2.5 - 14.5", ["12.5", "12.5", "1.25", "1.25"]),  # two placements read
        ("44", "2.50 - 4.50", ["4.4", "4.4", "4.4"]),  # not the range's decimals
        ("44", "2.5 - 4.5", ["4.4", "", "", "", "", ""]),  # one setting only
        ("41", "<5.0", ["4.1", "4.1", "471", "471", "471", "471"]),  # another number more
        ("44", "2.5 - 4.5", ["4.7", "4.7", "4.7"]),  # new digits
    ],
)
def test_a_whole_value_read_again_without_a_clear_point_stays_as_read(
    value: str, rng: str, readings: list[str]
) -> None:
    row, lines = _row("Phosphorus", value, rng)
    assert reread_row(row, lines, Scripted(readings)).value_text == value


def test_a_whole_value_beside_a_range_with_no_upper_limit_is_read_again_for_its_point() -> None:
    # "15" for an HDL cholesterol of 1.5 beside > 1.0 (range_first tuning scan 401): the lost
    # point leaves the value inside a range that has no upper limit
    row, lines = _row("HDL cholesterol", "15", "> 1.0")
    reread = Scripted(["1.5", "15", "1.5", "", "1.5", "15"])
    out = reread_row(row, lines, reread)
    assert out.value_text == "1.5"
    assert reread.boxes == [(200, 100, 220, 108)]


def test_a_whole_value_inside_its_decimal_range_is_not_read_again() -> None:
    row, lines = _row("Albumin", "44", "35.0 - 50.0")
    script = Scripted(["4.4", "4.4", "4.4"])
    assert reread_row(row, lines, script) == row
    assert script.boxes == []


def test_a_range_out_of_order_read_again_is_taken() -> None:
    row, lines = _row("Calcium Ionized", "1.07", "112 to 1.32")
    out = reread_row(row, lines, Scripted(["1.12 to 1.32", "1.12 to 1.32", "112 to 1.32"]))
    assert out.range_text == "1.12 to 1.32"
    assert any('"112 to 1.32"' in note for note in out.corrections)


def test_a_range_per_sex_that_reads_once_its_slips_are_undone_is_not_read_again() -> None:
    # the points read as spaces, the colon after F as a dash; read again, the cell lost its
    # sex letters ("4.50-5904.00-520,": two_column scan)
    row, lines = _row("Red cell count", "3.83", "M: 4 50-5 90 F- 4 00-5 20")
    reread = Scripted(["4.50-5904.00-520,"] * 3)
    assert reread_row(row, lines, reread) == row
    assert reread.boxes == []


def test_a_re_read_range_whose_limits_print_different_decimals_is_not_taken() -> None:
    row, lines = _row("Ionized Calcium", "1.41", "J 1.12 - 1 22")
    assert reread_row(row, lines, Scripted(["1.12-122", "1.12-122", "1.12-122"])) == row


def test_a_re_read_never_moves_a_value_into_its_range() -> None:
    # ".52" is read as 0.52, below 40 - 129: a re-read "52" would clear it, so it stays
    row, lines = _row("Alkaline phosphatase", ".52", "40 - 129")
    assert reread_row(row, lines, Scripted(["52", "52", "52"])) == row
    # "02" beside 0.0 - 5.0 is inside either way: taken
    row, lines = _row("CK-MB", "02", "0.0-5.0")
    assert reread_row(row, lines, Scripted(["0.2", "0.2"])).value_text == "0.2"


def test_a_re_read_range_with_new_digits_may_flag_a_value_never_clear_it() -> None:
    # "2.7 - 2.2" re-read as "1.7 - 2.2": new digits that would put 2.0 inside: not taken
    row, lines = _row("Magnesium", "2.0", "2.7 - 2.2")
    assert reread_row(row, lines, Scripted(["1.7 - 2.2", "1.7 - 2.2", "1.7 - 2.2"])) == row
    # the digits first read, with a dash read as a digit: taken although 10.6 is inside
    row, lines = _row("MPV", "10.6", "7.52115")
    out = reread_row(row, lines, Scripted(["7.5-11.5", "7.5-11.5"]))
    assert out.range_text == "7.5-11.5"


def test_split_low_and_high_cells_are_each_read_again() -> None:
    # "ALT (SGPT) 4 U/L iL 55 *": the Low cell's 7 read as "iL"
    line = Line(
        [
            Word("ALT", 40, 100, 60, 108),
            Word("4", 200, 100, 205, 108),
            Word("iL", 300, 100, 306, 108),
            Word("55", 360, 100, 370, 108),
        ]
    )
    row = RawLabRow(name="ALT", value_text="4", range_text="iL - 55", line=line.text, ocr=True)

    def reread(box: tuple[float, float, float, float], allowed: str) -> list[str]:
        return ["7", "", "7", "", "7", ""] if box[0] == 300 else ["55", "55", "29"]

    out = reread_row(row, [line], reread)
    assert out.range_text == "7 - 55"
    assert any('"iL - 55"' in note for note in out.corrections)


def _split_row(
    value: str, low: tuple[str, float], high: tuple[str, float]
) -> tuple[RawLabRow, list[Line]]:
    """A row read from separate Low and High cells (words with Tesseract's confidence)."""
    line = Line(
        [
            Word("MPV", 40, 100, 60, 108, 96),
            Word("|", 244, 100, 245, 108, 95),
            Word(value, 250, 100, 261, 108, 95),
            Word(low[0], 420, 100, 437, 108, low[1]),
            Word("|", 481, 100, 482, 108, 92),
            Word(high[0], 488, 100, 503, 108, high[1]),
        ]
    )
    rng = f"{low[0]} - {high[0]}"
    row = RawLabRow(name="MPV", value_text=value, range_text=rng, line=line.text, ocr=True)
    return row, [line]


def _by_cell(low: list[str], high: list[str]) -> Reread:
    """A re-reader answering ``low`` for the Low cell (x0 420) and ``high`` for the other."""
    return lambda box, allowed: low if box[0] == 420 else high


@pytest.mark.parametrize(
    ("low", "readings", "rng"),
    [
        # "| 7.5" read as "205" at confidence 21: the value 9.7 lies inside either way
        (("205", 21), ["7.5", "", "7.5", "", "7.5", ""], "7.5 - 11.5"),
        # a Low cell read as letters ("ve" for 7.5): no number, whatever its confidence
        (("ve", 90), ["7.5", "", "", "7.5", "", ""], "7.5 - 11.5"),
        # the point lost at one size ("75"): counted for 7.5
        (("TES", 58), ["7.5", "75,", "7.5", "75,", "7.5", "75,"], "7.5 - 11.5"),
    ],
)
def test_a_doubtful_limit_cell_read_alike_by_every_setting_is_taken(
    low: tuple[str, float], readings: list[str], rng: str
) -> None:
    row, lines = _split_row("9.7", low, ("11.5", 92))
    out = reread_row(row, lines, _by_cell(readings, ["11.5", "1", "11.5", "5", "11.5", "5"]))
    assert out.range_text == rng
    assert "range_text" in out.changed
    assert any(f'"{row.range_text}"' in note for note in out.corrections)


@pytest.mark.parametrize(
    ("low", "readings"),
    [
        (("jzA3", 0), ["13", "13", "13", "3", "113", "113"]),  # the settings disagree
        (("205", 21), ["7.5", "", "", "", "", ""]),  # one reading: too few
        (("7.5", 92), ["2.5", "2.5", "2.5", "2.5", "2.5", "2.5"]),  # a confident limit
        (("7.5", -1), ["2.5", "2.5", "2.5", "2.5", "2.5", "2.5"]),  # confidence unknown
        (("205", 21), ["1.5", "1.5", "1.5", "1.5", "1.5", "1.5"]),  # decimals unlike 11
    ],
)
def test_a_limit_cell_read_again_without_agreement_or_doubt_stays_as_read(
    low: tuple[str, float], readings: list[str]
) -> None:
    row, lines = _split_row("9.7", low, ("11", 92))
    assert reread_row(row, lines, _by_cell(readings, ["11", "11", "11"])) == row


@pytest.mark.parametrize(
    ("readings", "rng"),
    [
        # "0 - i5" for 0 - 15 (split-range tuning seed 435): most settings read 15, the first
        # reading's look-alike (i for 1) says 15 too
        (["55", "", "15", "", "15", ""], "0 - 15"),
        (["55", "", "55", "", "15", ""], "0 - i5"),  # most read 55: the first reading disagrees
        (["15", "", "", "", "", ""], "0 - i5"),  # one reading: too few
    ],
)
def test_a_limit_read_with_look_alikes_takes_the_re_read_that_agrees_with_them(
    readings: list[str], rng: str
) -> None:
    row, lines = _split_row("12", ("0", 95), ("i5", 90))
    out = reread_row(row, lines, _by_cell(["0", "0", "0", "0", "", "0"], readings))
    assert out.range_text == rng


def test_a_low_cell_reading_as_the_value_is_the_word_before_the_high_cell() -> None:
    # "Basophils 0 % 0 Z" for 0 - 2 (split-range tuning seed 495): the Low cell's "0" is also
    # the value; the word right before the High cell is the Low cell
    line = Line(
        [
            Word("Basophils", 40, 100, 80, 108),
            Word("0", 250, 100, 255, 108, 95),
            Word("%", 300, 100, 306, 108, 95),
            Word("0", 420, 100, 425, 108, 95),
            Word("Z", 488, 100, 492, 108, 60),
        ]
    )
    row = RawLabRow(name="Basophils", value_text="0", range_text="0 - Z", line=line.text, ocr=True)
    out = reread_row(row, [line], _by_cell(["0", "0", "0", "", "0", ""], ["2", "", "2", "", "2"]))
    assert out.range_text == "0 - 2"


def test_a_box_turned_back_by_the_page_skew() -> None:
    box = (100.0, 200.0, 120.0, 208.0)
    assert unskew_box(box, 0.0) == box  # no skew: the box as it is
    x0, top, x1, bottom = unskew_box(box, 0.02)  # about 1.1 degrees
    assert (x1 - x0, bottom - top) == pytest.approx((20.0, 8.0))
    assert top == pytest.approx(200 + 110 * 0.02, abs=0.2)


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract-ocr not installed")
def test_a_value_crop_is_read_again_with_digits_only() -> None:
    from PIL import Image, ImageDraw, ImageFont

    page = Image.new("L", (600, 200), 255)
    font = ImageFont.load_default(size=40)  # about 10 pt at 300 dpi
    ImageDraw.Draw(page).text((200, 80), "1.33", fill=0, font=font)
    readings = reread_box(TesseractOcr(), page, (45.0, 17.0, 70.0, 30.0), "0123456789.")
    assert len(readings) == 6
    assert readings.count("1.33") >= 2


def _unsure(value: str, rng: str, conf: float) -> tuple[RawLabRow, list[Line]]:
    row, lines = _row("Calcium", value, rng)
    return row.model_copy(update={"value_confidence": conf}), lines


def test_a_low_confidence_value_read_again_on_the_same_side_is_kept_and_noted() -> None:
    # re-reads drop digits ("37" as "3"): one on the same side of the range replaces nothing
    row, lines = _unsure("9.4", "8.6-10.3", 30)
    again = reread_row(row, lines, Scripted(["9.1", "9.1", "9.1", "9.4", "", "9.1"]))
    assert again.value_text == "9.4"
    assert again.changed == ()
    assert again.held == ""
    assert again.corrections == (
        'value read as "9.4" at OCR confidence 30, read again from the page image as 9.1 '
        "(inside the range as well): kept as first read",
    )


def test_low_confidence_readings_on_two_sides_of_the_range_hold_the_value() -> None:
    # "41" for 11 (all-normal tuning scans): one reading above the range, one inside it
    row, lines = _unsure("41", "4-11", 12)
    again = reread_row(row, lines, Scripted(["11", "11", "11", "41", "11", ""]))
    assert again.value_text == "41"  # neither reading is trusted: the first stays
    assert again.changed == ()
    assert "read as 41 (above the printed range 4-11)" in again.held
    assert "second reading as 11 (inside it)" in again.held
    assert again.corrections == (
        'value read as "41" at OCR confidence 12, read again from the page image as 11',
    )


@pytest.mark.parametrize(
    "readings",
    [
        ["41", "41", "11", "41", "11", ""],  # the first reading as often: not clearly better
        ["11", "", "", "", "", ""],  # one setting only
        ["abc", "abc", "", "", "", ""],  # not a number
    ],
)
def test_an_unclear_re_read_of_a_low_confidence_value_changes_nothing(
    readings: list[str],
) -> None:
    row, lines = _unsure("41", "4-11", 12)
    assert reread_row(row, lines, Scripted(readings)) == row


def test_a_confident_or_unknown_value_is_not_read_again() -> None:
    for conf in (None, 60.0, 93.0):
        row, lines = _row("Calcium", "41", "4-11")
        row = row.model_copy(update={"value_confidence": conf})
        script = Scripted(["11", "11", "11"])
        assert reread_row(row, lines, script) == row
        assert script.boxes == []


def test_a_far_low_confidence_value_read_again_inside_its_range_is_held_not_moved() -> None:
    # "10.238" for an eosinophil count printed beside 0.00 - 0.50, at confidence 51
    row, lines = _unsure("10.238", "0.00 - 0.50", 51)
    again = reread_row(row, lines, Scripted(["0.23", "0.23", "0.23", "", "10.238", ""]))
    assert again.value_text == "10.238"
    assert "second reading as 0.23 (inside it)" in again.held


def test_a_far_low_confidence_value_is_never_replaced_by_a_new_number() -> None:
    # "224" for a magnesium of 2.2 (1.7-2.2) at confidence 0, read again as "4": still high
    row, lines = _unsure("224", "1.7-2.2", 0)
    assert reread_row(row, lines, Scripted(["4", "4", "4", "", "224", ""])) == row


def _flagged(value: str, rng: str, flag: str) -> tuple[RawLabRow, list[Line]]:
    """A row whose flag cell, after the range, was read as ``flag``."""
    row, lines = _row("Monocytes", value, rng)
    words = [*lines[0].words, Word(flag, 420, 100, 432, 108)]
    line = Line(words)
    return row.model_copy(update={"flag_text": flag, "line": line.text}), [line]


@pytest.mark.parametrize(
    ("value", "rng", "first", "readings", "flag"),
    [
        # "| L" (border stroke and letter) read as one word "fae", seed 364 (value_unit)
        ("34", "40 - 129", "fied", ["[L", "", "", "", "|L", ""], "L"),
        # "| *" read as "{ae", seed 404 (value_unit, star flags)
        ("3.0", "0.5 - 2.5", "{ae", ["| *", "*", "| *", "*", "", "*"], "*"),
        # a star read as a dash, told from the dash of the range read on the same line
        ("4.37", "2.00 - 3.60", "-", ["*", "*", "*", "", "", "*"], "*"),
    ],
)
def test_a_flag_cell_read_as_no_flag_is_read_again_and_taken_when_the_value_agrees(
    value: str, rng: str, first: str, readings: list[str], flag: str
) -> None:
    row, lines = _flagged(value, rng, first)
    reread = Scripted(readings)
    out = reread_row(row, lines, reread)
    assert out.flag_text == flag
    assert reread.boxes == [(420, 100, 432, 108)]  # the flag cell's own box
    assert "flag_text" in out.changed  # held from "all normal" like any changed cell
    assert any(f'"{first}"' in c for c in out.corrections)


@pytest.mark.parametrize(
    ("value", "readings"),
    [
        ("1.42", ["L", "", "", "", "L", ""]),  # reads L beside a value above its range
        ("0.05", ["[L", "", "", "", "LL", ""]),  # L and LL as often: no one reading
        ("0.05", ["L", "H", "L", "", "", ""]),  # one reading disagrees with the side
        ("0.05", ["", "|", "", "", "", ""]),  # no flag shown
    ],
)
def test_a_re_read_flag_not_agreeing_with_the_value_leaves_the_flag_as_first_read(
    value: str, readings: list[str]
) -> None:
    row, lines = _flagged(value, "0.20 - 1.00", "Lat")
    out = reread_row(row, lines, Scripted(readings))
    assert out.flag_text == "Lat"  # shown as read, not dropped nor replaced


@pytest.mark.parametrize(
    ("value", "first"),
    [
        ("0.5", "fae"),  # the value inside its range: nothing to corroborate a re-read
        ("0.05", "L"),  # a flag read as one
        ("0.05", "LE"),  # a letter with a smudge: ocr_repair reads it
        ("0.05", "|"),  # a border stroke
    ],
)
def test_a_flag_cell_is_read_again_only_when_it_holds_marks_beside_a_value_out_of_range(
    value: str, first: str
) -> None:
    row, lines = _flagged(value, "0.20 - 1.00", first)
    reread = Scripted(["L", "L", "L", "L", "L", "L"])
    out = reread_row(row, lines, reread)
    assert reread.boxes == []
    assert out.flag_text == first


def _unit_row(unit: str) -> tuple[RawLabRow, list[Line]]:
    """A row whose unit cell, after the value, was read as ``unit`` (one word per space)."""
    words = [Word("Sodium", 40, 100, 100, 108), Word("140", 200, 100, 220, 108)]
    words += [Word(t, 240 + 30 * i, 100, 265 + 30 * i, 108) for i, t in enumerate(unit.split())]
    words += [Word("136-145", 340, 100, 380, 108)]
    line = Line(words)
    row = RawLabRow(
        name="Sodium",
        value_text="140",
        unit_text=unit,
        range_text="136-145",
        line=line.text,
        ocr=True,
    )
    return row, [line]


@pytest.mark.parametrize(
    ("first", "readings", "unit"),
    [
        # 7-8 pt two_column scan (tuning seed 309): the cell enlarged reads the printed unit
        ("mmal/l", ["mmol/L", "mmol", "mmol/L", "mmol", "mmoal/l", "mmol"], "mmol/L"),
        ("mg/dl", ["mg/dL", "mg/dL", "mg/d", "mg/dl", "mg/dL", "mg/dL"], "mg/dL"),
    ],
)
def test_a_unit_read_as_no_printed_spelling_is_read_again_and_taken_when_settings_agree(
    first: str, readings: list[str], unit: str
) -> None:
    row, lines = _unit_row(first)
    reread = Scripted(readings)
    out = reread_row(row, lines, reread)
    assert out.unit_text == unit
    assert reread.boxes == [(240, 100, 265, 108)]  # the unit cell's own box
    assert "unit_text" in out.changed
    assert any(f'"{first}"' in c for c in out.corrections)


@pytest.mark.parametrize(
    ("first", "readings"),
    [
        # read again as first read (seed 309): the page may print it so
        ("mmol/l", ["mmol/l", "mmol", "mmol/l", "mmol", "mmol/l", "mmol"]),
        ("mmol/t", ["mmol/t", "mmol/l.", "mmol/t", "mmol.", "mmol/t", "mmol."]),
        # a spelling far from the first reading: the first reading does not corroborate it
        ("me. fa", ["mg/dL", "mg/dL", "mg/dL", "", "", ""]),
        # no spelling read twice
        ("mmol /T.", ["mmol/L", "cm", "mmnl/.", "mmo", "mmnl/t.", "cma"]),
    ],
)
def test_a_unit_re_read_without_agreement_or_corroboration_leaves_the_unit_as_read(
    first: str, readings: list[str]
) -> None:
    row, lines = _unit_row(first)
    assert reread_row(row, lines, Scripted(readings)).unit_text == first


def test_a_unit_read_as_a_printed_spelling_is_not_read_again() -> None:
    row, lines = _unit_row("mmol/L.")  # a known spelling with a smudge: ocr_repair trims it
    reread = Scripted(["nmol/L"] * 6)
    assert reread_row(row, lines, reread).unit_text == "mmol/L."
    assert reread.boxes == []


@pytest.mark.parametrize(
    ("unit", "rng", "split"),
    [
        # a leaders row's range cell read with a slip, taken into the unit by the row grammar
        ("mg/dL 2.5~4.5", "", ("mg/dL", "2.5~4.5")),
        ("mg/dL R6- 10.3", "", ("mg/dL", "R6- 10.3")),
        ("fL lel.", "", ("fL", "")),  # the dots read as letters, the range lost
        ("mg/dL es", "70 - 99", ("mg/dL", "70 - 99")),  # the dots between unit and range
        ("mg/dL Desirable:", "< 200", None),  # words that are no leader dots stay
        ("mg/dL", "", None),
        ("x10^9/L", "", None),
        ("mmot/{. 2.5", "", None),  # no printed unit first: left to the unit repairs
    ],
)
def test_a_range_read_into_the_unit_cell_is_split_off(
    unit: str, rng: str, split: tuple[str, str] | None
) -> None:
    row = RawLabRow(name="Phosphorus", value_text="3.1", unit_text=unit, range_text=rng, ocr=True)
    found = split_unit_cell(row)
    assert (found[:2] if found else None) == split


def test_a_range_split_off_the_unit_is_read_again_when_it_reads_as_no_range() -> None:
    # a value above the range: a re-read range with a new digit may flag it (seed 497)
    words = [
        Word("Calcium", 40, 100, 80, 108),
        Word("10.9", 200, 100, 215, 108),
        Word("mg/dL", 220, 100, 245, 108),
        Word("R6", 300, 100, 315, 108),
        Word("10.3", 318, 100, 335, 108),
    ]
    row = RawLabRow(
        name="Calcium",
        value_text="10.9",
        unit_text="mg/dL R6 10.3",
        range_text="",
        line="Calcium 10.9 mg/dL R6 10.3",
        ocr=True,
    )
    reread = Scripted(["8.6 - 10.3", "8.6 - 10.3", "8.6-10.3", "", "8.6 - 10.3", "6-10.3"])
    out = reread_row(row, [Line(words)], reread)
    assert (out.unit_text, out.range_text) == ("mg/dL", "8.6 - 10.3")
    assert reread.boxes[0][0] == pytest.approx(300.0)
    assert any("R6 10.3" in c for c in out.corrections)


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract-ocr not installed")
def test_tesseract_failing_on_one_re_read_setting_costs_that_reading_not_the_document() -> None:
    """A re-read is extra evidence for a cell the page read already: Tesseract dying on one
    setting (it was killed by SIGFPE on a held-out scan's box) is an empty reading."""
    from PIL import Image

    from medflow.errors import AnalyzerError

    class Crashing(TesseractOcr):
        calls = 0

        def image_to_data(
            self, image: Any, timeout_s: float = 300.0, config: str | None = None
        ) -> dict[str, list[str]]:
            type(self).calls += 1
            if type(self).calls == 2:
                raise AnalyzerError("tesseract failed: -8")
            return {"text": ["1.33"]}

    page = Image.new("L", (600, 200), 255)
    readings = reread_box(Crashing(), page, (45.0, 17.0, 70.0, 30.0), "0123456789.")
    assert readings == ["1.33", "", "1.33", "1.33", "1.33", "1.33"]
