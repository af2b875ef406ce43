"""Reading DICOM and PNG/JPEG inputs safely: size limits first, clear errors, nothing decoded early.

The order matters for the "2 GB multi-frame file" case: the header is parsed without the pixel
data, the size the header *declares* (Rows x Columns x Samples x Frames x Bits Allocated / 8,
DICOM PS3.3 C.7.6.3) is compared with the limit, and only then is the pixel data read or decoded.
"""

from __future__ import annotations

import io
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from medflow.analyzers.imaging.errors import (
    CodecUnavailableError,
    ImageTooLargeError,
    MisnamedImageError,
    NoPixelDataError,
    NotDicomError,
    TruncatedDicomError,
)
from medflow.errors import CorruptFileError, EmptyInputError, InputError

if TYPE_CHECKING:
    from numpy.typing import NDArray
    from pydicom.dataset import Dataset

Source = bytes | Path
"""An input: the file's bytes, or its path (read lazily so a huge file is refused unread)."""

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
_IMAGE_PIXEL_TAGS = (0x00280010, 0x00280011)  # Rows, Columns (PS3.3 C.7.6.3)
_PIXEL_DATA_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)  # Pixel / Float / Double Float


@dataclass(frozen=True)
class ReadLimits:
    """Limits applied before anything large is read.

    Attributes:
        max_file_bytes: the largest file accepted at all.
        max_pixel_bytes: the largest uncompressed pixel data a header may declare (all frames).
    """

    max_file_bytes: int = 1 << 30
    max_pixel_bytes: int = 512 << 20


@contextmanager
def quiet_pydicom() -> Iterator[None]:
    """Silence pydicom's warnings about odd values in real-world files; results are judged instead.

    Without this, one malformed date in a header would abort a run where warnings are errors.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def source_size(src: Source) -> int:
    """The input's size in bytes, without reading it."""
    return len(src) if isinstance(src, bytes) else src.stat().st_size


def _head(src: Source, n: int = 132) -> bytes:
    if isinstance(src, bytes):
        return src[:n]
    with src.open("rb") as fh:
        return fh.read(n)


def sniff_kind(src: Source) -> str:
    """``"png"``, ``"jpeg"`` or ``"dicom"`` (the default: DICOM has no mandatory magic)."""
    head = _head(src, 16)
    if head.startswith(PNG_MAGIC):
        return "png"
    if head.startswith(JPEG_MAGIC):
        return "jpeg"
    return "dicom"


def _open(src: Source) -> BinaryIO:
    return io.BytesIO(src) if isinstance(src, bytes) else src.open("rb")


