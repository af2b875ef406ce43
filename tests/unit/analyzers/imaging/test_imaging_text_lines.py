"""Text lines found without OCR (issue 15): rows of character-like strokes on a baseline are
found over plain backgrounds and over rib-like anatomy; ribs, diagonal stripes, ellipse edges,
speckle and gradients are not. Generated arrays and a reader that reads nothing, no OCR."""

from __future__ import annotations

import io
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from PIL import Image, ImageDraw, ImageFont
from tests.fixtures.imaging.scripted_reader import ScriptedReader

from medflow.analyzers.imaging.burned_in import Box
from medflow.analyzers.imaging.pixel_clean import Header, load_pixel_rules, plan
from medflow.analyzers.imaging.text_lines import find_lines

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "fixtures" / "imaging"))

import burned_in_set as bs

RULES = load_pixel_rules()
LINES = RULES.lines
assert LINES is not None  # shipped on


def _write(base: np.ndarray, word: str, xy: tuple[int, int], fill: int, size: int) -> Any:
    img = Image.fromarray(base)
    ImageDraw.Draw(img).text(xy, word, fill=fill, font=ImageFont.load_default(size=size))
    arr = np.asarray(img)
    ys, xs = np.nonzero(arr != base)
    return arr, (int(xs.min()), int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1)


def _inside(ink: Box, box: Box, tol: int = 2) -> bool:
    """Whether the ink lies in the box, give or take ``tol`` px (antialiased edges fall below
    the stroke threshold; a blanked box is padded)."""
    return (
        box[0] - tol <= ink[0]
        and box[1] - tol <= ink[1]
        and ink[0] + ink[2] <= box[0] + box[2] + tol
        and ink[1] + ink[3] <= box[1] + box[3] + tol
    )


def _blanked(boxes: list[Box], shape: tuple[int, ...]) -> np.ndarray:
    out = np.zeros(shape[:2], bool)
    for left, top, w, h in boxes:
        out[top : top + h, left : left + w] = True
    return out


def _anatomy(style: str, seed: int, side: int = 500) -> np.ndarray:
    return bs._anatomy(np.random.default_rng(seed), side, side, style)


@pytest.mark.parametrize(
    ("background", "fill", "size"),
    [(40, 200, 14), (40, 90, 22), (210, 60, 30), (120, 160, 18)],
)
def test_a_line_of_text_on_a_plain_background_is_found(
    background: int, fill: int, size: int
) -> None:
    base = np.random.default_rng(0).normal(background, 4, (300, 400)).clip(0, 255)
    arr, ink = _write(base.astype(np.uint8), "HARTWELL 12/03/1961", (30, 120), fill, size)
    lines = find_lines(arr, LINES)
    assert any(_inside(ink, line.box) for line in lines), [line.box for line in lines]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_line_of_text_over_ribs_is_found(seed: int) -> None:
    base = _anatomy("ribs", seed)
    level = int(base[200:230, 40:200].mean())
    arr, ink = _write(base, "NAKAMURA", (40, 200), min(255, level + 90), 24)
    assert any(_inside(ink, line.box) for line in find_lines(arr, LINES))


@pytest.mark.parametrize("style", ["ribs", "chest", "ellipses", "gradient"])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_anatomy_without_text_has_no_lines(style: str, seed: int) -> None:
    # rib-like stripes (curved, so slanted at the sides), bright ellipses over them, speckle
    assert find_lines(_anatomy(style, 100 + seed), LINES) == []


def test_diagonal_stripes_cut_by_a_row_are_not_a_line() -> None:
    # thin stripes at 45 degrees: a row cuts them into parallel slanted pieces of one height,
    # evenly spaced, which is what a line of characters looks like to the grouping alone
    yy, xx = np.mgrid[0:300, 0:300].astype(np.float64)
    stripes = np.sin((xx + yy) / 14 * 2 * np.pi) > 0.6
    noise = np.random.default_rng(4).normal(0, 8, stripes.shape)
    arr = np.clip(70 + 50 * stripes + noise, 0, 255).astype(np.uint8)
    assert find_lines(arr, LINES) == []


def test_a_line_ocr_reads_nothing_of_is_blanked_and_listed() -> None:
    # fails without the detector: the reader reads nothing, so only the line finds the text
    base = _anatomy("chest", 7)
    arr, _ = _write(base, "OKONKWO 408943", (30, 240), 250, 20)
    reader = ScriptedReader([], arr.shape)
    result = plan(arr, None, RULES, reader)  # type: ignore[arg-type]
    lines = [box for box, why in result.boxes if why == "text-line"]
    assert _blanked(lines, arr.shape)[arr != base].all()
    assert all(w * h <= 0.02 * arr.size for _, _, w, h in lines)  # the word cap holds
    assert result.text_found and not result.review
    off = plan(arr, None, replace(RULES, lines=None), reader)  # type: ignore[arg-type]
    assert off.boxes == []


def test_a_long_line_is_blanked_word_by_word_under_the_cap() -> None:
    base = np.full((480, 640), 20, np.uint8)
    arr, _ = _write(base, "LINDQVIST PRIYA 26/05/1996 RIVERSIDE", (10, 200), 230, 26)
    reader = ScriptedReader([], arr.shape)
    result = plan(arr, None, RULES, reader)  # type: ignore[arg-type]
    pieces = [box for box, why in result.boxes if why == "text-line"]
    assert len(pieces) >= 4  # the line is over the 2% cap; its words are not
    assert not result.review
    assert all(w * h <= 0.02 * arr.size for _, _, w, h in pieces)
    assert _blanked(pieces, arr.shape)[arr != base].all()


