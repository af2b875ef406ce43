"""Archive limits read from a ZIP's central directory: a DOCX compressed ~100:1 and more is
refused before extraction, with the limit named; the analyzer reading DOCX refuses it too."""

from __future__ import annotations

import io
import struct
import sys
import zipfile
from pathlib import Path

import pytest

from medflow.analyzers.archive import (
    ArchiveLimitError,
    ArchiveLimits,
    ArchiveTooLargeError,
    check_archive,
    is_zip,
)
from medflow.errors import CorruptFileError, FileTooLargeError
from medflow.pipelines.document_text import read_document_text

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures" / "documents"))
from docx_fixtures import note_docx, padded_docx


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """A readable DOCX compressed about 110:1 (2 MB unpacked), just over the 100:1 limit."""
    return padded_docx(110, 2_000_000)


@pytest.fixture(scope="module")
def dense() -> bytes:
    """A readable DOCX compressed about 60:1, as a long repetitive note might be."""
    return padded_docx(60, 2_000_000)


def test_a_docx_compressed_over_100_to_1_is_refused_naming_the_limit(bomb: bytes) -> None:
    with pytest.raises(ArchiveLimitError) as refused:
        check_archive(bomb, "note.docx")
    assert refused.value.limit == "ratio"
    message = str(refused.value)
    assert message.startswith("note.docx: ")
    assert "100:1 limit on compression ratio" in message and "before extraction" in message


def test_the_same_limits_apply_to_a_file_on_disk(bomb: bytes, tmp_path: Path) -> None:
    path = tmp_path / "body"
    path.write_bytes(bomb)
    with pytest.raises(ArchiveLimitError, match="compression ratio"):
        check_archive(path, "note.docx")


def test_ordinary_and_dense_documents_pass(dense: bytes) -> None:
    small = check_archive(note_docx(), "note.docx")
    assert small.entries > 5 and small.ratio < 100
    assert check_archive(dense, "long.docx").ratio == pytest.approx(60, rel=0.05)


def test_unpacked_size_over_the_limit_is_too_large() -> None:
    data = note_docx()
    with pytest.raises(ArchiveTooLargeError) as refused:
        check_archive(data, "note.docx", ArchiveLimits(max_unpacked_bytes=100_000))
    assert isinstance(refused.value, FileTooLargeError)
    assert refused.value.limit == "unpacked_bytes"
    assert "over the 0.1 MB limit on unpacked size" in str(refused.value)


def _many_entries(n: int) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for i in range(n):
            z.writestr(f"e{i}", b"")
    return out.getvalue()


def test_too_many_entries_are_refused_from_the_end_record() -> None:
    with pytest.raises(ArchiveLimitError, match="holds 50 entries, over the limit of 10") as e:
        check_archive(_many_entries(50), "many.zip", ArchiveLimits(max_entries=10))
    assert e.value.limit == "entries"


def _zip64_claiming(entries: int) -> bytes:
    """An archive whose ZIP64 end record claims ``entries`` entries (APPNOTE 4.3.14-4.3.16):
    ZIP64 end record, its locator, then the classic end record with the 16-bit count full."""
    zip64_end = struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, entries, entries, 0, 0)
    locator = struct.pack("<4sIQI", b"PK\x06\x07", 0, 0, 1)
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0, 0xFFFFFFFF, 0)
    return zip64_end + locator + end


def test_a_zip64_entry_count_is_read_before_the_directory_is_parsed() -> None:
    with pytest.raises(ArchiveLimitError, match="holds 5,000,000 entries"):
        check_archive(_zip64_claiming(5_000_000), "many.zip")


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"PK\x03\x04 not really a zip file at all", "no central directory"),
        (note_docx()[:-30], "not a readable ZIP archive"),
    ],
)
def test_a_damaged_archive_is_corrupt(data: bytes, why: str) -> None:
    with pytest.raises(CorruptFileError, match=why):
        check_archive(data, "bad.docx")


def test_the_docx_reader_refuses_a_bomb_before_unpacking_it(bomb: bytes) -> None:
    with pytest.raises(ArchiveLimitError, match=r"^note\.docx: .*100:1 limit"):
        read_document_text(bomb, "note.docx")


def test_sizes_declared_too_small_cannot_unpack_more_than_declared() -> None:
    """A directory that understates an entry's size passes the check, but the reader then
    stops at the declared size and fails its CRC: the file is corrupt, never bigger."""
    data = bytearray(padded_docx(60, 1_000_000))
    name = b"word/document.xml"
    for sig, size_at in ((b"PK\x01\x02", 24), (b"PK\x03\x04", 22)):
        at = data.find(sig)
        while at >= 0:
            name_at = at + (46 if sig == b"PK\x01\x02" else 30)
            if data[name_at : name_at + len(name)] == name:
                struct.pack_into("<I", data, at + size_at, 1000)
            at = data.find(sig, at + 4)
    check_archive(bytes(data), "liar.docx")
    with pytest.raises(CorruptFileError, match=r"liar\.docx"):
        read_document_text(bytes(data), "liar.docx")


def test_zip_signatures() -> None:
    assert is_zip(note_docx()[:8]) and is_zip(b"PK\x05\x06" + bytes(18))
    assert not is_zip(b"%PDF-1.7")
