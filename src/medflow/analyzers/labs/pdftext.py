"""Words with positions from the text layer of a PDF, with pypdfium2 (PDFium).

Why pypdfium2 and not pdfplumber, measured with ``benchmarks/labs_speed.py
--compare-extractors`` on 42 generated text reports (54 pages, seven layouts), CPU time on a
shared 2-core machine: pypdfium2 **4.6 ms/page** (the page's text in one call, then loose
character boxes of each word's first and last character through the raw PDFium API),
pdfplumber ``extract_words()`` **92.8 ms/page** (20x slower; it builds a Python object per
character). Both found the same words at the same x positions (within 1 pt) except where two
table cells touch: pdfplumber glued ``mL/min/1.73m2`` and ``>60`` into one word, PDFium kept the
two text objects apart. pdfplumber's table finder was not needed: lab tables are ruled by white
space, and the parser clusters cells itself. PDFium also renders pages for OCR, so one library
opens the document once (BSD/Apache licences; pymupdf is AGPL, see FINDINGS.md).

PDFium's text coordinates have their origin at the bottom-left; everything returned here is in
points from the top-left corner (:class:`medflow.domain.labs.BBox`).
"""

from __future__ import annotations

import ctypes
import re
from typing import TYPE_CHECKING, Any

from medflow.analyzers.labs.words import PageText, Word, group_lines
from medflow.errors import CorruptFileError, DependencyMissingError, EncryptedFileError

if TYPE_CHECKING:
    import pypdfium2

_WORD = re.compile(r"\S+")
# A page whose text layer holds fewer visible characters than this is treated as a scan
# (a scanner may still stamp a page number or a date as text).
MIN_TEXT_CHARS = 20


def _pdfium() -> Any:
    try:
        import pypdfium2
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise DependencyMissingError("reading lab PDFs", "pdf", "pypdfium2") from exc
    return pypdfium2


def open_pdf(data: bytes, filename: str) -> pypdfium2.PdfDocument:
    """Open PDF bytes with PDFium.

    Args:
        data: the PDF bytes.
        filename: the name the user gave, for error messages.

    Returns:
        the open document (the caller closes it).

    Raises:
        EncryptedFileError: the PDF needs a password.
        CorruptFileError: PDFium cannot parse it.
    """
    pdfium = _pdfium()
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise EncryptedFileError(filename, "the PDF is password-protected") from exc
        raise CorruptFileError(filename, f"the PDF cannot be read ({exc})") from exc


def page_text(page: pypdfium2.PdfPage, number: int) -> PageText:
    """The words and lines of one page's text layer.

    Args:
        page: an open PDFium page.
        number: its 1-based number.

    Returns:
        the page's lines (empty when the page has no text layer; see :func:`has_text`).
    """
    import pypdfium2.raw as raw

    width, height = page.get_size()
    textpage = page.get_textpage()
    try:
        count = textpage.count_chars()
        text = textpage.get_text_range() if count else ""
        words: list[Word] = []
        if count and len(text) == count:
            rect = raw.FS_RECTF()
            handle = textpage.raw
            for m in _WORD.finditer(text):
                raw.FPDFText_GetLooseCharBox(handle, m.start(), ctypes.byref(rect))
                left, top, bottom = rect.left, rect.top, rect.bottom
                raw.FPDFText_GetLooseCharBox(handle, m.end() - 1, ctypes.byref(rect))
                words.append(Word(m.group(), left, height - top, rect.right, height - bottom))
        elif count:
            words = _words_slow(textpage, height)
    finally:
        textpage.close()
    return PageText(number, width, height, group_lines(words))


def _words_slow(textpage: Any, height: float) -> list[Word]:
    """Word boxes char by char (when the text holds surrogate pairs and indices drift)."""
    words: list[Word] = []
    cur: list[tuple[str, float, float, float, float]] = []
    for i in range(textpage.count_chars()):
        ch = textpage.get_text_range(i, 1)
        if ch.isspace() or not ch:
            if cur:
                words.append(_join(cur, height))
                cur = []
            continue
        left, bottom, right, top = textpage.get_charbox(i, loose=True)
        cur.append((ch, left, top, right, bottom))
    if cur:
        words.append(_join(cur, height))
    return words


def _join(chars: list[tuple[str, float, float, float, float]], height: float) -> Word:
    return Word(
        "".join(c[0] for c in chars),
        min(c[1] for c in chars),
        height - max(c[2] for c in chars),
        max(c[3] for c in chars),
        height - min(c[4] for c in chars),
    )


def has_text(page: PageText) -> bool:
    """Whether the page's text layer holds enough characters to skip OCR."""
    return sum(len(w.text) for line in page.lines for w in line.words) >= MIN_TEXT_CHARS
