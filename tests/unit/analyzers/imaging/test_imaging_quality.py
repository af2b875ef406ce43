"""Quality checks: each measure moves the right way, tags are checked, duplicates are found."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageFilter

from medflow.analyzers.imaging.analyzer import ImagingAnalyzer
from medflow.analyzers.imaging.metadata import dicom_metadata
from medflow.analyzers.imaging.quality import assess, laplacian_variance, noise_sigma
from medflow.analyzers.imaging.render import display_frame
from medflow.domain.imaging import QualityStatus


def _checks(ds: Any) -> dict[str, Any]:
    frames = ds.pixel_array[None, ...]
    report = assess(dicom_metadata(ds, "x.dcm"), ds, frames, display_frame(ds, frames[0]))
    return {c.name: c for c in report.checks}


def test_noise_estimate_tracks_added_gaussian_noise() -> None:
    rng = np.random.default_rng(0)
    flat = np.full((256, 256), 128.0)
    for sigma in (2.0, 8.0):
        noisy = np.clip(flat + rng.normal(0, sigma, flat.shape), 0, 255)
        assert noise_sigma(noisy) == pytest.approx(sigma, rel=0.1)


def test_blur_lowers_the_variance_of_the_laplacian() -> None:
    rng = np.random.default_rng(1)
    sharp = (rng.random((128, 128)) > 0.5).astype(np.uint8) * 255
    blurred = np.asarray(Image.fromarray(sharp).filter(ImageFilter.GaussianBlur(3)))
    assert laplacian_variance(blurred) < laplacian_variance(sharp) / 10


def test_clean_ct_passes_the_measures(fx: Any) -> None:
    checks = _checks(fx.ct_image(rows=256, cols=256))
    assert checks["exposure_clipping"].status is QualityStatus.PASS
    assert checks["pixel_spacing"].status is QualityStatus.PASS
    assert checks["orientation"].status is QualityStatus.PASS
    assert checks["image_size"].status is QualityStatus.PASS


def test_saturated_detector_fails_exposure(fx: Any) -> None:
    ds = fx.ct_image(rows=256, cols=256)
    arr = ds.pixel_array.copy()
    arr[:80, :] = 2047  # top of the 12-bit signed stored range
    ds.set_pixel_data(arr, "MONOCHROME2", 12, generate_instance_uid=False)
    ds.PixelRepresentation = 1
    check = _checks(ds)["exposure_clipping"]
    assert check.status is QualityStatus.FAIL
    assert check.value == pytest.approx(80 / 256, abs=0.01)


def test_flat_image_warns_on_contrast_and_histogram(fx: Any) -> None:
    ds = fx.ct_image()
    ds.set_pixel_data(
        np.full((64, 64), 1064, dtype=np.int16), "MONOCHROME2", 12, generate_instance_uid=False
    )
    checks = _checks(ds)
    assert checks["contrast"].status is QualityStatus.WARN
    assert checks["histogram"].status is QualityStatus.WARN
    assert checks["blur"].status is QualityStatus.WARN


def test_missing_spacing_and_orientation_warn(fx: Any) -> None:
    ds = fx.ct_image()
    del ds.PixelSpacing
    ds.ImageOrientationPatient = [1, 0, 0, 1, 0, 0]  # rows and columns parallel: impossible
    checks = _checks(ds)
    assert checks["pixel_spacing"].status is QualityStatus.WARN
    assert checks["orientation"].status is QualityStatus.FAIL


def test_laterality_missing_and_contradictory(fx: Any) -> None:
    ds = fx.ct_image(BodyPartExamined="KNEE")
    assert _checks(ds)["laterality"].status is QualityStatus.WARN
    ds.ImageLaterality, ds.Laterality = "L", "R"
    assert _checks(ds)["laterality"].status is QualityStatus.FAIL
    ds.Laterality = "L"
    ds.SeriesDescription = "KNEE RIGHT AP"
    check = _checks(ds)["laterality"]
    assert check.status is QualityStatus.FAIL
    assert "contradicts the description" in check.message
    ds.SeriesDescription = "KNEE LEFT AP"
    assert _checks(ds)["laterality"].status is QualityStatus.PASS


def test_small_image_warns_on_size(fx: Any) -> None:
    check = _checks(fx.ct_image(rows=64, cols=64))["image_size"]
    assert check.status is QualityStatus.WARN
    assert "outside 256..2048 for CT" in check.message


def test_duplicates_are_found_by_pixels_not_by_file(tmp_path: Path, fx: Any) -> None:
    a = fx.save(fx.ct_image(seed=3), tmp_path / "a.dcm")
    b = fx.save(fx.ct_image(seed=3), tmp_path / "b.dcm")  # other UIDs, same pixels
    c = fx.save(fx.ct_image(seed=4), tmp_path / "c.dcm")
    report = ImagingAnalyzer().analyze_many([(p.name, p) for p in (a, b, c)]).report
    dup = {i.metadata.source: i.duplicate_of for i in report.images}
    assert dup == {"a.dcm": None, "b.dcm": "a.dcm", "c.dcm": None}
    b_checks = {c.name: c for c in report.images[1].quality.checks}
    assert b_checks["duplicate"].status is QualityStatus.FAIL
    assert report.images[1].quality.worst is QualityStatus.FAIL


def test_png_and_jpeg_are_analysed(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    img = Image.fromarray((rng.random((300, 400)) * 255).astype(np.uint8))
    png, jpg = tmp_path / "a.png", tmp_path / "b.jpg"
    img.save(png)
    img.convert("RGB").save(jpg, quality=90)
    analyzer = ImagingAnalyzer()
    for path, kind in ((png, "png"), (jpg, "jpeg")):
        analysis = analyzer.analyze(path, path.name)
        assert analysis.metadata.kind == kind
        assert (analysis.metadata.rows, analysis.metadata.columns) == (300, 400)
        assert analysis.thumbnail_png_b64
