"""Printed cell borders Tesseract read into the words beside them (``ocr_borders``)."""

from __future__ import annotations

from medflow.analyzers.labs.ocr_borders import strip_glued_borders
from medflow.analyzers.labs.words import Line, Word


def _line(*cells: tuple[str, float]) -> Line:
    return Line(
        [
            Word(text, x, 100.0, x + (1.0 if text == "|" else 5.0 * len(text)), 108.0)
            for text, x in cells
        ]
    )


def _table(row: Line) -> list[Line]:
    # the Low/High cells of other rows: a pipe at 442, the number from 448
    others = [_line(("|", 442.0), ("0.80", 448.0), ("|", 499.0), ("1.20", 505.0)) for _ in range(3)]
    return [*others, row]


def test_a_number_starting_on_a_border_loses_the_1_the_border_was_read_as() -> None:
    # urine pH 5.0 - 8.0: the Low cell's pipe read with its number as "15.0"
    lines = strip_glued_borders(_table(_line(("5.3", 227.0), ("15.0", 442.0), ("|", 499.0))))
    assert [w.text for w in lines[-1].words] == ["5.3", "|", "5.0", "|"]
    assert lines[-1].words[2].x0 > 442.0


def test_a_number_boxed_from_the_border_keeps_its_1_when_its_end_says_so() -> None:
    # Tesseract took the pipe into the box of "13.0" but not into its text: the word ends
    # where a four-character number starting in the cell ends
    row = Line([Word("5.3", 227.0, 100.0, 242.0, 108.0), Word("13.0", 442.0, 100.0, 468.0, 108.0)])
    assert [w.text for w in strip_glued_borders(_table(row))[-1].words] == ["5.3", "13.0"]


def test_a_number_starting_right_of_the_border_keeps_its_1() -> None:
    row = _line(("5.3", 227.0), ("|", 442.0), ("15.0", 448.0))
    assert [w.text for w in strip_glued_borders(_table(row))[-1].words] == ["5.3", "|", "15.0"]


def test_a_1_is_kept_where_no_column_of_pipes_stands() -> None:
    # two pipes elsewhere are no border of a column
    lines = [
        _line(("|", 442.0), ("0.80", 448.0)),
        _line(("|", 442.0), ("0.90", 448.0)),
        _line(("15.0", 442.0)),
    ]
    assert strip_glued_borders(lines)[-1].words[0].text == "15.0"


def _bordered(value: str, x0: float, x1: float, conf: float = 90.0) -> Line:
    """A row of a piped two-column table: name, value cell (from ``x0``), unit, range."""
    return Line(
        [
            Word("Sodium", 36, 0, 60, 7),
            Word(value, x0, 0, x1, 7, conf),
            Word("|", 164, 0, 165, 7),
            Word("mmol/L", 171, 0, 198, 7),
        ]
    )


def test_a_cell_border_read_into_the_value_beside_it_is_taken_out() -> None:
    plain = [
        Line(
            [
                Word("Na+", 36, 0, 51, 7),
                Word("|", 120, 0, 121, 7),
                Word("141", 127, 0, 140, 7, 94.0),
                Word("|", 164, 0, 165, 7),
                Word("136-145", 222, 0, 251, 7, 95.0),
            ]
        )
        for _ in range(3)
    ]
    rows = [
        _bordered("|=13", 120, 135),  # the border and a smudge glued to 13
        _bordered("251", 120, 135),  # the border read as a 2: 51's width, not 251's
        _bordered("1.14", 120, 142),  # the border's ink in the box, its text dropped
        _bordered("2", 120, 121),  # the border alone read as a digit
        _bordered("97", 127, 136),  # a value after its border, not at it
    ]
    out = strip_glued_borders([*plain, *rows])
    assert [ln.text for ln in out[3:]] == [
        "Sodium | 13 | mmol/L",
        "Sodium | 51 | mmol/L",
        "Sodium 1.14 | mmol/L",
        "Sodium | | mmol/L",
        "Sodium 97 | mmol/L",
    ]
    assert out[4].words[2].x0 > 121
    assert strip_glued_borders(rows) == rows  # no border stands alone often enough


def test_with_too_few_numbers_in_the_cell_the_page_digit_width_decides() -> None:
    # the cells right of the border hold words, not numbers: no cell to measure, so the
    # page's digit width ("141" elsewhere) and the border's gap (6 pt) stand in
    plain = [
        Line(
            [
                Word("141", 60, 0, 73, 7, 94.0),
                Word("|", 120, 0, 121, 7),
                Word("mmol/L", 127, 0, 150, 7),
            ]
        )
        for _ in range(3)
    ]
    glued = Line([Word("Na", 36, 0, 46, 7), Word("251", 120, 0, 135, 7)])  # 51's width
    whole = Line([Word("Na", 36, 0, 46, 7), Word("213", 120, 0, 140, 7)])  # 213's width
    out = strip_glued_borders([*plain, glued, whole])
    assert [ln.text for ln in out[3:]] == ["Na | 51", "Na 213"]
