"""PNG and JPEG as the imaging analyzer reads and rewrites them: metadata-free re-encoding,
names that lie about the format, limits checked from the header, one-image study identity."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from medflow.analyzers.imaging.analyzer import ImagingAnalyzer, image_study_uid
from medflow.analyzers.imaging.errors import ImageTooLargeError, MisnamedImageError
from medflow.analyzers.imaging.raster import (
    PNG_CRITICAL_CHUNKS,
    encode_clean,
    jpeg_markers,
    png_chunks,
    strip_jpeg_segments,
)
from medflow.analyzers.imaging.read import ReadLimits, check_name, read_raster
from medflow.analyzers.imaging.sr import read_findings_sr
from medflow.errors import CorruptFileError, UnsupportedFileError

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "fixtures" / "imaging"))
import raster_fixtures as rf

_APP_OR_COM = {*range(0xE0, 0xF0), 0xFE}


def test_stripping_a_jpeg_drops_every_app_and_comment_segment_and_keeps_the_pixels() -> None:
    original = rf.JPEG_FIXTURE.read_bytes()
    assert _APP_OR_COM & set(jpeg_markers(original)) == {0xE0, 0xE1, 0xED, 0xFE}
    stripped = strip_jpeg_segments(original)
    assert not _APP_OR_COM & set(jpeg_markers(stripped))
    assert {0xDB, 0xC0, 0xC4, 0xDA} <= set(jpeg_markers(stripped))  # tables, frame, scan
    for needle in rf.IDENTIFYING:
        assert needle not in stripped
    same = np.asarray(Image.open(io.BytesIO(original)))
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(stripped))), same)


def test_stripping_refuses_what_is_not_a_whole_jpeg() -> None:
    with pytest.raises(ValueError, match="not a JPEG"):
        strip_jpeg_segments(rf.PNG_FIXTURE.read_bytes())
    data = rf.JPEG_FIXTURE.read_bytes()
    with pytest.raises(ValueError, match="runs past the end"):
        strip_jpeg_segments(data[:30])  # inside the first APP1 segment


@pytest.mark.parametrize("kind", ["png", "jpeg"])
def test_clean_encoding_writes_no_metadata(kind: str) -> None:
    for pixels in (rf.phantom(64), np.dstack([rf.phantom(64)] * 3)):
        data = encode_clean(pixels, kind)
        if kind == "png":
            assert set(png_chunks(data)) <= PNG_CRITICAL_CHUNKS
        else:
            assert not _APP_OR_COM & set(jpeg_markers(data))
        img = Image.open(io.BytesIO(data))
        assert img.size == (64, 64) and img.mode == ("L" if pixels.ndim == 2 else "RGB")


def test_sixteen_bit_png_stays_sixteen_bit_and_lossless() -> None:
    pixels = (np.arange(64 * 64, dtype=np.uint16) * 13).reshape(64, 64)
    data = encode_clean(pixels, "png")
    assert np.array_equal(read_raster(data, "x.png")[0], pixels)


def test_a_palette_png_keeps_its_colours_and_a_grey_palette_stays_grey() -> None:
    colour = np.zeros((32, 32, 3), dtype=np.uint8)
    colour[:, :16] = (200, 30, 30)
    buf = io.BytesIO()
    Image.fromarray(colour).convert("P", palette=Image.Palette.ADAPTIVE).save(buf, format="PNG")
    read = read_raster(buf.getvalue(), "p.png")[0]
    assert read.shape == (32, 32, 3) and tuple(read[0, 0]) == (200, 30, 30)
    buf = io.BytesIO()
    Image.fromarray(rf.phantom(32)).convert("P").save(buf, format="PNG")
    assert read_raster(buf.getvalue(), "g.png")[0].shape == (32, 32)


@pytest.mark.parametrize("kind", ["png", "jpeg"])
def test_exif_orientation_is_applied_before_the_tag_is_dropped(kind: str) -> None:
    from medflow.analyzers.imaging.deid import Deidentifier
    from medflow.domain.imaging import DeidOptions

    pixels = np.zeros((40, 80), dtype=np.uint8)
    pixels[:, :20] = 255  # a bright band on the stored image's left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format=kind.upper(), exif=exif)
    upright = read_raster(buf.getvalue(), "r." + kind)[0]
    assert upright.shape == (80, 40)
    assert upright[:20].mean() > 200 and upright[-20:].mean() < 50  # the band is now on top
    deid = Deidentifier(b"orientation-secret-0123456789ab", DeidOptions(burned_in_text="off"))
    copy, _ = deid.deidentify_raster(buf.getvalue(), "r." + kind)
    shown = Image.open(io.BytesIO(copy))
    assert shown.size == (40, 80) and not shown.getexif()


@pytest.mark.parametrize(
    ("data", "name", "kind"),
    [
        (rf.PNG_FIXTURE.read_bytes(), "a.PNG", "png"),
        (rf.JPEG_FIXTURE.read_bytes(), "a.jpeg", "jpeg"),
        (rf.JPEG_FIXTURE.read_bytes(), "a.JFIF", "jpeg"),
        (b"\x00" * 128 + b"DICM", "1.2.826.0.1.3680043.8.498.1", "dicom"),  # named by its UID
        (b"\x00" * 128 + b"DICM", "image", "dicom"),
        (rf.PNG_FIXTURE.read_bytes(), "no_extension", "png"),
    ],
)
def test_names_that_claim_nothing_or_the_right_format_pass(
    data: bytes, name: str, kind: str
) -> None:
    assert check_name(data, name) == kind


@pytest.mark.parametrize(
    ("data", "name", "reason"),
    [
        (rf.JPEG_FIXTURE.read_bytes(), "scan.png", "named .png but the bytes are a JPEG image"),
        (rf.PNG_FIXTURE.read_bytes(), "scan.jpg", "named .jpg but the bytes are a PNG image"),
        (rf.PNG_FIXTURE.read_bytes(), "ct.dcm", "named .dcm but the bytes are a PNG image"),
        (b"\x00" * 128 + b"DICM", "scan.jpeg", "named .jpeg but the bytes are not a JPEG image"),
    ],
)
def test_a_name_that_lies_about_the_format_is_refused(data: bytes, name: str, reason: str) -> None:
    with pytest.raises(MisnamedImageError) as info:
        check_name(data, name)
    assert info.value.filename == name
    assert reason in info.value.reason


def test_the_pixel_limit_is_checked_from_the_header_before_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_decoding(self: ImageFile.ImageFile) -> None:
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    data = rf.PNG_FIXTURE.read_bytes()  # 256 x 256 grey: 65536 bytes
    with pytest.raises(ImageTooLargeError, match=r"256x256 pixels.*refused before decoding"):
        read_raster(data, "a.png", ReadLimits(max_pixel_bytes=65535))


def test_a_decompression_bomb_is_too_large_not_corrupt() -> None:
    with pytest.raises(ImageTooLargeError, match="decompression bomb") as info:
        read_raster(rf.huge_png(100_000, 100_000), "bomb.png")
    assert info.value.filename == "bomb.png"


def test_a_truncated_png_says_so() -> None:
    with pytest.raises(CorruptFileError, match="truncated"):
        read_raster(rf.truncated_png(), "cut.png")


def test_one_image_study_uids_are_valid_stable_and_distinct() -> None:
    a = image_study_uid("a" * 64)
    assert a == image_study_uid("a" * 64)
    assert a != image_study_uid("b" * 64)
    assert re.fullmatch(r"2\.25\.(0|[1-9][0-9]*)", a) and len(a) <= 64  # PS3.5 9.1 and B.2


def test_a_one_image_study_report_and_sr_carry_the_given_study_uid() -> None:
    study = image_study_uid("c" * 64)
    batch = ImagingAnalyzer().analyze_image_study(rf.PNG_FIXTURE.read_bytes(), "a.png", study)
    [image] = batch.report.images
    assert image.metadata.study_instance_uid == study
    assert [s.study_instance_uid for s in batch.report.studies] == [study]
    assert {c.name for c in image.quality.checks} >= {"duplicate"}
    sr = batch.findings_sr(study)
    assert sr.StudyInstanceUID == study
    assert read_findings_sr(sr) == []  # no model installed: no findings, and no source UID
    with pytest.raises(UnsupportedFileError, match="not a PNG or JPEG"):
        ImagingAnalyzer().analyze_image_study(b"\x00" * 200, "x.dcm", study)
