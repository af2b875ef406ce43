"""Reading a clinical document's text: DOCX paragraphs and tables, PDF text and OCR, bad files."""

from __future__ import annotations

import io
from importlib import resources
from pathlib import Path

import docx
import pytest

from medflow.errors import CorruptFileError, EmptyInputError, UnsupportedFileError
from medflow.pipelines.document_text import document_kind, read_document_text

LAB_SAMPLES = Path(str(resources.files("medflow.samples").joinpath("labs")))


def _docx(paragraphs: list[str], rows: list[list[str]] | None = None) -> bytes:
    document = docx.Document()
    for p in paragraphs:
        document.add_paragraph(p)
    if rows:
        table = document.add_table(rows=len(rows), cols=len(rows[0]))
        for r, row in enumerate(rows):
            for c, cell in enumerate(row):
                table.cell(r, c).text = cell
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_docx_paragraphs_and_table_rows_are_read_in_order() -> None:
    data = _docx(["Medications:"], [["Metformin", "500 mg", "PO BID"]])
    read = read_document_text(data, "note.docx")
    assert read.kind == "docx"
    assert read.text == "Medications:\nMetformin | 500 mg | PO BID"


def test_a_damaged_docx_is_corrupt_and_an_empty_one_is_empty() -> None:
    data = _docx(["Plan: follow up."])
    with pytest.raises(CorruptFileError, match=r"note\.docx: not a readable DOCX"):
        read_document_text(data[: len(data) // 2], "note.docx")
    with pytest.raises(EmptyInputError, match="holds no text"):
        read_document_text(_docx([" "]), "blank.docx")


def test_kind_is_decided_by_content_before_suffix() -> None:
    assert document_kind(b"%PDF-1.7\n...", "note.txt") == "pdf"
    assert document_kind(b"PK\x03\x04rest", "upload.bin") == "docx"
    assert document_kind(b"Plan: rest.", "note.txt") == "text"


def test_a_scanned_pdf_is_read_by_ocr() -> None:
    read = read_document_text((LAB_SAMPLES / "scanned.pdf").read_bytes(), "scan.pdf")
    assert read.kind == "pdf" and read.pages >= 1 and read.ocr_pages == read.pages
    assert "Riverside NHS Trust Pathology" in read.text and "Electronically verified" in read.text


def test_text_that_is_binary_or_not_utf8_is_refused() -> None:
    with pytest.raises(UnsupportedFileError, match="binary"):
        read_document_text(b"abc\x00def" * 10, "x.txt")
    with pytest.raises(CorruptFileError, match="UTF-8"):
        read_document_text("Plan: café".encode("latin-1"), "x.txt")
