"""PNG and JPEG files without metadata: re-encode the pixels, keep no chunk or segment that is not
needed to decode them.

PNG (ISO/IEC 15948:2004 section 11; W3C PNG 3rd edition for eXIf): a de-identified PNG holds
only the critical chunks ``IHDR``, ``PLTE``, ``IDAT`` and ``IEND``; text (``tEXt``, ``zTXt``,
``iTXt``), EXIF (``eXIf``), time (``tIME``), colour profile (``iCCP``) and every other ancillary
chunk are gone. JPEG (ITU-T T.81 annex B; JFIF 1.02; CIPA DC-008 Exif 2.3 for APP1): the image
keeps its tables, frame and scan segments only; every application segment APP0-APP15 (JFIF,
Exif, XMP, ICC, Photoshop IRB...) and every comment (``COM``) is dropped, since a baseline
decoder needs none of them (one- and three-component scans decode as grey and YCbCr).
"""

from __future__ import annotations

import io
import struct
import zlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from numpy.typing import NDArray

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_CRITICAL_CHUNKS = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND"})
_APP0, _APP15, _COM, _SOS, _EOI = 0xE0, 0xEF, 0xFE, 0xDA, 0xD9
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RSTn: markers without a length


def png_chunks(data: bytes) -> list[bytes]:
    """The chunk types of a PNG, in file order (stops at a chunk that runs past the end).

    Raises:
        ValueError: the bytes do not start with the PNG signature.
    """
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG file")
    out, pos = [], len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        out.append(kind)
        pos += 12 + length
    return out


def jpeg_markers(data: bytes) -> list[int]:
    """The marker codes (the byte after ``FF``) of a JPEG's segments up to and including the
    first start of scan; entropy-coded data after it is not walked.

    Raises:
        ValueError: the bytes are not a JPEG, or a segment is malformed.
    """
    if not data.startswith(b"\xff\xd8"):
        raise ValueError("not a JPEG file")
    out, pos = [], 2
    while pos < len(data):
        if data[pos] != 0xFF:
            raise ValueError(f"no marker at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker (T.81 B.1.1.2)
            pos += 1
            continue
        out.append(marker)
        if marker in (_EOI, _SOS):
            break
        if marker in _STANDALONE:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        pos += 2 + length
    return out


def strip_jpeg_segments(data: bytes) -> bytes:
    """The JPEG without its APPn and COM segments; tables, frame, scan and data untouched.

    Raises:
        ValueError: the bytes are not a JPEG, or a segment runs past the end.
    """
    if not data.startswith(b"\xff\xd8"):
        raise ValueError("not a JPEG file")
    out, pos = bytearray(b"\xff\xd8"), 2
    while pos < len(data):
        if data[pos] != 0xFF:
            raise ValueError(f"no marker at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker in (_SOS, _EOI):
            out += data[pos:]  # the scans and everything after: pixel data, not metadata
            return bytes(out)
        if marker in _STANDALONE:
            out += data[pos : pos + 2]
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        end = pos + 2 + length
        if end > len(data):
            raise ValueError(f"segment FF{marker:02X} runs past the end")
        if not (_APP0 <= marker <= _APP15 or marker == _COM):
            out += data[pos:end]
        pos = end
    raise ValueError("no start of scan")


def encode_clean(frame: NDArray[Any], kind: str) -> bytes:
    """A new PNG or JPEG (quality 95) from a pixel array alone: no metadata goes in.

    Pillow writes no text, EXIF, ICC or time to an image made from an array; the JFIF APP0
    header it adds to JPEGs is dropped too, so the file holds only what decodes the pixels.

    Args:
        frame: (rows, columns) grey or (rows, columns, 3) RGB, uint8 (PNG also uint16).
        kind: ``"png"`` or ``"jpeg"``.
    """
    import numpy as np
    from PIL import Image

    img = Image.fromarray(np.ascontiguousarray(frame))
    buf = io.BytesIO()
    if kind == "png":
        img.save(buf, format="PNG")
        data = buf.getvalue()
        if set(png_chunks(data)) - PNG_CRITICAL_CHUNKS:  # guards against a Pillow change
            data = _only_critical_png_chunks(data)
        return data
    if img.mode not in ("L", "RGB"):
        img = img.convert("L" if frame.ndim == 2 else "RGB")
    img.save(buf, format="JPEG", quality=95)
    return strip_jpeg_segments(buf.getvalue())


def _only_critical_png_chunks(data: bytes) -> bytes:
    out, pos = bytearray(PNG_SIGNATURE), len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        chunk = data[pos : pos + 12 + length]
        if chunk[4:8] in PNG_CRITICAL_CHUNKS and zlib.crc32(chunk[4:-4]) == int.from_bytes(
            chunk[-4:], "big"
        ):
            out += chunk
        pos += 12 + length
    return bytes(out)