def declared_pixel_bytes(ds: Dataset, name: str = "") -> int:
    """Uncompressed pixel bytes the header declares, all frames included (0 if no image).

    Raises:
        CorruptFileError: a dimension is not a number.
    """
    rows = _header_int(ds, "Rows", 0, name)
    cols = _header_int(ds, "Columns", 0, name)
    samples = _header_int(ds, "SamplesPerPixel", 1, name)
    bits = _header_int(ds, "BitsAllocated", 8, name)
    frames = _header_int(ds, "NumberOfFrames", 1, name)
    return max(0, rows * cols * samples * frames * bits // 8)


def _plausible(ds: Dataset) -> bool:
    """Whether a forced parse found real attributes (most tags in the public dictionary)."""
    from pydicom.datadict import dictionary_has_tag

    tags = list(ds.keys())
    known = sum(1 for t in tags if dictionary_has_tag(t))
    return known >= 2 and known * 2 >= len(tags)


def _header_int(ds: Dataset, keyword: str, default: int, name: str) -> int:
    value = ds.get(keyword, default)
    try:
        return int(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        raise CorruptFileError(name, f"{keyword} is not a number") from None


def _parse(src: Source, name: str, *, header_only: bool) -> Dataset:
    import pydicom
    from pydicom.errors import InvalidDicomError

    with warnings.catch_warnings():
        # pydicom warns about every odd value in real-world files; we judge the result instead.
        warnings.simplefilter("ignore")
        try:
            with _open(src) as fh:
                try:
                    return pydicom.dcmread(fh, stop_before_pixels=header_only)
                except InvalidDicomError:
                    # Files without the 128-byte preamble (older exports) are still DICOM when
                    # they parse into standard attributes; anything else is not DICOM at all.
                    fh.seek(0)
                    if fh.read(4) == b"DICM":  # the prefix and file meta, but no preamble
                        with io.BytesIO(b"\x00" * 128 + b"DICM" + fh.read()) as whole:
                            return pydicom.dcmread(whole, stop_before_pixels=header_only)
                    fh.seek(0)
                    try:
                        ds = pydicom.dcmread(fh, force=True, stop_before_pixels=header_only)
                    except Exception:  # any failure of a forced parse means "not DICOM"
                        ds = None
                    if ds is None or not _plausible(ds):
                        raise NotDicomError(name, "not a DICOM file (no DICM prefix)") from None
                    return ds
        except (EOFError, struct.error) as exc:
            raise TruncatedDicomError(name, "the DICOM header ends early") from exc
        except (ValueError, KeyError, TypeError, NotImplementedError, OSError) as exc:
            if isinstance(exc, InputError):
                raise
            raise CorruptFileError(name, f"unreadable DICOM ({_one_line(exc)})") from exc


def _check_truncation(ds: Dataset, name: str) -> None:
    elements = list(ds._dict.values())
    if not elements:
        raise TruncatedDicomError(name, "no data elements after the file meta header")
    for elem in elements:
        length = getattr(elem, "length", None)
        value = getattr(elem, "value", None)
        if (
            isinstance(length, int)
            and length != 0xFFFFFFFF
            and isinstance(value, bytes)
            and len(value) < length
        ):
            raise TruncatedDicomError(
                name, f"element {elem.tag} is {len(value)} of its {length} declared bytes"
            )
    declares_image = all(t in ds for t in _IMAGE_PIXEL_TAGS)
    has_pixels = any(t in ds for t in _PIXEL_DATA_TAGS)
    if declares_image and not has_pixels and max(ds.keys()) < 0x7FE00000:
        raise TruncatedDicomError(name, "the header declares an image but the file ends before it")


def read_dicom(
    src: Source, name: str, limits: ReadLimits | None = None, repairs: list[str] | None = None
) -> Dataset:
    """Parse a DICOM file after checking its size; pixel data is read but not decoded.

    Args:
        src: the file's bytes or path.
        name: the file name to put in error messages.
        limits: size limits (defaults: 1 GiB file, 512 MiB declared pixel data).
        repairs: when given, an element that cannot be decoded is removed and a Number of
            Frames that is not a number is replaced (:mod:`repair`), each repair appended here,
            instead of the file being refused.

    Returns:
        The pydicom Dataset.

    Raises:
        EmptyInputError: the file is empty.
        ImageTooLargeError: the file, or the pixel data its header declares, exceeds a limit.
        NotDicomError: the bytes are not DICOM.
        TruncatedDicomError: the file ends before what it declares.
        CorruptFileError: pydicom cannot parse it.
    """
    limits = limits or ReadLimits()
    size = source_size(src)
    if size == 0:
        raise EmptyInputError(name, "the file is empty")
    if size > limits.max_file_bytes:
        raise ImageTooLargeError(
            name, f"{size} bytes is over the {limits.max_file_bytes}-byte file limit"
        )
    big = size > limits.max_pixel_bytes
    with quiet_pydicom():
        ds = _parse(src, name, header_only=big)
        if repairs is not None and not big:
            from medflow.analyzers.imaging.repair import repair_unreadable

            _check_truncation(ds, name)  # on the raw elements, before repairs decode them
            repair_unreadable(ds, repairs)
        declared = declared_pixel_bytes(ds, name)
        if declared > limits.max_pixel_bytes:
            raise ImageTooLargeError(
                name,
                f"the header declares {declared} bytes of pixel data, over the "
                f"{limits.max_pixel_bytes}-byte limit; refused before decoding",
            )
        if big:
            ds = _parse(src, name, header_only=False)
            if repairs is not None:
                from medflow.analyzers.imaging.repair import repair_unreadable

                _check_truncation(ds, name)
                repair_unreadable(ds, repairs)
        _check_truncation(ds, name)
    return ds


def transfer_syntax(ds: Dataset) -> str:
    """The data set's transfer syntax UID (Implicit VR Little Endian when the meta omits it)."""
    meta = getattr(ds, "file_meta", None)
    uid = meta.get("TransferSyntaxUID") if meta is not None else None
    return str(uid) if uid else "1.2.840.10008.1.2"


def check_decodable(ds: Dataset, name: str) -> None:
    """Raise unless the data set has pixel data that an installed codec can decode.

    Raises:
        NoPixelDataError: no Pixel Data element.
        CodecUnavailableError: no decoder, or none of its plugins installed.
    """
    from pydicom.pixels.decoders.base import get_decoder
    from pydicom.uid import UID

    if not any(t in ds for t in _PIXEL_DATA_TAGS):
        raise NoPixelDataError(name, "the DICOM file holds no pixel data (not an image)")
    uid = UID(transfer_syntax(ds))
    try:
        decoder = get_decoder(uid)
    except NotImplementedError:
        raise CodecUnavailableError(
            name, f"pixel data is {uid.name} ({uid}); medflow has no decoder for it"
        ) from None
    if not decoder.is_available:
        missing = "; ".join(decoder.missing_dependencies) or "a decoder plugin"
        raise CodecUnavailableError(
            name, f"pixel data is {uid.name}; no codec installed for it (needs {missing})"
        )


def _one_line(exc: BaseException, limit: int = 160) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _ensure_transfer_syntax(ds: Dataset) -> None:
    """Record the syntax a meta-less file was read with, so pydicom's decoders accept it."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    meta = getattr(ds, "file_meta", None)
    if meta is not None and meta.get("TransferSyntaxUID"):
        return
    if meta is None:
        ds.file_meta = meta = FileMetaDataset()
    if ds.is_implicit_VR:
        meta.TransferSyntaxUID = ImplicitVRLittleEndian
    elif ds.is_little_endian:
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
    else:
        meta.TransferSyntaxUID = ExplicitVRBigEndian


def decode_frames(ds: Dataset, name: str) -> NDArray[Any]:
    """All frames as one array shaped (frames, rows, columns[, samples]).

    Colour data comes back as RGB (pydicom converts YBR_FULL / YBR_FULL_422 on decode).

    Raises:
        NoPixelDataError, CodecUnavailableError: see :func:`check_decodable`.
        TruncatedDicomError: the pixel data is shorter than declared.
        CorruptFileError: the codec failed.
    """
    check_decodable(ds, name)
    _ensure_transfer_syntax(ds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            arr = ds.pixel_array
        except ValueError as exc:
            if "less than expected" in str(exc) or "truncat" in str(exc).lower():
                raise TruncatedDicomError(name, "the pixel data is shorter than declared") from exc
            raise CorruptFileError(
                name, f"pixel data cannot be decoded ({_one_line(exc)})"
            ) from exc
        except (RuntimeError, OSError, TypeError, KeyError, AttributeError, EOFError) as exc:
            raise CorruptFileError(
                name, f"pixel data cannot be decoded ({_one_line(exc)})"
            ) from exc
    if not arr.dtype.isnative:
        # Big-endian files decode to big-endian arrays; later steps (masking, re-encoding,
        # hashing) expect the machine's byte order, with the same values.
        arr = arr.astype(arr.dtype.newbyteorder("="))
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    if frames == 1 and (arr.ndim == 2 or (arr.ndim == 3 and samples > 1)):
        arr = arr[None, ...]
    return arr


_EXTENSION_KINDS = {
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".jpe": "jpeg",
    ".jfif": "jpeg",
    ".dcm": "dicom",
    ".dicom": "dicom",
}
"""File name endings that claim a format. Other names (DICOM files named by their UID, or with
no extension at all) claim nothing and are judged by their bytes alone."""
_KIND_NAMES = {"png": "a PNG image", "jpeg": "a JPEG image", "dicom": "DICOM"}


def check_name(src: Source, name: str) -> str:
    """The input's kind by its bytes, refusing a name whose extension claims another format.

    A JPEG named ``.png`` (or a PNG named ``.dcm``, or text named ``.jpg``) is refused rather
    than read by its bytes: the name is what the sender and every later reader go by, so a
    mismatch is a mislabelled or tampered file the sender should look at.

    Returns:
        ``"png"``, ``"jpeg"`` or ``"dicom"`` (see :func:`sniff_kind`).

    Raises:
        MisnamedImageError: the extension claims a different format than the bytes.
    """
    kind = sniff_kind(src)
    suffix = Path(name).suffix.lower()
    claimed = _EXTENSION_KINDS.get(suffix)
    if claimed is not None and claimed != kind:
        if kind == "dicom":  # the default of sniff_kind: no PNG or JPEG signature at all
            raise MisnamedImageError(
                name,
                f"named {suffix} but the bytes are not {_KIND_NAMES[claimed]} (no "
                f"{claimed.upper()} signature); check the file and send it again",
            )
        raise MisnamedImageError(
            name,
            f"named {suffix} but the bytes are {_KIND_NAMES[kind]}; "
            f"rename it .{'jpg' if kind == 'jpeg' else kind} and send it again",
        )
    return kind


_EXIF_ORIENTATION = 0x0112


def _upright(img: Any) -> Any:
    """The image as a viewer shows it: EXIF Orientation (CIPA DC-008 4.6.4 A, tag 0x0112;
    PNG eXIf too) applied to the pixels, since the de-identified copy drops the tag and a
    rotated or mirrored copy would misplace left and right."""
    from PIL import ImageOps

    if img.getexif().get(_EXIF_ORIENTATION, 1) in (1, None):
        return img
    return ImageOps.exif_transpose(img)


def read_raster(src: Source, name: str, limits: ReadLimits | None = None) -> NDArray[Any]:
    """Decode a PNG or JPEG into (1, rows, columns) grey or (1, rows, columns, 3) RGB uint8/16.

    Pixels come upright: an EXIF Orientation is applied (see :func:`_upright`). The dimensions
    come from the header (PNG IHDR, JPEG SOF) when the file is opened; an image over Pillow's
    decompression-bomb limit (``Image.MAX_IMAGE_PIXELS`` x 2) or over
    ``limits.max_pixel_bytes`` is refused there, before any pixel is decoded.

    Raises:
        ImageTooLargeError: over the file or pixel limit (checked from the header first).
        CorruptFileError: truncated or undecodable.
    """
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    limits = limits or ReadLimits()
    size = source_size(src)
    if size > limits.max_file_bytes:
        raise ImageTooLargeError(name, f"{size} bytes is over the file limit")
    try:
        with warnings.catch_warnings():
            # Pillow warns between MAX_IMAGE_PIXELS and twice that; our own byte limit decides.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with _open(src) as fh, Image.open(fh) as img:
                channels = 3 if img.mode not in ("L", "I;16", "I", "1") else 1
                depth = 2 if img.mode.startswith("I") else 1
                declared = img.width * img.height * channels * depth
                if declared > limits.max_pixel_bytes:
                    raise ImageTooLargeError(
                        name,
                        f"the header declares {img.width}x{img.height} pixels ({declared} "
                        f"bytes), over the {limits.max_pixel_bytes}-byte limit; refused "
                        "before decoding",
                    )
                img = _upright(img)
                if img.mode in ("I;16", "I"):
                    arr = np.asarray(img, dtype=np.uint16)
                elif img.mode in ("P", "PA"):  # a palette: grey only when every entry is grey
                    rgb = np.asarray(img.convert("RGB"))
                    grey = (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()
                    arr = np.ascontiguousarray(rgb[..., 0]) if grey else rgb
                elif channels == 1:
                    arr = np.asarray(img.convert("L"))
                else:
                    arr = np.asarray(img.convert("RGB"))
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(
            name, f"{_one_line(exc)}; refused before decoding (decompression bomb limit)"
        ) from exc
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        raise CorruptFileError(name, f"the image cannot be decoded ({_one_line(exc)})") from exc
    return arr[None, ...]
