"""Repairs that let a file with one bad attribute still be de-identified.

Real-world headers carry an odd element now and then: a Value Representation the reader does not
know (a corrupted explicit-VR header), a value that cannot be decoded or written back, an image
dimension that is not a number. Refusing the whole file for that would leave its other
identifiers untouched in the sender's hands; instead the bad element is removed (or, for Number
of Frames, replaced by the count the pixel data implies) and every repair is reported by tag
and attribute name, never by value.

DICOM PS3.5 6.2 (Value Representations) and PS3.3 C.7.6.6 (Number of Frames) are the references.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from medflow.analyzers.imaging.read import quiet_pydicom

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

_NUMBER_OF_FRAMES = 0x00280008
_PIXEL_DATA = 0x7FE00010


def _label(tag: int) -> str:
    from pydicom.datadict import dictionary_description

    try:
        name = dictionary_description(tag)
    except KeyError:
        name = "private or unknown attribute"
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X}) {name}"


def _implied_frames(ds: Dataset) -> int | None:
    """Frames the native pixel data holds (None when encapsulated or not computable)."""
    try:
        rows, cols = int(ds.Rows), int(ds.Columns)
        samples = int(ds.get("SamplesPerPixel", 1) or 1)
        bits = int(ds.get("BitsAllocated", 8) or 8)
        raw = ds[_PIXEL_DATA].value if _PIXEL_DATA in ds else None
    except (KeyError, TypeError, ValueError, AttributeError, NotImplementedError):
        return None
    frame_bytes = rows * cols * samples * bits // 8
    if not isinstance(raw, bytes) or frame_bytes <= 0 or ds[_PIXEL_DATA].is_undefined_length:
        return None
    return max(1, len(raw) // frame_bytes)


def repair_unreadable(ds: Dataset, repairs: list[str]) -> None:
    """Remove every element whose value cannot be decoded (unknown VR, bad bytes), at any
    depth, and replace a Number of Frames that is not an integer. Appends one line per repair.
    """
    with quiet_pydicom():
        for tag in list(ds.keys()):
            try:
                elem = ds[tag]
                value = elem.value
            except Exception as exc:  # any decoding failure: the element cannot be kept
                del ds[tag]
                repairs.append(f"{_label(int(tag))}: unreadable ({type(exc).__name__}), removed")
                continue
            if elem.VR == "SQ":
                for item in value or []:
                    repair_unreadable(item, repairs)
            elif int(tag) == _NUMBER_OF_FRAMES and value not in (None, ""):
                _repair_frames(ds, value, repairs)


def _repair_frames(ds: Dataset, value: object, repairs: list[str]) -> None:
    try:
        int(str(value))
        return
    except ValueError:
        pass
    frames = _implied_frames(ds)
    if frames is None:
        del ds[_NUMBER_OF_FRAMES]
        repairs.append(f"{_label(_NUMBER_OF_FRAMES)}: not a number, removed")
    else:
        ds.NumberOfFrames = frames
        repairs.append(
            f"{_label(_NUMBER_OF_FRAMES)}: not a number, replaced by {frames} (from the pixel "
            "data length)"
        )


def _writable(ds: Dataset, tag: int) -> bool:
    from pydicom.dataset import Dataset as PydicomDataset
    from pydicom.filebase import DicomFileLike
    from pydicom.filewriter import write_dataset

    one = PydicomDataset()
    one[tag] = ds[tag]
    try:
        fp = DicomFileLike(io.BytesIO())
        fp.is_little_endian, fp.is_implicit_VR = True, False
        write_dataset(fp, one)
    except Exception:  # any encoding failure: the element cannot be written
        return False
    return True


def drop_unwritable(ds: Dataset, repairs: list[str]) -> None:
    """Remove the top-level elements (nested items checked through their sequence) whose value
    cannot be encoded again, so the rest of the de-identified header can be written."""
    with quiet_pydicom():
        for tag in list(ds.keys()):
            if not _writable(ds, int(tag)):
                del ds[tag]
                repairs.append(f"{_label(int(tag))}: value cannot be written, removed")
