"""Limits on ZIP-based files (DOCX and any other Open Packaging / ZIP container), checked from
the archive's central directory before a single entry is extracted.

A "zip bomb" is small on disk and huge unpacked: the outside probe's 145 KB DOCX unpacked to
about 62 MB before it was refused. Three limits, all read from the directory the archive
declares (no decompression):

- total unpacked size (the sum of the entries' declared sizes);
- compression ratio, per entry and for the whole file, once an entry or the whole archive
  unpacks to more than a grace size (tiny entries of repeated bytes compress well and harm
  nobody);
- number of entries, read from the end-of-central-directory record (ZIP64 too) before the
  directory itself is parsed, so a directory of millions of entries is not even loaded.

Declared sizes can lie only downwards to no effect: Python's ``zipfile`` (which python-docx
uses) stops decompressing an entry at its declared size and fails its CRC check if more data
was there, so an entry never yields more bytes than the directory checked here says.

Sources: PKWARE APPNOTE.TXT 6.3.10 (sections 4.3.12 central directory, 4.3.14-4.3.16 ZIP64 and
end-of-central-directory records); the ratio and grace values are Apache POI's
``ZipSecureFile`` defaults (MIN_INFLATE_RATIO 0.01, i.e. 100:1; GRACE_ENTRY_SIZE 100 KiB), the
limits a widely used OOXML reader applies to the same files; OWASP File Upload Cheat Sheet
("ZIP bombs").
"""

from __future__ import annotations

import io
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from medflow.errors import CorruptFileError, FileTooLargeError, InputError

ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")
"""How a ZIP file starts: a local file header, or the end record of an empty archive."""
_EOCD = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_EOCD = b"PK\x06\x06"
_EOCD_MIN = 22
_MAX_COMMENT = 0xFFFF


class ArchiveLimitError(InputError):
    """A ZIP-based file is over one of the :class:`ArchiveLimits` (a likely zip bomb).

    Attributes:
        limit: which limit: ``unpacked_bytes``, ``ratio`` or ``entries``.
    """

    def __init__(self, filename: str, reason: str, limit: str) -> None:
        self.limit = limit
        super().__init__(filename, reason)


class ArchiveTooLargeError(ArchiveLimitError, FileTooLargeError):
    """The archive would unpack to more than the limit on unpacked size."""


@dataclass(frozen=True)
class ArchiveLimits:
    """What a ZIP-based upload may declare.

    Attributes:
        max_unpacked_bytes: the most all entries together may unpack to (200 MiB: a DOCX
            carrying 50 MiB of pictures unpacks to little more than 50 MiB).
        max_ratio: the highest compression ratio, unpacked : packed (100, Apache POI's).
        ratio_grace_bytes: entries (and archives) unpacking to no more than this are not
            ratio-checked (100 KiB, Apache POI's).
        max_entries: the most entries an archive may hold (a Word file holds tens).
    """

    max_unpacked_bytes: int = 200 * 1024 * 1024
    max_ratio: float = 100.0
    ratio_grace_bytes: int = 100 * 1024
    max_entries: int = 10_000


@dataclass(frozen=True)
class ArchiveSummary:
    """What the central directory declares.

    Attributes:
        entries: how many entries.
        unpacked_bytes: their declared unpacked sizes, summed.
        packed_bytes: the archive's size on disk.
    """

    entries: int
    unpacked_bytes: int
    packed_bytes: int

    @property
    def ratio(self) -> float:
        """Unpacked : packed, for the whole file."""
        return self.unpacked_bytes / max(1, self.packed_bytes)


def is_zip(head: bytes) -> bool:
    """Whether ``head`` (a file's first bytes) starts like a ZIP archive."""
    return head.startswith(ZIP_SIGNATURES)


