"""Burned-in text by region first (issue 15): declared ultrasound regions, device signatures,
text strips with a low OCR threshold, text-shaped small boxes elsewhere, honest review flags.

OCR is replaced by a scripted reader here (what Tesseract would return), so the decisions are
tested without Tesseract; ``test_imaging_burned_in_set.py`` runs the real OCR on generated
images."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from PIL import Image, ImageDraw, ImageFont
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from tests.fixtures.imaging.scripted_reader import ScriptedReader

from medflow.analyzers.imaging.burned_in import Box, Word
from medflow.analyzers.imaging.deid import Deidentifier
from medflow.analyzers.imaging.pixel_clean import (
    Header,
    load_pixel_rules,
    outside,
    pixel_rules_from,
    plan,
    text_shape,
)
from medflow.domain.imaging import DeidOptions

SECRET = b"region-test-secret-0123456789abcd"


OCR_ONLY = replace(load_pixel_rules(), lines=None)
"""The rules with the text-line detector off: these tests judge what OCR reads."""
BANNER = (("ZZZ", 12), ("TEST", 70), ("M", 150), ("CLEVELAND", 190))


def _screen(fill: int = 90) -> np.ndarray:
    """A 480x640 ultrasound-like screen: a fan-like image area and a dim banner on top."""
    img = Image.new("L", (640, 480), 0)
    draw = ImageDraw.Draw(img)
    draw.pieslice((120, -200, 520, 440), 60, 120, fill=100)
    for word, x in BANNER:
        draw.text((x, 8), word, fill=fill, font=ImageFont.load_default(size=20))
    return np.asarray(img)


def _banner_words(confidence: float) -> list[Word]:
    font = ImageFont.load_default(size=20)
    words = []
    for word, x in BANNER:
        left, top, right, bottom = font.getbbox(word)
        words.append(Word((x + left, 8 + top, right - left, bottom - top), word, confidence))
    return words


def _us(arr: np.ndarray, regions: list[tuple[int, int, int, int]] | None, **kw: Any) -> bytes:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "fixtures" / "imaging"))
    import imaging_fixtures as fx

    ds = fx.text_image(**kw)
    ds.set_pixel_data(arr, "MONOCHROME2", 8, generate_instance_uid=False)
    ds.BurnedInAnnotation = "NO"  # what the scanner claimed; medflow decides from the pixels
    if regions:
        items = []
        for x0, y0, x1, y1 in regions:
            item = Dataset()
            item.RegionLocationMinX0, item.RegionLocationMinY0 = x0, y0
            item.RegionLocationMaxX1, item.RegionLocationMaxY1 = x1, y1
            items.append(item)
        ds.SequenceOfUltrasoundRegions = Sequence(items)
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def _word_box(arr: np.ndarray, top: int, bottom: int, left: int, right: int) -> Box:
    crop = arr[top:bottom, left:right].astype(int)
    ys, xs = np.nonzero(crop > crop.min() + 40)
    return (left + int(xs.min()), top + int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1)


def test_outside_the_declared_regions_is_covered_exactly() -> None:
    regions = ((100, 50, 200, 300), (250, 100, 50, 50))
    covered = np.zeros((400, 500), int)
    for left, top, width, height in outside(regions, 400, 500):
        covered[top : top + height, left : left + width] += 1
    inside = np.zeros((400, 500), bool)
    for left, top, width, height in regions:
        inside[top : top + height, left : left + width] = True
    assert (covered[~inside] == 1).all()  # every outside pixel once
    assert (covered[inside] == 0).all()  # no image pixel


def test_ultrasound_screen_outside_its_regions_is_blanked_and_listed() -> None:
    arr = _screen()
    data = _us(arr, [(120, 40, 519, 439)])
    deid = Deidentifier(SECRET, DeidOptions(), text_finder=ScriptedReader([]))  # type: ignore[arg-type]
    out_bytes, summary = deid.deidentify_file(data, "us.dcm")
    out = pydicom.dcmread(io.BytesIO(out_bytes))
    pixels = out.pixel_array
    assert pixels[:40].max() == 0  # the banner with the name is gone
    assert (pixels[40:440, 120:520] == arr[40:440, 120:520]).all()  # the image area is intact
    reasons = {r.reason for r in summary.masked_regions}
    assert reasons == {"outside-image-regions"}
    assert out.BurnedInAnnotation == "NO"
    assert summary.burned_in_annotation == "NO" and not summary.needs_review


def test_low_confidence_words_in_the_top_strip_are_blanked() -> None:
    # The case: "ZZZ TEST", "M", "CLEVELAN..." read at confidence 38 (< 45) stayed.
    arr = _screen()
    words = _banner_words(38.0)
    reader = ScriptedReader(words)
    deid = Deidentifier(
        SECRET,
        DeidOptions(),
        text_finder=reader,  # type: ignore[arg-type]
        pixel_rules=OCR_ONLY,
    )
    out_bytes, summary = deid.deidentify_file(_us(arr, None), "us.dcm")
    pixels = pydicom.dcmread(io.BytesIO(out_bytes)).pixel_array
    assert pixels[:40].max() == 0
    assert [r.reason for r in summary.masked_regions] == ["text-strip"] * 4
    assert (pixels[60:] == arr[60:]).all()  # nothing below the banner changed


def test_a_confident_box_over_anatomy_that_is_not_text_is_kept() -> None:
    # The chest film: a 238x141 box over the shoulder was blacked out.
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:700, 0:700]
    film = (60 + 0.2 * yy + 40 * np.sin(xx / 90) + rng.normal(0, 6, (700, 700))).clip(0, 255)
    film = film.astype(np.uint8)
    reader = ScriptedReader(
        [Word((300, 250, 238, 141), "Wi", 60.0), Word((200, 400, 40, 14), "ll", 55.0)]
    )
    result = plan(film, None, load_pixel_rules(), reader)  # type: ignore[arg-type]
    assert result.boxes == []
    assert not result.review or all("larger than the cap" in r for r in result.review)


def test_a_small_word_elsewhere_is_blanked_when_text_shaped() -> None:
    img = Image.new("L", (600, 600), 40)
    ImageDraw.Draw(img).text((30, 280), "OKONKWO", fill=220, font=ImageFont.load_default(size=22))
    arr = np.asarray(img)
    box = _word_box(arr, 250, 330, 0, 300)
    reader = ScriptedReader([Word(box, "OKONKWO", 80.0)], (600, 600))
    result = plan(arr, None, load_pixel_rules(), reader)  # type: ignore[arg-type]
    assert [why for _, why in result.boxes] == ["text-shaped"]
    (left, top, width, height), _ = result.boxes[0]
    assert left <= box[0] and top <= box[1] and width >= box[2] and height >= box[3]


def test_text_shape_accepts_strokes_and_refuses_noise_and_gradients() -> None:
    rules = load_pixel_rules().shape
    img = Image.new("L", (300, 60), 30)
    ImageDraw.Draw(img).text((5, 10), "DOE 1970", fill=230, font=ImageFont.load_default(size=30))
    arr = np.asarray(img)
    assert text_shape(arr, _word_box(arr, 0, 60, 0, 300), rules) is None
    noise = np.random.default_rng(0).normal(120, 30, (60, 300)).clip(0, 255).astype(np.uint8)
    assert text_shape(noise, (10, 10, 200, 30), rules) is not None
    gradient = np.tile(np.linspace(0, 255, 300), (60, 1)).astype(np.uint8)
    assert text_shape(gradient, (10, 10, 200, 30), rules) is not None


def test_a_word_too_large_to_blank_flags_the_file_for_review_not_clean() -> None:
    img = Image.new("L", (400, 400), 30)
    ImageDraw.Draw(img).text((40, 170), "DOE", fill=240, font=ImageFont.load_default(size=60))
    arr = np.asarray(img)
    box = _word_box(arr, 150, 260, 0, 400)
    reader = ScriptedReader([Word(box, "DOE", 90.0)], (400, 400))
    deid = Deidentifier(SECRET, DeidOptions(), text_finder=reader)  # type: ignore[arg-type]
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    _, summary = deid.deidentify_file(buf.getvalue(), "big.png")
    assert summary.needs_review
    assert summary.burned_in_annotation == "YES"
    assert "larger than the cap" in summary.review_reasons[0]
    assert "DOE" not in " ".join(summary.review_reasons)  # positions, never the text
    # a DICOM copy says so in its header
    screen = np.zeros((400, 400), np.uint8)
    screen[:] = arr
    out_bytes, dsummary = deid.deidentify_file(_us(screen, None), "us.dcm")
    assert dsummary.needs_review
    assert pydicom.dcmread(io.BytesIO(out_bytes)).BurnedInAnnotation == "YES"


def test_a_device_signature_blanks_its_rectangles(tmp_path: Path) -> None:
    shipped = (
        Path(__file__).resolve().parents[4] / "src/medflow/analyzers/imaging/data/pixel_rules.yaml"
    ).read_text(encoding="utf-8")
    site = tmp_path / "rules.yaml"
    site.write_text(
        shipped.replace(
            "devices: []",
            "devices:\n  - {modality: US, manufacturer: acme, rows: 480, columns: 640,"
            " blank: [[0, 440, 640, 40]]}",
        ),
        encoding="utf-8",
    )
    rules = pixel_rules_from(site)
    header = Header(modality="US", manufacturer="ACME Imaging", rows=480, columns=640)
    result = plan(_screen(), header, rules, None)
    assert result.boxes == [((0, 440, 640, 40), "device-rule")]
    other = Header(modality="US", manufacturer="Other", rows=480, columns=640)
    assert plan(_screen(), other, rules, None).boxes == []


@pytest.mark.parametrize("mode", ["off"])
def test_burned_in_annotation_is_left_alone_when_pixels_are_not_checked(mode: str) -> None:
    deid = Deidentifier(SECRET, DeidOptions(burned_in_text=mode))  # type: ignore[arg-type]
    out_bytes, summary = deid.deidentify_file(_us(_screen(), None), "us.dcm")
    assert summary.burned_in_annotation is None
    assert pydicom.dcmread(io.BytesIO(out_bytes)).BurnedInAnnotation == "NO"  # as sent
