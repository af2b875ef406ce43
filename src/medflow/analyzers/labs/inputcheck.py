"""Checks on a lab-report file before it is parsed or rendered; each failure is an InputError.

Every error names the file and the problem in one line (``report.pdf: the PDF is
password-protected``). The checks that guard against PDF bombs run on what the document
*declares* (page count, page size, image dimensions) so nothing is rendered or decoded first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from medflow.errors import (
    CorruptFileError,
    EmptyInputError,
    FileTooLargeError,
    UnsupportedFileError,
)

if TYPE_CHECKING:
    import pypdfium2

# ISO 32000-1 §7.5.2: the header "%PDF-1.n" is in the first line; readers (Acrobat, PDFium)
# accept it within the first 1024 bytes. §7.5.5: the file ends with "%%EOF".
HEADER_WINDOW = 1024
TRAILER_WINDOW = 2048


class TooManyPagesError(FileTooLargeError):
    """The PDF declares more pages than the configured limit (a PDF bomb or not a lab report)."""


class PageTooLargeError(FileTooLargeError):
    """A page or an image on it would need more pixels than the configured limit to render."""


@dataclass(frozen=True)
class PdfLimits:
    """Limits applied to a lab-report PDF before it is read.

    Attributes:
        max_bytes: largest accepted file.
        max_pages: most pages accepted.
        max_pixels: most pixels one page may need when rendered for OCR at ``dpi``, and most
            pixels one embedded image may declare.
        dpi: the OCR rendering resolution the page-size check assumes.
    """

    max_bytes: int = 25 * 1024 * 1024
    max_pages: int = 200
    max_pixels: int = 60_000_000
    dpi: int = 300


def check_bytes(data: bytes, filename: str, limits: PdfLimits) -> None:
    """Checks on the raw bytes: empty, too large, not a PDF, truncated.

    Args:
        data: the file's bytes.
        filename: the name the user gave (for the message).
        limits: the configured limits.

    Raises:
        EmptyInputError: 0 bytes (or only whitespace).
        FileTooLargeError: over ``limits.max_bytes``.
        UnsupportedFileError: no ``%PDF-`` header near the start.
        CorruptFileError: no ``%%EOF`` marker near the end (truncated download or upload).
    """
    if not data.strip():
        raise EmptyInputError(filename, "the file is empty (0 bytes)")
    if len(data) > limits.max_bytes:
        raise FileTooLargeError(
            filename,
            f"the file is {len(data) / 1e6:.1f} MB, over the {limits.max_bytes / 1e6:.1f} MB limit",
        )
    if b"%PDF-" not in data[:HEADER_WINDOW]:
        raise UnsupportedFileError(filename, "not a PDF (no %PDF- header); upload a PDF report")
    if b"%%EOF" not in data[-TRAILER_WINDOW:]:
        raise CorruptFileError(filename, "the PDF is truncated (no %%EOF end marker)")


def check_document(doc: pypdfium2.PdfDocument, filename: str, limits: PdfLimits) -> None:
    """Checks on the opened document's declared size (before any page is read).

    Raises:
        CorruptFileError: the document has no pages.
        TooManyPagesError: more than ``limits.max_pages`` pages.
    """
    pages = len(doc)
    if pages == 0:
        raise CorruptFileError(filename, "the PDF has no pages")
    if pages > limits.max_pages:
        raise TooManyPagesError(
            filename, f"the PDF has {pages} pages, over the limit of {limits.max_pages}"
        )


def check_renderable(
    page: pypdfium2.PdfPage, number: int, filename: str, limits: PdfLimits
) -> None:
    """Checks before a page is rendered for OCR: page size and declared image sizes.

    Args:
        page: the open page.
        number: its 1-based number (for the message).
        filename: the file's name.
        limits: the configured limits.

    Raises:
        PageTooLargeError: rendering at ``limits.dpi`` or decoding an image on the page would
            need more than ``limits.max_pixels`` pixels.
    """
    import pypdfium2.raw as raw

    width, height = page.get_size()
    pixels = (width * limits.dpi / 72) * (height * limits.dpi / 72)
    if pixels > limits.max_pixels:
        raise PageTooLargeError(
            filename,
            f"page {number} is {width:.0f}x{height:.0f} pt, too large to render safely "
            f"({pixels / 1e6:.0f} Mpx at {limits.dpi} dpi, limit {limits.max_pixels / 1e6:.0f})",
        )
    for obj in page.get_objects(filter=[raw.FPDF_PAGEOBJ_IMAGE], max_depth=2):
        img_w, img_h = obj.get_px_size()
        if img_w * img_h > limits.max_pixels:
            raise PageTooLargeError(
                filename,
                f"page {number} holds a {img_w}x{img_h} image, too large to decode safely "
                f"(limit {limits.max_pixels / 1e6:.0f} Mpx)",
            )
