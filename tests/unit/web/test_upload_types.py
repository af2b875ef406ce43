"""upload_types.yaml: what each pipeline accepts (types, extensions, limits, signatures, text),
read strictly, matching the pipelines that exist."""

from __future__ import annotations

import codecs

import pytest
from tests.unit.web.conftest import every_pipeline

from medflow.errors import UnsupportedFileError
from medflow.platform.config import Settings
from medflow.web.uploads import (
    check_content,
    check_declared,
    kinds_for,
    parse_kinds,
    portal_kinds,
    upload_kinds,
    upload_limit,
)

REGISTERED = ("labs", "documents", "dictation", "imaging", "imaging_study", "records")
DICOM_HEAD = b"\x00" * 128 + b"DICM" + b"\x02\x00\x00\x00UL"
WAV_HEAD = b"RIFF\x24\x00\x00\x00WAVEfmt "


def test_every_uploadable_pipeline_exists_and_has_a_raw_trigger() -> None:
    names = {p.name for p in every_pipeline()}
    triggered = {r.pipeline for r in Settings().triggers if r.bucket == "raw"}
    assert set(upload_kinds()) == {"labs", "documents", "dictation", "imaging", "records"}
    assert set(upload_kinds()) <= names
    assert set(upload_kinds()) <= triggered


def test_a_file_type_that_fits_several_kinds_prefers_the_first() -> None:
    assert kinds_for("a.pdf", "application/pdf", REGISTERED) == ["labs", "documents"]
    assert kinds_for("a.wav", "audio/x-wav", REGISTERED) == ["dictation"]
    assert kinds_for("1.2.840.99", "application/dicom", REGISTERED) == ["imaging"]
    assert kinds_for("a.csv", "application/vnd.ms-excel", REGISTERED) == ["records"]
    assert kinds_for("a.csv", "text/plain", REGISTERED) == []
    assert kinds_for("a.pdf", "application/pdf", ("documents",)) == ["documents"]


def test_signatures_check_every_part_at_its_offset() -> None:
    check_content("a.dcm", "imaging", "application/dicom", DICOM_HEAD)
    with pytest.raises(UnsupportedFileError, match="not a application/dicom"):
        check_content("a.dcm", "imaging", "application/dicom", b"DICM" + b"\x00" * 200)
    check_content("a.wav", "dictation", "audio/wav", WAV_HEAD)
    with pytest.raises(UnsupportedFileError):  # RIFF, but AVI not WAVE
        check_content("a.wav", "dictation", "audio/wav", b"RIFF\x24\x00\x00\x00AVI LIST")
    check_content("a.m4a", "dictation", "audio/mp4", b"\x00\x00\x00\x20ftypM4A ")
    check_content("a.mp3", "dictation", "audio/mpeg", b"ID3\x04\x00")
    check_content("a.docx", "documents", docx_type(), b"PK\x03\x04\x14\x00")


def docx_type() -> str:
    return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def test_text_types_take_text_and_refuse_binary() -> None:
    check_content("a.csv", "records", "text/csv", b"ID3,value\r\n1,2\r\n")  # "ID3" is a column
    check_content("a.txt", "documents", "text/plain", b"OggS is a container format.\n")
    check_content("a.txt", "documents", "text/plain", "Café, naïve\tok\n".encode("cp1252"))
    check_content("a.csv", "records", "text/csv", codecs.BOM_UTF16_LE + "a,b\n".encode("utf-16-le"))
    with pytest.raises(UnsupportedFileError, match=r"a\.txt: the bytes are a application/pdf"):
        check_content("a.txt", "documents", "text/plain", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    with pytest.raises(UnsupportedFileError, match="control characters"):
        check_content("a.csv", "records", "text/csv", bytes(range(1, 32)) * 2)


def test_each_pipeline_has_its_own_limit_under_the_site_setting() -> None:
    assert upload_limit("dictation", 1 << 40) == 512 << 20
    assert upload_limit("dictation", 1000) == 1000
    assert upload_limit("imaging", 1 << 40) == 1 << 30
    check_declared("a.dcm", "imaging", "application/dicom", (600 << 20), 1 << 40)


def test_the_page_table_gives_one_content_type_per_extension() -> None:
    table = {k["pipeline"]: k for k in portal_kinds(REGISTERED, 50 << 20)}
    assert list(table) == ["labs", "documents", "dictation", "imaging", "records"]
    assert table["dictation"]["extensions"][".wav"] == "audio/wav"  # not an alias
    assert table["dictation"]["types"]["audio/x-wav"] == "audio/wav"
    assert table["records"]["max_bytes"] == 50 << 20
    assert "*" not in table["imaging"]["extensions"]
    assert portal_kinds(("labs",), 1) == [table["labs"] | {"max_bytes": 1}]


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({"x": {"label": "X", "max_bytes": 1, "types": {}, "colour": "red"}}, "expected only"),
        ({"x": {"label": "X", "types": {}}}, "max_bytes"),
        ({"x": {"label": "X", "max_bytes": 1, "types": {"a/b": {"extensions": ["pdf"]}}}}, "ext"),
        (
            {"x": {"label": "X", "max_bytes": 1, "types": {"a/b": {"extensions": [".a"], "m": 1}}}},
            "unknown keys",
        ),
        (
            {
                "x": {
                    "label": "X",
                    "max_bytes": 1,
                    "types": {"a/b": {"extensions": [".a"], "magic": ["ff00"]}},
                }
            },
            "offset:hex",
        ),
    ],
)
def test_a_bad_declaration_is_refused_when_read(raw: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_kinds(raw)
