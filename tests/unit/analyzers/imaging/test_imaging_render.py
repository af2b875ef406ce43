"""Pixels to display: rescale, window, MONOCHROME1, colour spaces, grouping and metadata."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydicom.data import get_testdata_file

from medflow.analyzers.imaging.metadata import dicom_metadata, group_studies
from medflow.analyzers.imaging.read import decode_frames, read_dicom
from medflow.analyzers.imaging.render import display_frame, modality_values, window_linear


def _load(name: str) -> tuple[Any, np.ndarray]:
    path = Path(get_testdata_file(name))
    ds = read_dicom(path, name)
    return ds, decode_frames(ds, name)


def test_rescale_slope_intercept_gives_hounsfield_units(fx: Any) -> None:
    ds = fx.ct_image()
    frame = ds.pixel_array
    hu = modality_values(ds, frame)
    assert hu[32, 32] == pytest.approx(float(frame[32, 32]) - 1024)


def test_linear_window_follows_ps3_3_formula() -> None:
    values = np.array([-200.0, -160.0, 40.0, 239.5, 240.0, 500.0])
    out = window_linear(values, center=40, width=400)
    assert out[0] == 0
    assert out[-1] == 255
    # centre maps to the middle of the output range (C.11.2.1.2.1)
    assert out[2] == pytest.approx(((40 - 39.5) / 399 + 0.5) * 255)


def test_ct_window_from_header_is_used(fx: Any) -> None:
    ds = fx.ct_image()
    img = display_frame(ds, ds.pixel_array)
    assert img.dtype == np.uint8
    # air (-1000 HU) is below the soft-tissue window: black; the disc (~40 HU) is mid-grey
    assert img[0, 0] == 0
    assert 100 < img[32, 32] < 160


def test_monochrome1_is_inverted() -> None:
    ds, frames = _load("RG3_UNCR.dcm")
    assert ds.PhotometricInterpretation == "MONOCHROME1"
    shown = display_frame(ds, frames[0])
    ds.PhotometricInterpretation = "MONOCHROME2"
    as_mono2 = display_frame(ds, frames[0])
    assert np.array_equal(shown.astype(int), 255 - as_mono2.astype(int))


@pytest.mark.parametrize("name", ["SC_rgb.dcm", "SC_ybr_full_uncompressed.dcm"])
def test_colour_images_display_as_rgb(name: str) -> None:
    ds, frames = _load(name)
    img = display_frame(ds, frames[0])
    assert img.shape[-1] == 3
    assert img.dtype == np.uint8
    # the first band of these test images is pure red in both encodings
    assert tuple(img[5, 50]) == pytest.approx((255, 0, 0), abs=2)


def test_palette_colour_goes_through_its_palette() -> None:
    ds, frames = _load("OBXXXX1A.dcm")
    img = display_frame(ds, frames[0])
    assert img.ndim == 3
    assert img.shape[-1] == 3


def test_voi_lut_sequence_is_applied() -> None:
    ds, frames = _load("vlut_04.dcm")
    img = display_frame(ds, frames[0])
    assert img.dtype == np.uint8
    assert img.max() > img.min()


def test_metadata_and_study_grouping(fx: Any) -> None:
    first = fx.ct_image(InstanceNumber=2, SeriesNumber=1)
    second = fx.ct_image(
        StudyInstanceUID=first.StudyInstanceUID,
        SeriesInstanceUID=first.SeriesInstanceUID,
        InstanceNumber=1,
        SeriesNumber=1,
    )
    other = fx.ct_image(StudyInstanceUID=first.StudyInstanceUID, SeriesNumber=2)
    metas = [dicom_metadata(d, f"f{i}.dcm") for i, d in enumerate((first, second, other))]
    assert metas[0].pixel_spacing_mm == (0.7, 0.7)
    assert metas[0].modality == "CT"
    assert metas[0].body_part == "CHEST"
    studies = group_studies(metas)
    assert len(studies) == 1
    assert [s.sources for s in studies[0].series] == [("f1.dcm", "f0.dcm"), ("f2.dcm",)]