def _declared_entries(fh: BinaryIO, size: int) -> int | None:
    """The entry count of the end-of-central-directory record (ZIP64's when the classic field
    overflows); None when there is no such record (not a ZIP file)."""
    tail_len = min(size, _EOCD_MIN + _MAX_COMMENT)
    fh.seek(size - tail_len)
    tail = fh.read(tail_len)
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) - at < _EOCD_MIN:
        return None
    (total,) = struct.unpack_from("<H", tail, at + 10)
    if total != 0xFFFF:
        return int(total)
    # ZIP64: the locator sits just before the classic record and points at the ZIP64 record,
    # whose entry count is a 64-bit field at offset 32 (APPNOTE 4.3.14, 4.3.15).
    loc = at - 20
    if loc < 0 or tail[loc : loc + 4] != _ZIP64_LOCATOR:
        return int(total)
    (offset,) = struct.unpack_from("<Q", tail, loc + 8)
    if offset + 40 > size:
        return None
    fh.seek(offset)
    record = fh.read(40)
    if record[:4] != _ZIP64_EOCD:
        return None
    (total64,) = struct.unpack_from("<Q", record, 32)
    return int(total64)


def _open(source: bytes | Path) -> tuple[BinaryIO, int]:
    if isinstance(source, bytes):
        return io.BytesIO(source), len(source)
    return source.open("rb"), source.stat().st_size


def _mb(n: float) -> str:
    return f"{n / 1_000_000:,.1f} MB"


def check_archive(
    source: bytes | Path, filename: str, limits: ArchiveLimits | None = None
) -> ArchiveSummary:
    """Refuse a ZIP-based file over the limits, reading only its directory.

    Args:
        source: the file's bytes, or its path (an upload's temporary file).
        filename: the name the user gave (messages).
        limits: the limits (:class:`ArchiveLimits` defaults when None).

    Returns:
        What the directory declares.

    Raises:
        ArchiveTooLargeError: unpacks to more than ``max_unpacked_bytes``.
        ArchiveLimitError: more entries than ``max_entries``, or compressed more than
            ``max_ratio`` : 1 (an entry, or the whole file).
        CorruptFileError: not a readable ZIP archive.
    """
    limits = limits or ArchiveLimits()
    fh, size = _open(source)
    with fh:
        entries = _declared_entries(fh, size)
        if entries is None:
            raise CorruptFileError(filename, "not a readable ZIP archive (no central directory)")
        if entries > limits.max_entries:
            raise ArchiveLimitError(
                filename,
                f"holds {entries:,} entries, over the limit of {limits.max_entries:,} entries "
                "for an archive; refused before extraction",
                "entries",
            )
        fh.seek(0)
        try:
            with zipfile.ZipFile(fh) as archive:
                infos = archive.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, struct.error) as exc:
            raise CorruptFileError(filename, "not a readable ZIP archive (damaged)") from exc
    if len(infos) > limits.max_entries:
        raise ArchiveLimitError(
            filename,
            f"holds {len(infos):,} entries, over the limit of {limits.max_entries:,} entries "
            "for an archive; refused before extraction",
            "entries",
        )
    summary = ArchiveSummary(len(infos), sum(i.file_size for i in infos), size)
    if summary.unpacked_bytes > limits.max_unpacked_bytes:
        raise ArchiveTooLargeError(
            filename,
            f"unpacks to {_mb(summary.unpacked_bytes)}, over the "
            f"{_mb(limits.max_unpacked_bytes)} limit on unpacked size; refused before extraction",
            "unpacked_bytes",
        )
    grace = limits.ratio_grace_bytes
    worst = max(
        (i for i in infos if i.file_size > grace),
        key=lambda i: i.file_size / max(1, i.compress_size),
        default=None,
    )
    if worst is not None and worst.file_size / max(1, worst.compress_size) > limits.max_ratio:
        ratio = worst.file_size / max(1, worst.compress_size)
        raise ArchiveLimitError(
            filename,
            f"entry {worst.filename[:80]!r} is compressed {ratio:,.0f}:1, over the "
            f"{limits.max_ratio:,.0f}:1 limit on compression ratio (a zip bomb?); refused "
            "before extraction",
            "ratio",
        )
    if summary.unpacked_bytes > grace and summary.ratio > limits.max_ratio:
        raise ArchiveLimitError(
            filename,
            f"is compressed {summary.ratio:,.0f}:1 ({_mb(size)} unpacking to "
            f"{_mb(summary.unpacked_bytes)}), over the {limits.max_ratio:,.0f}:1 limit on "
            "compression ratio (a zip bomb?); refused before extraction",
            "ratio",
        )
    return summary
