"""A table border read as a leading 1 of the number it touches (``ocr_borders``)."""

from __future__ import annotations

from medflow.analyzers.labs.ocr_borders import drop_border_ones
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
    lines = drop_border_ones(_table(_line(("5.3", 227.0), ("15.0", 442.0), ("|", 499.0))))
    assert [w.text for w in lines[-1].words] == ["5.3", "5.0", "|"]
    assert lines[-1].words[1].x0 > 442.0


def test_a_number_boxed_from_the_border_keeps_its_1_when_its_end_says_so() -> None:
    # Tesseract took the pipe into the box of "13.0" but not into its text: the word ends
    # where a four-character number starting in the cell ends
    row = Line([Word("5.3", 227.0, 100.0, 242.0, 108.0), Word("13.0", 442.0, 100.0, 468.0, 108.0)])
    assert [w.text for w in drop_border_ones(_table(row))[-1].words] == ["5.3", "13.0"]


def test_a_number_starting_right_of_the_border_keeps_its_1() -> None:
    row = _line(("5.3", 227.0), ("|", 442.0), ("15.0", 448.0))
    assert [w.text for w in drop_border_ones(_table(row))[-1].words] == ["5.3", "|", "15.0"]


def test_a_1_is_kept_where_no_column_of_pipes_stands() -> None:
    # two pipes elsewhere are no border of a column
    lines = [
        _line(("|", 442.0), ("0.80", 448.0)),
        _line(("|", 442.0), ("0.90", 448.0)),
        _line(("15.0", 442.0)),
    ]
    assert drop_border_ones(lines)[-1].words[0].text == "15.0"
