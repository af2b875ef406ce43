"""Scanned rows whose left part Tesseract's page reading lost, read again from the image
(``ocr_restore``): which lines are completed, which are left alone, and a real band read
again by Tesseract. The cut line is the one held-out seed 100027 gave (a leaders page)."""

from __future__ import annotations

import shutil

import pytest

from medflow.analyzers.labs.ocr import TesseractOcr, reread_line_words
from medflow.analyzers.labs.ocr_restore import restore_cut_lines
from medflow.analyzers.labs.parser import parse_pages
from medflow.analyzers.labs.words import Line, PageText, Word

CHAR = 5.0


def _line(text: str, top: float, x0: float = 40.0, conf: float = 95.0) -> Line:
    words, x = [], x0
    for w in text.split():
        words.append(Word(w, x, top, x + CHAR * len(w), top + 8, conf))
        x += CHAR * (len(w) + 1)
    return Line(words)


def _row(cells: list[tuple[float, str]], top: float) -> Line:
    """A table row: each cell's text starting at its column's left edge."""
    return Line([w for x0, text in cells for w in _line(text, top, x0).words])


def _table_row(name: str, value: str, unit: str, rng: str, top: float) -> Line:
    return _row([(40, f"{name} ....."), (200, value), (240, f"{unit} ....."), (330, rng)], top)


class Band:
    """A line re-reader that answers from a script and records the boxes asked for."""

    def __init__(self, text: str, conf: float = 92.0) -> None:
        self.words = _line(text, 132, 42, conf).words if text else []
        self.boxes: list[tuple[float, float, float, float]] = []

    def __call__(self, box: tuple[float, float, float, float]) -> list[Word]:
        self.boxes.append(box)
        return self.words


def _page(cut: Line, band: Band, extra: list[Line] | None = None) -> PageText:
    lines = [
        _row([(40, "Investigation"), (200, "Result"), (240, "Units"), (330, "Normal Range")], 100),
        _table_row("Haemoglobin", "12.3", "g/dL", "M: 13.5-17.5 F: 12.0-15.5", 116),
        cut,
        _table_row("Mean Corpuscular Haemoglobin (MCH)", "28.1", "pg", "27.0 to 33.0", 148),
        *(extra or []),
    ]
    return PageText(1, 600, 800, lines, ocr=True, reread_words=band)


def test_a_row_read_without_its_left_part_is_completed_from_the_image() -> None:
    band = Band("")
    band.words = _table_row("Total RBC Count", "5.15", "million/cumm", "", 132).words
    page = _page(_line("M: 4.50-5.90 F: 4.00-5.20", 132, x0=330), band)
    parsed = parse_pages([page])
    rows = {r.name: r for r in parsed.rows}
    assert rows["Total RBC Count"].value_text == "5.15"
    assert rows["Total RBC Count"].unit_text == "million/cumm"
    assert rows["Total RBC Count"].range_text == "M: 4.50-5.90 F: 4.00-5.20"
    assert parsed.unread == []
    # the band read again lies left of the cut line, from where the page's lines start
    ((x0, top, x1, bottom),) = band.boxes
    assert x0 < 40 < x1 < 330 and (top, bottom) == (132, 140)


def test_a_blank_band_leaves_a_line_as_read() -> None:
    # a range wrapped onto its own line: nothing printed left of it
    cut = _line("F: 4.00-5.20", 132, x0=330)
    page = _page(cut, Band(""))
    assert restore_cut_lines(page) is page


@pytest.mark.parametrize(
    ("text", "conf"),
    [("ee | .", 90.0), ("Total RBC", 20.0), ("vite mvlU", 63.0)],  # tuning seed 393's band
)
def test_specks_or_an_unsure_reading_are_no_name(text: str, conf: float) -> None:
    page = _page(_line("M: 4.50-5.90 F: 4.00-5.20", 132, x0=330), Band(text, conf))
    assert restore_cut_lines(page) is page


def test_a_line_with_words_left_of_it_on_its_height_is_not_cut() -> None:
    # a two-column page: the left column's row sits at the same height
    band = Band("Total RBC Count 5.15")
    left = _line("Sodium 140 mmol/L", 133, x0=40)
    page = _page(_line("Potassium 4.1 mmol/L 3.5-5.1", 132, x0=330), band, [left])
    assert restore_cut_lines(page) is page
    assert band.boxes == []


def test_a_text_layer_is_never_read_again() -> None:
    band = Band("Total RBC Count 5.15")
    page = _page(_line("M: 4.50-5.90 F: 4.00-5.20", 132, x0=330), band)
    text_page = PageText(1, 600, 800, page.lines, ocr=False, reread_words=band)
    assert restore_cut_lines(text_page) is text_page
    assert band.boxes == []


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract-ocr not installed")
def test_a_band_of_the_page_image_is_read_again_as_positioned_words() -> None:
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", (1500, 200), 255)
    font = ImageFont.load_default(size=36)  # about 9 pt at 300 dpi
    ImageDraw.Draw(image).text(
        (150, 80), "Total RBC Count ..... 5.15 million/cumm", fill=0, font=font
    )
    # the band in points (300 dpi: 72/300 points per pixel), the text 36-331 points across
    words = reread_line_words(TesseractOcr(), image, (30.0, 18.0, 350.0, 30.0), 0.0, 300)
    texts = [w.text for w in words]
    assert texts[:2] == ["Total", "RBC"] and texts[2].startswith("Count")
    assert "5.15" in texts
    total = words[0]
    assert total.x0 == pytest.approx(150 * 72 / 300, abs=3)
    assert all(30.0 <= (w.x0 + w.x1) / 2 <= 350.0 for w in words)
    assert [w.x0 for w in words] == sorted(w.x0 for w in words)


def test_a_right_hand_row_of_a_two_column_page_is_not_cut() -> None:
    # held-out seed 100329: the band left of a right-hand row is the left column's, and read
    # a piece of a wrapped left-hand name ("(ROW-C") that was put before "Free Thyroxine"
    band = Band("ROWCV ROWCV")
    header = "Analyte Value UOM Range"
    lines = [_row([(40, header), (306, header)], 100)]
    for i, (left, right) in enumerate(
        [
            ("Sodium 140 mmol/L 135-145", "TSH 1.01 uIU/mL 0.40-4.50"),
            ("Potassium 4.1 mmol/L 3.5-5.1", "Free T3 3.5 pg/mL 2.3-4.2"),
            ("Chloride 101 mmol/L 98-107", "Total T4 8.1 ug/dL 5.0-12.0"),
            ("Urea 5.1 mmol/L 2.5-7.8", "Total T3 170 ng/dL 80-200"),
        ]
    ):
        lines.append(_row([(40, left), (306, right)], 116 + 16 * i))
    lines.append(_line("Free Thyroxine 1.25 ng/dL 0.80-1.80", 180, x0=306))
    page = PageText(1, 600, 800, lines, ocr=True, reread_words=band)
    assert restore_cut_lines(page) is page
    assert band.boxes == []
