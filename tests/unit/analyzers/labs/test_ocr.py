"""OCR: Tesseract words mapped back to points; clear errors without Tesseract; real scans."""

from __future__ import annotations

import shutil
from typing import Any

import pytest
from tests.fixtures.labs import labs_testkit as KIT

from medflow.analyzers.labs import ocr
from medflow.analyzers.labs.ocr import TesseractOcr, clean_word, lines_from_data
from medflow.errors import DependencyMissingError


def test_image_to_data_boxes_become_points_grouped_by_tesseract_lines() -> None:
    data = {
        "text": ["", "Sodium", "140", "mmol/L", "Potassium", "5.9"],
        "conf": ["-1", "96", "91", "90", "95", "0"],
        "left": [0, 300, 1000, 1300, 300, 2000],
        "top": [0, 600, 604, 600, 660, 660],
        "width": [0, 250, 120, 230, 330, 60],
        "height": [0, 40, 40, 40, 40, 40],
        "block_num": [1, 1, 1, 1, 1, 1],
        "par_num": [1, 1, 1, 1, 1, 1],
        "line_num": [1, 1, 1, 1, 2, 2],
    }
    lines = lines_from_data(data, dpi=300)
    # Tesseract scores bold values it reads right at 0: they are kept.
    assert [ln.text for ln in lines] == ["Sodium 140 mmol/L", "Potassium 5.9"]
    sodium = lines[0].words[0]
    assert (sodium.x0, sodium.top, sodium.x1, sodium.bottom) == pytest.approx(
        (72.0, 144.0, 132.0, 153.6)
    )


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("46:0", "46.0"),
        ("1:80", "1:80"),
        ("1:05", "1.05"),  # no titre has a zero after its colon
        ("<2:6", "<2.6"),  # a one-sided limit read with a colon
        ("<1:40", "<1:40"),  # a titre limit stays
        ("‘12.1", "12.1"),
        ("08:30:00", "08:30:00"),
        ("mg/dL", "mg/dL"),
        ("x1049/L", "x10^9/L"),
        ("X10412/L", "x10^12/L"),
        ("x1079/L", "x10^9/L"),  # the caret read as a 7, before a cell-count exponent
        ("1073/uL", "10^3/uL"),
        ("10A3/uL", "10^3/uL"),  # the caret read as an A in small type
        ("x10A9/L", "x10^9/L"),
        ("x107/L", "x107/L"),
        ("x1075/L", "x1075/L"),
        ("x10^3/uL", "x10^3/uL"),
        ("ulU/mL", "uIU/mL"),
        ("1U/mL", "IU/mL"),
        ("lonized", "Ionized"),
        ("1049", "1049"),
        ("lipase", "lipase"),
        ("33.L", "33L"),
        ("143.", "143"),
        ("HbAic", "HbA1c"),
    ],
)
def test_clean_word_fixes_only_unambiguous_slips(raw: str, clean: str) -> None:
    assert clean_word(raw) == clean


def test_speckle_share_separates_noisy_from_clean_pages() -> None:
    import numpy as np
    from PIL import Image

    page = np.full((200, 200), 255, dtype=np.uint8)
    page[50:60, 20:180] = 0  # a stroke of text: no isolated pixels
    assert ocr.speckle_share(Image.fromarray(page)) == 0.0
    rng = np.random.default_rng(0)
    ys, xs = rng.integers(0, 200, 200), rng.integers(0, 200, 200)
    page[ys, xs] = 0
    assert ocr.speckle_share(Image.fromarray(page)) > ocr.SPECKLE_SHARE


def test_remove_specks_keeps_decimal_points() -> None:
    import numpy as np
    from PIL import Image

    page = np.full((40, 40), 255, dtype=np.uint8)
    page[10, 10] = 0  # a speck
    page[20:24, 20:24] = 0  # a 300 dpi decimal point
    cleaned = np.asarray(ocr.remove_specks(Image.fromarray(page)))
    assert cleaned[10, 10] == 255
    assert (cleaned[20:24, 20:24] == 0).all()