def test_the_lines_are_not_searched_on_ct() -> None:
    # CT and MR are not screens that burn text in (no text strips): bone edges line up
    arr, _ = _write(np.full((200, 300), 30, np.uint8), "HARTWELL", (20, 80), 220, 24)
    reader = ScriptedReader([], arr.shape)
    header = Header(modality="CT", rows=200, columns=300)
    assert plan(arr, header, RULES, reader).boxes == []  # type: ignore[arg-type]


def _hatch_row() -> np.ndarray:
    """A row of parallel diagonal dashes (a hatched band, stripes cut by a row): every piece
    character-sized, on one baseline, evenly spaced."""
    frame = np.full((200, 400), 40, dtype=np.uint8)
    image = Image.fromarray(frame)
    draw = ImageDraw.Draw(image)
    for i in range(12):
        x = 40 + 22 * i
        draw.line([(x, 116), (x + 16, 100)], fill=220, width=3)
    return np.asarray(image)


def test_a_row_of_parallel_slanted_dashes_is_not_a_text_line() -> None:
    hatch = _hatch_row()
    assert find_lines(hatch, LINES) == []
    # the slant check is what refuses it: without it the row passes as a line of characters
    assert find_lines(hatch, replace(LINES, max_slanted_share=1.0))


def _us_frame(seed: int) -> tuple[np.ndarray, Header]:
    """A generated 480x640 ultrasound frame: anatomy inside one declared region, a black screen
    around it (as ``burned_in_set``'s ultrasound cases)."""
    arr = np.zeros((480, 640), np.uint8)
    x0, y0, x1, y1 = 128, 60, 512, 420
    arr[y0:y1, x0:x1] = bs._anatomy(np.random.default_rng(seed), y1 - y0, x1 - x0, "fan")
    header = Header(modality="US", rows=480, columns=640, regions=((x0, y0, x1 - x0, y1 - y0),))
    return arr, header


@pytest.mark.parametrize(("word", "x", "size"), [("LINDQVIST", 40, 24), ("MARCHETTI", 30, 20)])
def test_a_line_cut_by_the_region_edge_is_blanked_whole_past_the_edge(
    word: str, x: int, size: int
) -> None:
    # a side-panel name runs from the screen into the image area: the regions blank its start,
    # the letters past the edge are too few for a line on the masked frame, and OCR reads nothing
    base, header = _us_frame(5)
    arr, ink = _write(base, word, (x, 200), 230, size)
    assert ink[0] < 128 < ink[0] + ink[2]  # the line crosses the region's left edge
    reader = ScriptedReader([], arr.shape)
    result = plan(arr, header, RULES, reader)  # type: ignore[arg-type]
    cut = [box for box, why in result.boxes if why == "text-line-at-region-edge"]
    assert cut and result.text_found  # (found as bright strokes and as either polarity)
    assert _blanked([b for b, _ in result.boxes], arr.shape)[arr != base].all()
    assert max(left + width for left, _, width, _ in cut) >= ink[0] + ink[2] + 0.5 * size
    # without the rule, letters inside the image area stay
    off = replace(RULES, lines=replace(LINES, region_edge_min_part=1e9))
    kept = plan(arr, header, off, reader)  # type: ignore[arg-type]
    assert not _blanked([b for b, _ in kept.boxes], arr.shape)[arr != base].all()


@pytest.mark.parametrize("seed", [2, 7, 12, 17])
def test_text_free_ultrasound_has_no_line_at_the_region_edge(seed: int) -> None:
    case = bs.free_case(seed)  # seeds 2, 7, 12, ...: ultrasound with a declared region
    assert case.kind == "us_regions"
    grey = bs.display(case.data)
    header = Header.of(pydicom.dcmread(io.BytesIO(case.data)))
    result = plan(grey, header, RULES, ScriptedReader([], grey.shape))  # type: ignore[arg-type]
    assert not [box for box, why in result.boxes if why == "text-line-at-region-edge"]


def test_a_line_inside_the_region_is_not_cut_by_its_edge() -> None:
    base, header = _us_frame(6)
    arr, _ = _write(base, "NAKAMURA", (200, 100), 230, 22)
    result = plan(arr, header, RULES, ScriptedReader([], arr.shape))  # type: ignore[arg-type]
    assert not [box for box, why in result.boxes if why == "text-line-at-region-edge"]
    assert [box for box, why in result.boxes if why == "text-line"]  # found as a line instead


def test_stripe_pieces_cut_by_the_frame_border_are_not_a_line() -> None:
    # tuning seed 858 (png_ribs): curved rib stripes run diagonally into the top row; the
    # border cuts one into a short piece that lined up with its neighbour as a 3-character
    # line, and 1.16% of a text-free image was blanked
    grey = bs.display(bs.free_case(858).data)
    assert find_lines(grey, LINES) == []
    assert find_lines(grey, replace(LINES, skip_frame_edge=False)) != []  # the cause


def test_a_line_of_text_near_the_frame_border_is_still_found() -> None:
    base = np.random.default_rng(1).normal(40, 4, (300, 400)).clip(0, 255).astype(np.uint8)
    for xy in ((2, 2), (2, 270)):
        arr, ink = _write(base, "HARTWELL 12/03/1961", xy, 200, 16)
        lines = find_lines(arr, LINES)
        assert any(_inside(ink, line.box) for line in lines), (xy, ink, lines)
