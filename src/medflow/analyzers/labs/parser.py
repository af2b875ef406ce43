"""Lab-report PDF -> rows as printed (:class:`medflow.domain.labs.RawLabRow`).

``read_lab_pdf`` (rows and extraction info) and ``read_lab_document`` (the same plus the
letterhead's lab name and collection date) check the file (``inputcheck``), read each page's
text layer (``pdftext``) or, for a page without one, OCR it (``ocr``); then ``parse_rows``
turns lines into rows:

* lines repeated at the top or bottom of most pages (letterhead, patient block, footer) and
  metadata lines ("Patient Name:", "Page 1 of 2") are dropped (``layout``, ``rows``);
* on a page with a results-table header ("Test  Result  Units  Reference Range"), lines above
  the first header are skipped;
* two-column pages are read column by column (``layout.column_order``);
* a value-less line directly under a row, starting at the row's left edge, continues the row's
  name (wrapped names); another value-less line that looks like a title sets the section.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from medflow.analyzers.labs.header import ReportHeader, read_header
from medflow.analyzers.labs.inputcheck import (
    PdfLimits,
    check_bytes,
    check_document,
    check_renderable,
)
from medflow.analyzers.labs.layout import column_order, is_repeated, repeated_lines
from medflow.analyzers.labs.pdftext import has_text, open_pdf, page_text
from medflow.analyzers.labs.rows import (
    VALUE_RE,
    Parts,
    is_boilerplate,
    is_header,
    lexicon,
    parse_line,
    tokens,
)
from medflow.analyzers.labs.words import Line, PageText
from medflow.domain.labs import BBox, ExtractionInfo, RawLabRow
from medflow.errors import NoResultsError

if TYPE_CHECKING:
    from medflow.analyzers.labs.ocr import TesseractOcr

MAX_SECTION_CHARS = 60


@dataclass
class _Row:
    parts: Parts
    section: str
    page: PageText
    lines: list[Line] = field(default_factory=list)
    extra_name: list[str] = field(default_factory=list)
    extra_range: list[str] = field(default_factory=list)

    def build(self) -> RawLabRow:
        p = self.parts
        box = BBox(
            page=self.page.number,
            x0=min(ln.x0 for ln in self.lines),
            top=min(ln.top for ln in self.lines),
            x1=max(ln.x1 for ln in self.lines),
            bottom=max(ln.bottom for ln in self.lines),
        )
        return RawLabRow(
            name=" ".join([p.name, *self.extra_name]),
            value_text=p.value_text,
            unit_text=p.unit_text,
            range_text=" ".join([p.range_text, *self.extra_range]).strip(),
            flag_text=p.flag_text,
            section=self.section,
            line=" / ".join(ln.text for ln in self.lines),
            bbox=box,
            ocr=self.page.ocr,
        )


def _left_top(line: Line) -> float:
    """Top of the line's first word: on a skewed scan the line's overall top comes from its
    far end, while wrapped names and their rows are compared at the left margin."""
    return line.words[0].top


def _pitch(lines: list[Line]) -> float:
    """The page's usual line pitch (median distance between consecutive line tops)."""
    steps = sorted(
        _left_top(b) - _left_top(a)
        for a, b in itertools.pairwise(lines)
        if _left_top(b) > _left_top(a)
    )
    return steps[len(steps) // 2] if steps else 0.0


def _is_continuation(line: Line, row: _Row, pitch: float) -> bool:
    """A wrapped name: closer under the row than the row pitch, flush left, one cell."""
    last = row.lines[-1]
    first = row.lines[0]
    if abs(line.x0 - first.x0) > 3 or not 0 < _left_top(line) - _left_top(last) < 0.8 * pitch:
        return False
    toks = tokens(line)
    return bool(toks) and toks[-1].cell == 0


def _is_range_tail(line: Line, row: _Row, pitch: float) -> bool:
    """The second line of a range printed over two lines ("Male: 13-17" / "Female: 12-15"):
    right under the row, right of its name, nothing on it but a range."""
    last = row.lines[-1]
    if not row.parts.range_text or line.x0 < row.lines[0].x0 + 20:
        return False
    if not 0 < _left_top(line) - _left_top(last) < 1.2 * pitch:
        return False
    return lexicon().range_re.fullmatch(line.text.strip()) is not None


def _section_title(line: Line) -> str | None:
    text = line.text.strip(" :-")
    letters = sum(ch.isalpha() for ch in text)
    if letters < 3 or len(text) > MAX_SECTION_CHARS or letters < len(text) * 0.6:
        return None
    words = set(re.findall(r"[a-z]+", text.lower()))
    if text.isupper() or words & lexicon().section_words:
        return text
    return None


def parse_rows(pages: list[PageText]) -> list[RawLabRow]:
    """Turn pages of positioned words into test rows, in printed order.

    Args:
        pages: every page of one report (text layer or OCR).

    Returns:
        one row per printed test; empty when nothing looks like a test row.
    """
    shapes = repeated_lines(pages)
    rows: list[_Row] = []
    section = ""
    for page in pages:
        lines = [ln for ln in column_order(page) if not is_repeated(ln, shapes) and ln.words]
        in_table = not any(is_header(ln) for ln in lines)
        kept: list[Line] = []
        for line in lines:
            if is_header(line):
                in_table = True
            elif in_table and not is_boilerplate(line):
                kept.append(line)
        section = _parse_page(page, kept, rows, section)
    return [r.build() for r in rows]


def _starts_with_value(line: Line) -> bool:
    return VALUE_RE.match(line.words[0].text) is not None


def _parse_page(page: PageText, lines: list[Line], rows: list[_Row], section: str) -> str:
    """Append the page's rows to ``rows``; returns the section in force at the page's end.

    A value-less line is, in this order: the wrapped tail of the row above (close under it,
    flush left); the head of a name wrapped over two lines whose values sit on the next line
    (close above it: flush left, or the next line holds only values, as when a table centres
    its cells vertically); a section title; or nothing.
    """
    pitch = _pitch(lines)
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        parts = parse_line(line)
        if parts is not None:
            rows.append(_Row(parts, section, page, [line]))
            continue
        last = rows[-1] if rows and rows[-1].page is page else None
        if last is not None and _is_range_tail(line, last, pitch):
            last.extra_range.append(line.text)
            last.lines.append(line)
            continue
        if last is not None and _is_continuation(line, last, pitch):
            last.extra_name.append(line.text)
            last.lines.append(line)
            continue
        title = _section_title(line)
        nxt = lines[i] if i < len(lines) else None
        if nxt is not None and 0 < nxt.top - line.top < 0.8 * pitch:  # centred values: no x match
            alone = parse_line(nxt)
            values_only = alone is None and _starts_with_value(nxt)
            flush = abs(nxt.x0 - line.x0) <= 3 and alone is not None and title is None
            merged = parse_line(Line(line.words + nxt.words)) if values_only or flush else None
            if merged is not None:
                rows.append(_Row(merged, section, page, [line, nxt]))
                i += 1
                continue
        if title is not None:
            section = title
    return section


@dataclass(frozen=True)
class LabDocument:
    """Everything read from one lab-report PDF before interpretation.

    Attributes:
        rows: the test rows as printed, in order.
        extraction: how the text was read.
        header: the lab name and collection date when printed.
    """

    rows: list[RawLabRow]
    extraction: ExtractionInfo
    header: ReportHeader


def read_lab_pdf(
    data: bytes,
    filename: str,
    *,
    ocr: bool = True,
    limits: PdfLimits | None = None,
    ocr_engine: TesseractOcr | None = None,
) -> tuple[list[RawLabRow], ExtractionInfo]:
    """Read a lab-report PDF into rows as printed (see :func:`read_lab_document`).

    Returns:
        (rows, how the text was read).
    """
    doc = read_lab_document(data, filename, ocr=ocr, limits=limits, ocr_engine=ocr_engine)
    return doc.rows, doc.extraction


def read_lab_document(
    data: bytes,
    filename: str,
    *,
    ocr: bool = True,
    limits: PdfLimits | None = None,
    ocr_engine: TesseractOcr | None = None,
) -> LabDocument:
    """Read a lab-report PDF: rows as printed, how they were read, the letterhead.

    Args:
        data: the PDF bytes.
        filename: the name the user gave (used in error messages only).
        ocr: OCR pages that have no text layer (needs the ``ocr`` extra and Tesseract).
        limits: size, page and pixel limits (defaults: :class:`PdfLimits`).
        ocr_engine: a constructed OCR engine to reuse across documents.

    Returns:
        the rows, the extraction info and the header.

    Raises:
        InputError: a subclass naming the file and the problem — EmptyInputError,
            FileTooLargeError (and its TooManyPagesError, PageTooLargeError),
            UnsupportedFileError, CorruptFileError, EncryptedFileError, or NoResultsError when
            no row parses.
        DependencyMissingError: a scanned page needs OCR and Tesseract is missing.
    """
    limits = limits or PdfLimits()
    check_bytes(data, filename, limits)
    pdf = open_pdf(data, filename)
    pages: list[PageText] = []
    warnings: list[str] = []
    ocr_pages = 0
    try:
        check_document(pdf, filename, limits)
        for index in range(len(pdf)):
            page = pdf[index]
            try:
                text = page_text(page, index + 1)
                if has_text(text):
                    pages.append(text)
                elif ocr:
                    check_renderable(page, index + 1, filename, limits)
                    if ocr_engine is None:
                        from medflow.analyzers.labs.ocr import TesseractOcr

                        ocr_engine = TesseractOcr()
                    pages.append(ocr_engine.read_page(page, index + 1))
                    ocr_pages += 1
                else:
                    warnings.append(f"page {index + 1} has no text layer and OCR is off")
            finally:
                page.close()
    finally:
        pdf.close()
    rows = parse_rows(pages)
    if not rows:
        reason = "no lab values found"
        if warnings:
            reason += " (scanned pages were not OCR'd)"
        raise NoResultsError(filename, reason)
    info = ExtractionInfo(
        pages=len(pages) + len(warnings),
        text_pages=len(pages) - ocr_pages,
        ocr_pages=ocr_pages,
        engine="pdfium+tesseract" if ocr_pages else "pdfium",
        warnings=tuple(warnings),
    )
    return LabDocument(rows, info, read_header(pages))