def test_missing_tesseract_binary_is_a_clear_dependency_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ocr.shutil, "which", lambda _name: None)
    with pytest.raises(DependencyMissingError, match=r"tesseract binary.*medflow\[ocr\]"):
        TesseractOcr()


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract-ocr not installed")
def test_scanned_page_values_are_read() -> None:
    from medflow.analyzers.labs.parser import read_lab_pdf

    pdf, truth = KIT.report("scanned", 3)
    rows, info = read_lab_pdf(pdf, "scan.pdf")
    assert info.ocr_pages == truth["pages"]
    assert info.engine == "pdfium+tesseract"
    assert all(r.ocr for r in rows)
    got = {(r.name, r.value_text.replace(" ", "")) for r in rows}
    want = [(t["name"], t["value_text"]) for t in truth["rows"]]
    hits = sum(1 for pair in want if pair in got)
    assert hits >= 0.9 * len(want)


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract-ocr not installed")
def test_tesseract_reads_a_page_with_one_thread_without_touching_this_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # OMP_THREAD_LIMIT in this process would cap the speech engine's OpenMP threads too (the
    # dictation decode hung after a scanned lab report in the same process).
    from PIL import Image, ImageDraw, ImageFont

    monkeypatch.delenv("OMP_THREAD_LIMIT", raising=False)
    seen: list[dict[str, str]] = []
    real_run = ocr.subprocess.run

    def spy(cmd: list[str], **kwargs: object) -> object:
        seen.append(dict(kwargs["env"]))  # type: ignore[call-overload]
        return real_run(cmd, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(ocr.subprocess, "run", spy)
    image = Image.new("L", (900, 160), 255)
    font = ImageFont.load_default(size=48)
    ImageDraw.Draw(image).text((30, 50), "Sodium 140 mmol/L", fill=0, font=font)
    data = TesseractOcr().image_to_data(image)
    assert [t for t in data["text"] if t.strip()] == ["Sodium", "140", "mmol/L"]
    assert seen and seen[0]["OMP_THREAD_LIMIT"] == "1"
    assert "OMP_THREAD_LIMIT" not in __import__("os").environ


def test_tesseract_tsv_rows_with_an_empty_text_column_are_padded() -> None:
    tsv = (
        "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n"
        "1\t1\t0\t0\t0\t0\t0\t0\t900\t160\t-1\n"
        "5\t1\t1\t1\t1\t1\t30\t50\t160\t40\t96.5\tSodium\n"
    )
    data = ocr.parse_tsv(tsv)
    assert data["text"] == ["", "Sodium"]
    assert data["conf"] == ["-1", "96.5"]


def _page_image(angle: float = 0.0, rules: bool = False, leaders: bool = False) -> Any:
    """A white 300 dpi strip with a few text-like rows (and optional rules/leaders)."""
    from PIL import Image, ImageDraw

    img = Image.new("L", (1800, 700), 255)
    draw = ImageDraw.Draw(img)
    for row in range(6):
        y = 80 + row * 90
        for k in range(8):  # word-like blocks
            draw.rectangle((100 + k * 180, y, 100 + k * 180 + 120, y + 30), fill=0)
        if rules:
            draw.line((60, y + 50, 1700, y + 50), fill=0, width=3)
            draw.line((950, y - 20, 950, y + 60), fill=0, width=3)
        if leaders:
            for x in range(1000, 1400, 12):
                draw.rectangle((x, y + 26, x + 3, y + 29), fill=0)
    return img.rotate(angle, fillcolor=255) if angle else img


def test_skew_is_estimated_and_undone() -> None:
    assert ocr.estimate_skew(_page_image(2.5)) == pytest.approx(-2.5, abs=0.3)
    assert ocr.estimate_skew(_page_image(0.0)) == pytest.approx(0.0, abs=0.3)


def test_table_rules_and_leaders_are_whitened_but_text_blocks_stay() -> None:
    import numpy as np

    plain = np.asarray(_page_image()) < 128
    ruled = np.asarray(ocr.remove_rules(_page_image(rules=True), 300)) < 128
    assert ruled.sum() == pytest.approx(plain.sum(), rel=0.02)
    dotted = np.asarray(ocr.remove_rules(_page_image(leaders=True), 300)) < 128
    assert dotted.sum() == pytest.approx(plain.sum(), rel=0.02)


def test_word_boxes_on_a_skewed_page_are_turned_back_level() -> None:
    import math

    from medflow.analyzers.labs.words import Line, Word

    slope = math.tan(math.radians(2.0))
    lines = [
        Line(
            [
                Word(f"w{k}", x, y + x * slope, x + 30, y + x * slope + 10)
                for k, x in enumerate(range(40, 540, 100))
            ]
        )
        for y in (100.0, 200.0, 300.0, 400.0)
    ]
    level = ocr.deskew_lines(lines)
    for line in level:
        tops = [w.top for w in line.words]
        assert max(tops) - min(tops) < 1.0


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract-ocr not installed")
def test_randomised_scan_is_read_and_nothing_vanishes() -> None:
    from medflow.analyzers.labs.parser import read_lab_document

    pdf, truth = KIT.random_report(4, scanned=True)  # value and unit in one cell, ruled
    doc = read_lab_document(pdf, "scan.pdf")
    got = {(r.name, r.value_text) for r in doc.rows}
    unread = " ".join(u.text for u in doc.unread)
    want = [(t["name"], t["value_text"]) for t in truth["rows"]]
    assert sum(pair in got for pair in want) >= 0.8 * len(want)
    # OCR may misread a value or a name, but each row is read or kept among the unread lines
    read_names = {r.name.lower() for r in doc.rows}
    for name, value in want:
        assert (
            name.lower() in read_names
            or name.lower() in unread.lower()
            or value in unread
            or any(r.value_text == value for r in doc.rows)
        ), (name, value)
