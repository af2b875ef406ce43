"""Text vs texture by structure (issue 15): characters are blobs inside their line's box;
stripes, rib edges and speckle are not. Synthetic arrays and a scripted reader, no OCR."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from tests.fixtures.imaging.scripted_reader import ScriptedReader

from medflow.analyzers.imaging.burned_in import Box, Word
from medflow.analyzers.imaging.pixel_clean import load_pixel_rules, plan
from medflow.analyzers.imaging.text_structure import (
    blob_table,
    blobs,
    containment,
    looks_like_characters,
    open_close,
    stroke_images,
)

RULES = load_pixel_rules().structure
OCR_ONLY = replace(load_pixel_rules(), lines=None)
"""The rules with the text-line detector off, for the tests that judge what OCR reads."""


def _ink_box(arr: np.ndarray, differs_from: np.ndarray) -> Box:
    ys, xs = np.nonzero(arr != differs_from)
    return (int(xs.min()), int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1)


def _text_on(base: np.ndarray, word: str, xy: tuple[int, int], fill: int, size: int = 22) -> Any:
    img = Image.fromarray(base)
    ImageDraw.Draw(img).text(xy, word, fill=fill, font=ImageFont.load_default(size=size))
    arr = np.asarray(img)
    return arr, _ink_box(arr, base)


def _stripes(height: int = 200, width: int = 300, period: float = 36.0) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    ribs = np.sin((yy + 0.002 * (xx - width / 2) ** 2) / period * 2 * np.pi) > 0.55
    noise = np.random.default_rng(1).normal(0, 6, (height, width))
    return np.clip(60 + 50 * ribs + noise, 0, 255).astype(np.uint8)


def test_blobs_are_eight_connected_components_with_boxes_and_areas() -> None:
    mask = np.zeros((10, 10), bool)
    mask[1:3, 1:3] = True
    mask[3, 3] = True  # touches (2, 2) diagonally
    mask[6:8, 6:9] = True
    assert sorted(blobs(mask)) == [(1, 1, 4, 4, 5), (6, 6, 8, 9, 6)]
    assert blobs(np.zeros((4, 4), bool)) == []


def test_blobs_come_in_the_raster_order_of_their_first_pixel() -> None:
    # the text-line grouping sorts components by their left edge, ties in this order
    mask = np.zeros((6, 8), bool)
    mask[3:5, 0] = True  # first pixel at row 3
    mask[0, 6] = True  # row 0
    mask[1, 2:4] = True  # row 1
    assert blob_table(mask)[:, :2].tolist() == [[0, 6], [1, 2], [3, 0]]


@pytest.mark.parametrize(("shape", "size"), [((60, 90), 5), ((37, 23), 7), ((4, 3), 9)])
def test_the_opening_and_closing_equal_pils_min_and_max_filters(
    shape: tuple[int, int], size: int
) -> None:
    # scipy's separable filters replaced PIL's Min/MaxFilter: the same values to the border
    grey = np.random.default_rng(size).integers(0, 256, shape).astype(np.uint8)
    img = Image.fromarray(grey)
    shrink, grow = ImageFilter.MinFilter(size), ImageFilter.MaxFilter(size)
    opened, closed = open_close(grey, size)
    assert np.array_equal(opened, np.asarray(img.filter(shrink).filter(grow)))
    assert np.array_equal(closed, np.asarray(img.filter(grow).filter(shrink)))


def test_a_word_on_a_plain_background_is_built_like_characters() -> None:
    arr, box = _text_on(np.full((80, 300), 40, np.uint8), "HARTWELL", (10, 20), 200)
    found = containment(arr, box)
    assert found.share > 0.9 and found.blobs >= 6
    assert looks_like_characters(arr, box, RULES, 40.0) is None


def test_dark_text_on_a_bright_background_is_characters_too() -> None:
    arr, box = _text_on(np.full((80, 300), 210, np.uint8), "12/03/1961", (10, 20), 60)
    assert looks_like_characters(arr, box, RULES, 40.0) is None


def test_a_stripe_read_as_a_word_runs_on_past_its_box() -> None:
    # what Tesseract returns on rib-like stripes: a short box on a stripe's edge
    arr = _stripes()
    for box in [(100, 8, 20, 10), (60, 40, 30, 12), (150, 75, 16, 9)]:
        assert containment(arr, box).share < RULES.min_share
        assert (
            looks_like_characters(arr, box, RULES, 40.0) == "texture: its ink runs on past the box"
        )
        # read surely, a stripe's edge still has no blob inside its box at any level
        assert looks_like_characters(arr, box, RULES, 87.0) == (
            "texture: no blob inside the box at any level"
        )


def test_speckle_is_not_characters() -> None:
    noise = np.random.default_rng(0).normal(110, 12, (80, 200)).clip(0, 255).astype(np.uint8)
    assert looks_like_characters(noise, (50, 30, 24, 12), RULES, 40.0) is not None


def test_a_box_lower_than_a_character_is_not_text() -> None:
    arr, _ = _text_on(np.full((80, 300), 40, np.uint8), "OMAR", (10, 20), 200)
    assert looks_like_characters(arr, (10, 30, 40, 3), RULES, 90.0) == "lower than a character"


def test_text_half_over_a_bright_shape_is_characters_at_some_level() -> None:
    # three tones: background, a bright ellipse under half the word, the strokes
    img = Image.new("L", (300, 120), 50)
    ImageDraw.Draw(img).ellipse((120, -60, 400, 200), fill=150)
    base = np.asarray(img)
    arr, box = _text_on(base, "NAKAMURA", (40, 40), 245)
    assert looks_like_characters(arr, box, RULES, 40.0) is None


def test_an_unsure_word_on_stripes_in_a_text_strip_is_not_blanked() -> None:
    arr = _stripes(400, 400)
    reader = ScriptedReader([Word((100, 8, 20, 10), "ae", 38.0)], (400, 400))
    result = plan(arr, None, load_pixel_rules(), reader)  # type: ignore[arg-type]
    assert result.boxes == [] and not result.review


def test_an_unsure_word_that_is_characters_in_a_text_strip_is_blanked() -> None:
    arr, box = _text_on(np.full((400, 400), 30, np.uint8), "ZZTEST", (20, 8), 120)
    reader = ScriptedReader([Word(box, "ZZTEST", 35.0)], (400, 400))
    result = plan(arr, None, load_pixel_rules(), reader)  # type: ignore[arg-type]
    assert [why for _, why in result.boxes] == ["text-strip"]


def test_a_sure_word_needs_only_some_character_blobs(monkeypatch: Any) -> None:
    # read at or above sure_confidence, a word over a rib (whose ink joins the rib at most
    # levels) is blanked when some level shows a blob inside its box
    import medflow.analyzers.imaging.text_structure as ts

    monkeypatch.setattr(ts, "containment", lambda *a: ts.Containment(RULES.sure_min_share, 1))
    arr, box = _text_on(np.full((400, 400), 30, np.uint8), "JANE", (20, 8), 200)
    for confidence, expected in ((RULES.sure_confidence, ["text-strip"]), (59.0, [])):
        reader = ScriptedReader([Word(box, "JANE", confidence)], (400, 400))
        result = plan(arr, None, OCR_ONLY, reader)  # type: ignore[arg-type]
        assert [why for _, why in result.boxes] == expected


def _beside_a_bright_shape() -> tuple[np.ndarray, Box]:
    """Bright text that runs from a black margin onto a large bright image area."""
    img = Image.new("L", (400, 300), 0)
    ImageDraw.Draw(img).rectangle((150, 40, 399, 260), fill=170)
    base = np.asarray(img)
    return _text_on(base, "BRADSHAW", (60, 120), 230)


def test_the_stroke_images_keep_strokes_and_drop_shapes() -> None:
    arr, (left, top, width, height) = _beside_a_bright_shape()
    bright, dark = stroke_images(arr, 7)
    assert bright.dtype == np.uint8 and bright.shape == arr.shape
    # the rectangle and its edges are gone: white away from the text
    away = np.ones(arr.shape, bool)
    away[top - 3 : top + height + 3, left - 3 : left + width + 3] = False
    assert np.percentile(bright[away], 1) > 200 and np.percentile(dark[away], 1) > 200
    # the bright strokes are dark on white in the bright-stroke image, over the shape too
    word = bright[top : top + height, left : left + width]
    assert (word < 100).mean() > 0.05
    assert (word[:, 150 - left :] < 100).mean() > 0.05


def test_a_sure_word_read_only_on_the_strokes_is_blanked() -> None:
    arr, box = _beside_a_bright_shape()

    class StrokesOnly(ScriptedReader):
        def read(self, image: Any, config: str | None = None) -> list[Word]:
            on_strokes = float(np.median(image)) > 240  # a stroke image: white page
            return super().read(image, config) if on_strokes else []

    result = plan(arr, None, OCR_ONLY, StrokesOnly([Word(box, "BRADSHAW", 92.0)], arr.shape))  # type: ignore[arg-type]
    assert [why for _, why in result.boxes] == ["text-shaped"]
    unsure = StrokesOnly([Word(box, "BRADSHAW", 50.0)], arr.shape)
    assert plan(arr, None, OCR_ONLY, unsure).boxes == []  # type: ignore[arg-type]


def test_a_word_read_on_the_strokes_of_anatomy_is_not_blanked() -> None:
    # a chest film's fine texture turns into letters on the stroke image; on the frame as
    # shown the box has no stroke contrast and no character blobs, so it stays
    yy, xx = np.mgrid[0:400, 0:400].astype(np.float64)
    film = 120 + 15 * np.sin(xx / 9) * np.cos(yy / 11)
    film = (film + np.random.default_rng(2).normal(0, 3, film.shape)).clip(0, 255)
    arr = film.astype(np.uint8)

    class StrokesOnly(ScriptedReader):
        def read(self, image: Any, config: str | None = None) -> list[Word]:
            return super().read(image, config) if float(np.median(image)) > 200 else []

    reader = StrokesOnly([Word((200, 200, 30, 20), "att", 90.0)], arr.shape)
    result = plan(arr, None, load_pixel_rules(), reader)  # type: ignore[arg-type]
    assert result.boxes == [] and not result.review


def test_the_strokes_are_read_after_the_first_read_of_the_frame() -> None:
    # what the first read finds is blanked as before; the stroke read adds to it
    arr, box = _beside_a_bright_shape()
    calls: list[str] = []

    class Recording(ScriptedReader):
        def read(self, image: Any, config: str | None = None) -> list[Word]:
            on_strokes = float(np.median(image)) > 240
            calls.append("strokes" if on_strokes else "frame")
            return super().read(image, config) if not on_strokes else []

    reader = Recording([Word(box, "BRADSHAW", 92.0)], arr.shape)
    result = plan(arr, None, load_pixel_rules(), reader)  # type: ignore[arg-type]
    assert [why for _, why in result.boxes] == ["text-shaped"]
    first = calls.index("strokes")
    assert first > 0 and set(calls[:first]) == {"frame"}
    assert calls.count("strokes") == 2  # both polarities, once per frame
