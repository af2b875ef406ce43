"""Text layer reading: words, their positions in points from the top-left, lines, scans."""

from __future__ import annotations

import io

import pytest

from medflow.analyzers.labs.pdftext import has_text, open_pdf, page_text
from medflow.analyzers.labs.words import Word, group_lines


def _pdf(strings: list[tuple[float, float, str]], size: tuple[float, float] = (612, 792)) -> bytes:
    from reportlab.pdfgen.canvas import Canvas

    buf = io.BytesIO()
    canvas = Canvas(buf, pagesize=size)
    canvas.setFont("Helvetica", 10)
    for x, y_from_top, text in strings:
        canvas.drawString(x, size[1] - y_from_top, text)
    canvas.save()
    return buf.getvalue()


def test_words_come_back_with_top_left_positions() -> None:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    data = _pdf([(72, 100, "Hemoglobin"), (250, 100, "11.2"), (72, 130, "Sodium 140 mmol/L")])
    doc = open_pdf(data, "t.pdf")
    page = page_text(doc[0], 1)
    doc.close()
    assert [ln.text for ln in page.lines] == ["Hemoglobin 11.2", "Sodium 140 mmol/L"]
    hb = page.lines[0].words[0]
    assert hb.x0 == pytest.approx(72, abs=1.0)
    assert hb.x1 == pytest.approx(72 + stringWidth("Hemoglobin", "Helvetica", 10), abs=1.0)
    # The baseline is 100 pt from the top: the word's box straddles it.
    assert hb.top < 100 < hb.bottom
    assert hb.bottom - hb.top == pytest.approx(10 * 1.15, abs=2.5)
    value = page.lines[0].words[1]
    assert value.x0 == pytest.approx(250, abs=1.0)
    assert page.number == 1
    assert (page.width, page.height) == (612, 792)
    assert has_text(page)


def test_image_only_page_has_no_text_layer() -> None:
    from PIL import Image
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen.canvas import Canvas

    buf = io.BytesIO()
    canvas = Canvas(buf)
    canvas.drawImage(ImageReader(Image.new("L", (50, 50), 255)), 0, 0, 100, 100)
    canvas.save()
    doc = open_pdf(buf.getvalue(), "scan.pdf")
    page = page_text(doc[0], 1)
    doc.close()
    assert page.lines == []
    assert not has_text(page)


def test_group_lines_keeps_close_rows_apart_and_orders_words() -> None:
    words = [
        Word("b", 50, 100, 55, 110),
        Word("a", 10, 100.5, 15, 110.5),
        Word("c", 10, 112, 15, 122),
    ]
    lines = group_lines(words)
    assert [ln.text for ln in lines] == ["a b", "c"]
