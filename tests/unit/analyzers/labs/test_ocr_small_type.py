"""Small type on scanned pages: read again at a finer resolution (``ocr.SMALL_TYPE_PT``)."""

from __future__ import annotations

import io
import shutil
from typing import Any

import pytest

from medflow.analyzers.labs import ocr
from medflow.analyzers.labs.ocr import TesseractOcr, small_type

pytestmark = pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract missing")

ROWS = [
    ("Hemoglobin", "13.6", "g/dL", "13.0-17.0"),
    ("Platelet Count", "245", "x10^3/uL", "150-400"),
    ("Creatinine", "1.07", "mg/dL", "0.70-1.30"),
    ("Potassium", "4.85", "mmol/L", "3.50-5.10"),
    ("Total Bilirubin", "0.62", "mg/dL", "0.10-1.20"),
    ("Alkaline Phosphatase", "118", "U/L", "44-147"),
]


def _pdf(size: float) -> bytes:
    """A one-page report printed in ``size`` pt type (a text layer; OCR reads its render).
    At 6.5 pt its body words are 4.8 pt tall (small type)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen.canvas import Canvas

    buf = io.BytesIO()
    c = Canvas(buf, pagesize=A4)
    height = A4[1]
    c.setFont("Helvetica", size)
    y = height - 80
    c.drawString(40, y, "Test")
    c.drawString(180, y, "Result")
    c.drawString(250, y, "Units")
    c.drawString(320, y, "Reference Range")
    for name, value, unit, rng in ROWS * 2:
        y -= size * 1.7
        c.drawString(40, y, name)
        c.drawString(180, y, value)
        c.drawString(250, y, unit)
        c.drawString(320, y, rng)
    c.showPage()
    c.save()
    return buf.getvalue()


def _read(size: float, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, list[int]]:
    """(the page as read, the resolutions it was rendered at)."""
    import pypdfium2

    engine = TesseractOcr()
    dpis: list[int] = []
    original = TesseractOcr._read

    def spy(self: TesseractOcr, page: Any, dpi: int) -> Any:
        dpis.append(dpi)
        return original(self, page, dpi)

    monkeypatch.setattr(TesseractOcr, "_read", spy)
    pdf = pypdfium2.PdfDocument(_pdf(size))
    try:
        return engine.read_page(pdf[0], 1), dpis
    finally:
        pdf.close()


def test_body_height_in_points_decides_small_type() -> None:
    def data(px: float) -> dict[str, list[str]]:
        return {"text": ["Hemoglobin", "13.6"] * 3, "conf": ["95"] * 6, "height": [str(px)] * 6}

    # at 300 dpi a pixel is 0.24 pt: 23 px is 5.52 pt, 25 px is 6.0 pt
    assert small_type(data(23), 300)
    assert not small_type(data(25), 300)
    assert not small_type(data(23), 200)  # 8.3 pt at 200 dpi
    assert not small_type({"text": [], "conf": [], "height": []}, 300)  # nothing read


def test_a_page_in_small_type_is_read_again_at_450_dpi(monkeypatch: pytest.MonkeyPatch) -> None:
    page, dpis = _read(6.5, monkeypatch)
    assert dpis == [300, ocr.SMALL_TYPE_DPI]
    text = "\n".join(line.text for line in page.lines)
    for _, value, _, _ in ROWS:
        assert value in text
    # word boxes stay in points: the values' column starts at x 180 pt
    xs = [w.x0 for line in page.lines for w in line.words if w.text == "13.6"]
    assert xs and all(abs(x - 180) < 3 for x in xs)
    # a re-read finds the value in its box on the page image kept (here the 300 dpi one: the
    # finer reading was not surer)
    word = next(w for line in page.lines for w in line.words if w.text == "1.07")
    assert page.reread is not None
    assert "1.07" in page.reread((word.x0, word.top, word.x1, word.bottom), "0123456789.")


def test_a_page_in_usual_type_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    _, dpis = _read(9.0, monkeypatch)
    assert dpis == [300]


def test_a_page_too_large_at_450_dpi_is_not_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ocr, "SMALL_TYPE_MAX_PX", 10_000_000)  # A4 at 450 dpi: 19.6 Mpx
    _, dpis = _read(6.5, monkeypatch)
    assert dpis == [300]


def test_a_reread_on_a_small_type_page_crops_at_the_page_s_own_dpi(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ocr, "SMALL_TYPE_MIN_GAIN", -100.0)  # keep the 450 dpi reading
    page, _ = _read(6.5, monkeypatch)
    seen: list[int] = []
    original = ocr.reread_box

    def spy(engine: TesseractOcr, image: Any, box: Any, allowed: str, *, dpi: int) -> Any:
        seen.append(dpi)
        return original(engine, image, box, allowed, dpi=dpi)

    monkeypatch.setattr(ocr, "reread_box", spy)
    word = next(w for line in page.lines for w in line.words if w.text == "1.07")
    assert page.reread is not None
    page.reread((word.x0, word.top, word.x1, word.bottom), "0123456789.")
    # the box is in points; cropping the 450 dpi image with 300 dpi's scale misses the cell
    assert seen == [ocr.SMALL_TYPE_DPI]
