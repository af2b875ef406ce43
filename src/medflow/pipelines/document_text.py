"""The text of a clinical document: PDF (text layer, OCR for scanned pages), DOCX or plain text.

PDF pages are read with the labs reader (:mod:`medflow.analyzers.labs.pdftext`, PDFium) and, when
a page has no text layer, OCR'd with :class:`medflow.analyzers.labs.ocr.TesseractOcr` at 300 dpi
(the settings measured for lab reports, FINDINGS.md); the same size checks guard against PDF
bombs. DOCX paragraphs and table cells are read with python-docx in document order, after the
archive's central directory has passed the zip-bomb limits (:mod:`medflow.analyzers.archive`).
Anything else must be UTF-8 text.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from typing import Any

from medflow.analyzers.archive import ArchiveLimits, check_archive
from medflow.analyzers.clinical import decode_text
from medflow.analyzers.labs.inputcheck import (
    PdfLimits,
    check_bytes,
    check_document,
    check_renderable,
)
from medflow.errors import CorruptFileError, EmptyInputError, UnsupportedFileError

PDF_SUFFIXES = frozenset({".pdf"})
DOCX_SUFFIXES = frozenset({".docx"})
TEXT_SUFFIXES = frozenset({".txt", ".text", ".md", ".note"})


@dataclass(frozen=True)
class DocumentText:
    """The text read from one document and how it was read.

    Attributes:
        text: the text; PDF pages are separated by a blank line.
        kind: ``"pdf"``, ``"docx"`` or ``"text"``.
        pages: PDF pages read (0 for other kinds).
        ocr_pages: PDF pages read by OCR.
    """

    text: str
    kind: str
    pages: int = 0
    ocr_pages: int = 0


def document_kind(data: bytes, filename: str) -> str:
    """``"pdf"``, ``"docx"`` or ``"text"``, by content first (magic bytes), then by suffix."""
    if data[:1024].lstrip().startswith(b"%PDF-"):
        return "pdf"
    lowered = filename.lower()
    if data[:4] == b"PK\x03\x04" or any(lowered.endswith(s) for s in DOCX_SUFFIXES):
        return "docx"
    return "text"


def read_pdf_text(data: bytes, filename: str, limits: PdfLimits, ocr: Any = None) -> DocumentText:
    """Every page's text, OCR'd where the page has no text layer.

    Args:
        data: the PDF bytes.
        filename: the name the user gave (messages).
        limits: size limits (bytes, pages, pixels).
        ocr: an OCR engine with ``read_page(page, number)``; a ``TesseractOcr`` when None.

    Raises:
        InputError: empty, not a PDF, truncated, encrypted, too many pages, page too large.
    """
    from medflow.analyzers.labs.pdftext import has_text, open_pdf, page_text

    check_bytes(data, filename, limits)
    doc = open_pdf(data, filename)
    try:
        check_document(doc, filename, limits)
        texts: list[str] = []
        ocr_pages = 0
        for index in range(len(doc)):
            page = doc[index]
            try:
                read = page_text(page, index + 1)
                if not has_text(read):
                    check_renderable(page, index + 1, filename, limits)
                    if ocr is None:
                        from medflow.analyzers.labs.ocr import TesseractOcr

                        ocr = TesseractOcr(dpi=limits.dpi)
                    read = ocr.read_page(page, index + 1)
                    ocr_pages += 1
            finally:
                page.close()
            texts.append("\n".join(line.text for line in read.lines))
        return DocumentText("\n\n".join(texts), "pdf", len(doc), ocr_pages)
    finally:
        doc.close()


def read_docx_text(data: bytes, filename: str, limits: ArchiveLimits | None = None) -> DocumentText:
    """Paragraphs and table rows (cells joined by `` | ``) of a DOCX, in document order.

    Args:
        data: the DOCX bytes.
        filename: the name the user gave (messages).
        limits: zip-bomb limits checked before anything is unpacked (defaults when None).

    Raises:
        ArchiveLimitError: over the limits on unpacked size, compression ratio or entries.
        CorruptFileError: not a readable DOCX (a damaged zip or no document part).
    """
    try:
        check_archive(data, filename, limits)
    except CorruptFileError as exc:
        raise CorruptFileError(filename, "not a readable DOCX file (damaged or not Word)") from exc
    try:
        import docx
        from docx.table import Table
        from docx.text.paragraph import Paragraph
    except ImportError as exc:  # pragma: no cover - python-docx is a core dependency
        raise UnsupportedFileError(filename, "reading DOCX needs python-docx") from exc
    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise CorruptFileError(filename, "not a readable DOCX file (damaged or not Word)") from exc
    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            lines.append(block.text)
        elif isinstance(block, Table):
            for row in block.rows:
                lines.append(" | ".join(cell.text.strip() for cell in row.cells))
    text = "\n".join(lines).strip()
    if not text:
        raise EmptyInputError(filename, "the document holds no text")
    return DocumentText(text, "docx")


def read_document_text(
    data: bytes, filename: str, limits: PdfLimits | None = None, ocr: Any = None
) -> DocumentText:
    """The text of a clinical document of any supported kind.

    Args:
        data: the file's bytes.
        filename: the name the user gave.
        limits: PDF limits (defaults of :class:`PdfLimits` when None).
        ocr: OCR engine for scanned PDF pages (built on first need when None).

    Raises:
        InputError: a subclass naming the file and the problem (empty, binary, corrupt ...).
    """
    kind = document_kind(data, filename)
    if kind == "pdf":
        return read_pdf_text(data, filename, limits or PdfLimits(), ocr)
    if kind == "docx":
        return read_docx_text(data, filename)
    return DocumentText(decode_text(data, filename), "text")
