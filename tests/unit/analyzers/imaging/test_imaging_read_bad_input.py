"""Bad input: each gets a clear InputError subclass naming the file, and the input is untouched."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from pydicom.data import get_testdata_file

from medflow.analyzers.imaging.analyzer import ImagingAnalyzer
from medflow.analyzers.imaging.errors import (
    CodecUnavailableError,
    ImageTooLargeError,
    NoPixelDataError,
    NotDicomError,
    TruncatedDicomError,
)
from medflow.analyzers.imaging.read import ReadLimits, declared_pixel_bytes, read_dicom
from medflow.errors import CorruptFileError, EmptyInputError, InputError


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _expect(exc_type: type[InputError], path: Path, **kw: Any) -> InputError:
    before = _digest(path)
    with pytest.raises(exc_type) as info:
        ImagingAnalyzer(**kw).analyze(path, path.name)
    assert info.value.filename == path.name
    assert path.name in str(info.value)
    assert "\n" not in str(info.value)
    assert _digest(path) == before  # nothing lost: the input is never modified
    return info.value


def test_text_file_with_dcm_name_is_not_dicom(tmp_path: Path) -> None:
    path = tmp_path / "scan.dcm"
    path.write_text("Patient: nobody. This is a note, not an image.\n" * 5)
    err = _expect(NotDicomError, path)
    assert "not a DICOM file" in err.reason


def test_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.dcm"
    path.write_bytes(b"")
    _expect(EmptyInputError, path)


def test_dicom_without_pixel_data_is_refused_for_analysis(tmp_path: Path, fx: Any) -> None:
    path = fx.save(fx.no_pixel_data(), tmp_path / "nopix.dcm")
    err = _expect(NoPixelDataError, path)
    assert "no pixel data" in err.reason


def test_syntax_without_any_decoder_is_refused(tmp_path: Path, fx: Any) -> None:
    path = fx.save(fx.mpeg2_video(), tmp_path / "video.dcm")
    err = _expect(CodecUnavailableError, path)
    assert "MPEG2" in err.reason


def test_codec_plugin_missing_names_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from pydicom.pixels.decoders.base import get_decoder
    from pydicom.uid import JPEGBaseline8Bit

    decoder = get_decoder(JPEGBaseline8Bit)
    # Simulate a machine where neither pylibjpeg-libjpeg nor pillow is installed.
    monkeypatch.setattr(type(decoder), "is_available", property(lambda self: False))
    src = Path(get_testdata_file("SC_rgb_jpeg_dcmtk.dcm"))
    path = tmp_path / src.name
    path.write_bytes(src.read_bytes())
    err = _expect(CodecUnavailableError, path)
    assert "JPEG Baseline" in err.reason
    assert "no codec installed" in err.reason


def test_file_cut_inside_pixel_data_is_truncated(tmp_path: Path) -> None:
    data = Path(get_testdata_file("CT_small.dcm")).read_bytes()
    path = tmp_path / "cut.dcm"
    path.write_bytes(data[:-5000])
    err = _expect(TruncatedDicomError, path)
    assert "(7FE0,0010)" in err.reason


def test_file_cut_inside_header_value_is_truncated(tmp_path: Path) -> None:
    data = Path(get_testdata_file("CT_small.dcm")).read_bytes()
    path = tmp_path / "cut_header.dcm"
    path.write_bytes(data[:1003])  # inside Other Patient IDs Sequence, before any pixels
    _expect(TruncatedDicomError, path)


def test_header_declaring_huge_multiframe_is_refused_before_decoding(
    tmp_path: Path, fx: Any
) -> None:
    path = fx.save(fx.declared_huge(frames=10_000), tmp_path / "huge.dcm")
    limits = ReadLimits(max_file_bytes=1 << 20, max_pixel_bytes=64 << 20)
    err = _expect(ImageTooLargeError, path, limits=limits)
    assert "5242880000 bytes" in err.reason  # 10,000 x 512 x 512 x 2 bytes declared
    assert "refused before decoding" in err.reason


def test_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    src = Path(get_testdata_file("CT_small.dcm"))
    path = tmp_path / "big.dcm"
    path.write_bytes(src.read_bytes())
    _expect(ImageTooLargeError, path, limits=ReadLimits(max_file_bytes=1000))


def test_large_file_reads_header_only_first(tmp_path: Path, fx: Any) -> None:
    # A file larger than the pixel limit is judged on its header before its pixels are read.
    path = fx.save(fx.declared_huge(frames=3), tmp_path / "three.dcm")
    ds = read_dicom(path, path.name, ReadLimits(max_pixel_bytes=2 << 20))
    assert declared_pixel_bytes(ds) == 3 * 512 * 512 * 2


def test_corrupt_dimension_is_a_corrupt_file() -> None:
    path = Path(get_testdata_file("badVR.dcm"))
    with pytest.raises(CorruptFileError, match="NumberOfFrames is not a number"):
        read_dicom(path, path.name)


def test_batch_lists_bad_inputs_with_reasons_and_keeps_going(tmp_path: Path, fx: Any) -> None:
    good = fx.save(fx.ct_image(), tmp_path / "good.dcm")
    bad = tmp_path / "bad.dcm"
    bad.write_text("nope")
    result = ImagingAnalyzer().analyze_many([(good.name, good), (bad.name, bad)])
    assert [a.metadata.source for a in result.report.images] == ["good.dcm"]
    assert "not a DICOM file" in result.report.rejected["bad.dcm"]


def test_truncated_png_is_a_corrupt_file(tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    full = tmp_path / "full.png"
    Image.fromarray((np.arange(256 * 256) % 251).reshape(256, 256).astype("uint8")).save(full)
    path = tmp_path / "half.png"
    path.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    err = _expect(CorruptFileError, path)
    assert "cannot be decoded" in err.reason
