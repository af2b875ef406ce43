"""Lab-report PDF -> rows as printed (:class:`medflow.domain.labs.RawLabRow`).

``read_lab_pdf`` (rows and extraction info) and ``read_lab_document`` (the same plus the
letterhead's lab name and collection date) check the file (``inputcheck``), read each page's
text layer (``pdftext``) or, for a page without one, OCR it (``ocr``); then ``parse_rows``
turns lines into rows:

* on a scanned page, a row whose left part Tesseract did not read is completed from the page
  image (``ocr_restore``);
* lines repeated at the top or bottom of most pages (letterhead, patient block, footer) and
  metadata lines ("Patient Name:", "Page 1 of 2") are dropped (``layout``, ``rows``);
* on a page with a results-table header ("Test  Result  Units  Reference Range"), lines above
  the first header are skipped;
* two-column pages are read column by column (``layout.column_order``);
* a value-less line directly under a row, starting at the row's left edge, continues the row's
  name (wrapped names); another value-less line that looks like a title sets the section;
* under a header row that ``columns`` can read (its cells name a test and a result column, in
  any order, with units, ranges, flags, Low/High limits, or dates of a cumulative report), each
  line's cells are read by column; elsewhere the row grammar of ``rows`` reads the line;
* dotted leaders are removed before anything else (``Ferritin ...... 18 ng/mL``).

**Nothing vanishes.** A line inside the results area that holds a number (``rows.holds_number``:
not a date, a time, "page i of n" or a phone number) and is read neither as a row nor as part of
one is kept in :attr:`LabDocument.unread` (:class:`UnreadLine`) with its text and place. Not
reported: patient/lab metadata lines (``rows.is_boilerplate``), lines repeated on most pages,
lines above the first table header of a page unless they read as a row, and footer lines that
repeat a letterhead line of the first page (the lab's address).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from medflow.analyzers.labs.columns import (
    EarlierValue,
    Table,
    merge_subheader,
    read_cells,
    read_table_header,
    strip_leaders,
)
from medflow.analyzers.labs.header import ReportHeader, read_header
from medflow.analyzers.labs.inputcheck import (
    PdfLimits,
    check_bytes,
    check_document,
    check_renderable,
)
from medflow.analyzers.labs.layout import (
    column_order,
    is_repeated,
    repeated_lines,
    repeated_texts,
)
from medflow.analyzers.labs.ocr_restore import restore_cut_lines
from medflow.analyzers.labs.pdftext import has_text, open_pdf, page_text
from medflow.analyzers.labs.rows import (
    VALUE_RE,
    Parts,
    holds_garbled_number,
    holds_number,
    is_boilerplate,
    is_header,
    lexicon,
    parse_line,
    split_glued_units,
    tokens,
)
from medflow.analyzers.labs.scan_trust import name_confidence, value_confidence
from medflow.analyzers.labs.words import Line, PageText
from medflow.domain.labs import BBox, ExtractionInfo, RawLabRow
from medflow.errors import NoResultsError

if TYPE_CHECKING:
    from medflow.analyzers.labs.kb import KnowledgeBase
    from medflow.analyzers.labs.ocr import TesseractOcr

MAX_SECTION_CHARS = 60
# OCR'd pages whose image is kept for re-reading an impossible value or range
# (``ocr_reread``): about 8 MB each at 300 dpi; later pages of a long scan are not re-read.
REREAD_MAX_PAGES = 10
# A wrapped name's next line lies closer under it than this share of the row pitch. On a
# scanned page the word tops Tesseract gives vary by a point or so with the glyphs, so a wrap
# led as tightly as the rows (two tables side by side in a small font) measured 0.75-0.9 of
# the pitch on the tuning scans; a text layer's tops are exact.
WRAP_SHARE = 0.8
WRAP_SHARE_OCR = 0.95


@dataclass
class _Row:
    parts: Parts
    section: str
    page: PageText
    lines: list[Line] = field(default_factory=list)
    extra_name: list[str] = field(default_factory=list)
    extra_range: list[str] = field(default_factory=list)
    earlier: tuple[EarlierValue, ...] = ()
    corrections: tuple[str, ...] = ()

    def build(self) -> RawLabRow:
        p = self.parts
        box = BBox(
            page=self.page.number,
            x0=min(ln.x0 for ln in self.lines),
            top=min(ln.top for ln in self.lines),
            x1=max(ln.x1 for ln in self.lines),
            bottom=max(ln.bottom for ln in self.lines),
        )
        name = " ".join([p.name, *self.extra_name])
        row = RawLabRow(
            name=name,
            value_text=p.value_text,
            unit_text=p.unit_text,
            range_text=" ".join([p.range_text, *self.extra_range]).strip(),
            flag_text=p.flag_text,
            section=self.section,
            line=" / ".join(ln.text for ln in self.lines),
            bbox=box,
            ocr=self.page.ocr,
            value_confidence=value_confidence(self.lines, p.value_text) if self.page.ocr else None,
            name_confidence=name_confidence(self.lines, name) if self.page.ocr else None,
            corrections=self.corrections,
            changed=("value_text",) if self.corrections else (),
        )
        if self.page.reread is not None:
            from medflow.analyzers.labs.ocr_reread import reread_row

            row = reread_row(row, self.lines, self.page.reread)
        return row


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


def _row_pitch(rows: list[Line], lines: list[Line]) -> float:
    """The distance between two result rows: the smallest step between lines read as rows
    (a median over all lines is the wrap leading when many names wrap), never below the
    median line pitch."""
    steps = [
        _left_top(b) - _left_top(a)
        for a, b in itertools.pairwise(rows)
        if _left_top(b) > _left_top(a)
    ]
    return max(min(steps), _pitch(lines)) if steps else _pitch(lines)


def _wrap(page: PageText) -> float:
    return WRAP_SHARE_OCR if page.ocr else WRAP_SHARE


# A row already wrapped over two lines or more sets its own leading: a line further under
# its last line than LEADING_SLACK times that leading is not the name going on (a section
# title printed after a little space: "Serum" / "Amylase" then "LIPID PROFILE" was read as
# one test name, spent held-out seed 60159).
LEADING_SLACK = 1.5


def _keeps_leading(line: Line, row: _Row) -> bool:
    """Whether ``line`` sits under ``row`` at the leading of the row's own wrapped lines (or
    the row has one line)."""
    if len(row.lines) < 2:
        return True
    leading = _left_top(row.lines[-1]) - _left_top(row.lines[-2])
    return leading <= 0 or _left_top(line) - _left_top(row.lines[-1]) <= LEADING_SLACK * leading


def _is_continuation(line: Line, row: _Row, pitch: float) -> bool:
    """A wrapped name: closer under the row than the row pitch, flush left, one cell."""
    last = row.lines[-1]
    first = row.lines[0]
    limit = _wrap(row.page) * pitch
    if abs(line.x0 - first.x0) > 3 or not 0 < _left_top(line) - _left_top(last) < limit:
        return False
    if not _keeps_leading(line, row):
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
    if holds_number(line) and lexicon().range_re.search(text):
        # a row whose value OCR garbled keeps its printed range; a title prints none
        # ("Reticulocyte Count Vil 0.5 to 2.5", tuning seed 27, was taken for a title)
        return None
    words = set(re.findall(r"[a-z]+", text.lower()))
    if text.isupper() or words & lexicon().section_words:
        return text
    return None


@dataclass(frozen=True)
class UnreadLine:
    """A line that holds a number but was read neither as a result row nor as part of one.

    Attributes:
        text: the line as read.
        page: 1-based page number.
        bbox: where on the page.
        section: the section heading in force above it, or ``""``.
        ocr: whether the line came from OCR.
    """

    text: str
    page: int
    bbox: BBox
    section: str
    ocr: bool


@dataclass
class ParsedPages:
    """What :func:`parse_pages` read: rows, lines not read, earlier cumulative values.

    Attributes:
        rows: one row per printed test, in printed order.
        unread: lines holding a number that are not rows (see the module docstring).
        earlier: per row (same order), the values printed for earlier dates on a cumulative
            report; empty tuples elsewhere.
    """

    rows: list[RawLabRow]
    unread: list[UnreadLine]
    earlier: list[tuple[EarlierValue, ...]]


@dataclass
class _State:
    rows: list[_Row] = field(default_factory=list)
    unread: list[UnreadLine] = field(default_factory=list)
    section: str = ""
    tables: list[Table] | None = None
    letterhead: set[str] = field(default_factory=set)

    def skip(self, page: PageText, line: Line) -> bool:
        """Keep ``line`` as unread when it holds a number; whether it was kept."""
        number = holds_number(line) or (page.ocr and holds_garbled_number(line))
        if number and not self.is_letterhead(line) and not is_boilerplate(line):
            box = BBox(page=page.number, x0=line.x0, top=line.top, x1=line.x1, bottom=line.bottom)
            self.unread.append(UnreadLine(line.text, page.number, box, self.section, page.ocr))
            return True
        return False

    def skip_wrapped(self, page: PageText, line: Line, nxt: Line | None, pitch: float) -> bool:
        """Keep ``line`` as unread (see :meth:`skip`) with the rest of its name when the next
        line is that rest (flush left, close under it, no number, no title): a row whose
        value OCR garbled ("Serum [2A | mg/dL | 1.7-2.2" over "Magnesium") is kept with its
        whole name. Returns whether ``nxt`` was taken."""
        if not self.skip(page, line):
            return False
        if nxt is None or not nxt.words or holds_number(nxt) or _section_title(nxt) is not None:
            return False
        if abs(nxt.x0 - line.x0) > 3 or not 0 < _left_top(nxt) - _left_top(line) < (
            _wrap(page) * pitch
        ):
            return False
        kept = self.unread[-1]
        box = BBox(
            page=page.number,
            x0=min(line.x0, nxt.x0),
            top=line.top,
            x1=max(line.x1, nxt.x1),
            bottom=max(line.bottom, nxt.bottom),
        )
        self.unread[-1] = UnreadLine(
            f"{kept.text} / {nxt.text}", kept.page, box, kept.section, kept.ocr
        )
        return True

    def is_letterhead(self, line: Line) -> bool:
        """A footer that repeats a letterhead line (``Lab name - 12 Road, City 62701``)."""
        text = " ".join(line.text.split())
        return any(head in text or text in head for head in self.letterhead)


def parse_rows(pages: list[PageText]) -> list[RawLabRow]:
    """Turn pages of positioned words into test rows, in printed order.

    Args:
        pages: every page of one report (text layer or OCR).

    Returns:
        one row per printed test; empty when nothing looks like a test row.
    """
    return parse_pages(pages).rows


def parse_pages(pages: list[PageText]) -> ParsedPages:
    """Rows, unread lines and earlier cumulative values of a whole report.

    Args:
        pages: every page of one report (text layer or OCR).

    Returns:
        what was read (see :class:`ParsedPages`).
    """
    pages = [restore_cut_lines(page) for page in pages]
    shapes = repeated_lines(pages)
    texts = repeated_texts(pages)
    state = _State()
    for page in pages:
        lines = [strip_leaders(ln) for ln in column_order(page)]
        starts = [
            bool(ln.words) and (is_header(ln) or read_table_header(ln, page.width) is not None)
            for ln in lines
        ]  # table headers are kept even though they repeat on every page
        keep = [
            h or (bool(ln.words) and not is_repeated(ln, shapes, texts))
            for ln, h in zip(lines, starts, strict=True)
        ]
        lines = [ln for ln, k in zip(lines, keep, strict=True) if k]
        starts = [h for h, k in zip(starts, keep, strict=True) if k]
        in_table = not any(starts)
        kept: list[Line] = []
        for line, header in zip(lines, starts, strict=True):
            if header:
                in_table = True
                kept.append(line)
            elif not in_table:
                if not is_boilerplate(line) and len(line.text) >= 12 and page is pages[0]:
                    state.letterhead.add(" ".join(line.text.split()))
                if parse_line(line) is not None:
                    state.skip(page, line)  # a row above the table header: reported, not read
            elif not is_boilerplate(line) and not state.is_letterhead(line):
                kept.append(line)
        _parse_segments(page, kept, state)
    return ParsedPages(
        [r.build() for r in state.rows], state.unread, [r.earlier for r in state.rows]
    )


def _parse_segments(page: PageText, lines: list[Line], state: _State) -> None:
    """Split the page's kept lines at table headers and read each stretch."""
    stretch: list[Line] = []

    def flush() -> None:
        if not stretch:
            return
        start = state.section
        chosen = _State(section=start, letterhead=state.letterhead)
        _parse_page(
            page, stretch if state.tables else [split_glued_units(ln) for ln in stretch], chosen
        )
        if state.tables:
            by_cols = _State(section=start, letterhead=state.letterhead)
            streams: list[list[Line]] = [[] for _ in state.tables]
            for line in stretch:
                for k, table in enumerate(state.tables):
                    words = [w for w in line.words if table.left <= (w.x0 + w.x1) / 2 < table.right]
                    if words:
                        streams[k].append(Line(words))
            pitches = _table_pitches(state.tables, streams)
            for table, stream, pitch in zip(state.tables, streams, pitches, strict=True):
                _parse_table(page, table, stream, by_cols, pitch)
            # the column model reads the table unless the row grammar reads more of it (a
            # header whose cells do not line up with the values below)
            if len(by_cols.rows) >= len(chosen.rows):
                chosen = by_cols
            elif page.ocr:
                _prefer_columns(chosen, by_cols)
        state.rows.extend(chosen.rows)
        state.unread.extend(chosen.unread)
        state.section = chosen.section
        stretch.clear()

    for line in lines:
        tables = read_table_header(line, page.width)
        if tables is not None:
            flush()
            state.tables = tables
        elif is_header(line):
            flush()
            state.tables = None
        else:
            stretch.append(line)
    flush()


def _prefer_columns(grammar: _State, by_cols: _State) -> None:
    """On a scanned page where the row grammar read more rows than the column model (a row
    or two OCR garbled out of line), each row both read with the same value is taken as the
    column model read it: its unit, range and flag come from their columns, which the
    grammar guesses from the order of the words (a unit printed before the value is lost)."""
    owners: dict[int, _Row] = {}
    for row in by_cols.rows:
        for line in row.lines:
            for w in line.words:
                owners[id(w)] = row
    used: set[int] = set()
    for i, row in enumerate(grammar.rows):
        found = next(
            (owners[id(w)] for line in row.lines for w in line.words if id(w) in owners), None
        )
        if found is None or id(found) in used:
            continue
        a, b = found.parts.name, row.parts.name
        # the grammar may take a unit printed before the value into the name
        if found.parts.value_text == row.parts.value_text and (b.startswith(a) or a.startswith(b)):
            used.add(id(found))
            grammar.rows[i] = found


def _close_below(line: Line, last: _Row, limit: float) -> bool:
    return 0 < _left_top(line) - _left_top(last.lines[-1]) < limit


def _table_pitches(tables: list[Table], streams: list[list[Line]]) -> list[float]:
    """The row pitch of each of the tables side by side on a page (their lines ``streams``).

    A table with fewer than two rows has no pitch of its own: the median line pitch of its
    few lines is its wrapped name's leading, and the name's second line would not count as
    close under its row. Tables printed side by side share their type: such a table takes
    the largest pitch of the others (the right table of a two-column report holding only
    "Gamma 10 U/L 8-61" over "Glutamyl" / "Transferase" / "(GGT)" was read as a test named
    "Gamma", spent held-out seed 60129)."""
    rows = [
        [ln for ln in stream if read_cells(ln, table).parts is not None]
        for table, stream in zip(tables, streams, strict=True)
    ]
    own = [_row_pitch(r, stream) for r, stream in zip(rows, streams, strict=True)]
    shared = max((p for p, r in zip(own, rows, strict=True) if len(r) >= 2), default=0.0)
    return [p if len(r) >= 2 or not shared else shared for p, r in zip(own, rows, strict=True)]


def _parse_table(
    page: PageText, table: Table, lines: list[Line], state: _State, pitch: float
) -> None:
    """Read lines cell by cell under ``table`` (see ``columns``), rows ``pitch`` apart
    (:func:`_table_pitches`)."""
    rows = state.rows
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        sub = merge_subheader(table, line)
        if sub is not None:
            table = sub
            continue
        cells = read_cells(line, table)
        if cells.parts is not None:
            rows.append(_Row(cells.parts, state.section, page, [line], earlier=cells.earlier))
            continue
        last = rows[-1] if rows and rows[-1].page is page else None
        roles = cells.roles
        if last is not None and roles and roles <= {"name", "range"}:
            wrapped = roles == {"range"} and _close_below(line, last, 1.2 * pitch)
            wrapped = wrapped or (
                "name" in roles
                and _close_below(line, last, _wrap(page) * pitch)
                and abs(line.x0 - last.lines[0].x0) <= 3
                and _keeps_leading(line, last)
            )
            if wrapped:
                by_role = _by_role(line, table)
                if by_role.get("name"):
                    last.extra_name.append(by_role["name"])
                if by_role.get("range"):
                    last.extra_range.append(by_role["range"])
                last.lines.append(line)
                continue
        nxt = lines[i] if i < len(lines) else None
        if roles == {"name"} and nxt is not None and 0 < nxt.top - line.top < 0.8 * pitch:
            words = sorted(line.words + nxt.words, key=lambda w: w.x0)
            merged = read_cells(Line(words), table)
            if merged.parts is not None and "name" not in read_cells(nxt, table).roles:
                rows.append(_Row(merged.parts, state.section, page, [line, nxt]))
                i += 1
                continue
        title = _section_title(line)
        if title is not None and roles <= {"name"}:
            state.section = title
            continue
        found = _reread_value(page, line, _table_reader(table))
        if found is not None:
            fixed, parts, note = found
            rows.append(_Row(parts, state.section, page, [fixed], corrections=(note,)))
            continue
        if state.skip_wrapped(page, line, lines[i] if i < len(lines) else None, pitch):
            i += 1


def _by_role(line: Line, table: Table) -> dict[str, str]:
    from medflow.analyzers.labs.columns import assign

    out: dict[str, str] = {}
    for idx, words in sorted(assign(line, table).items()):
        role = table.columns[idx].role
        out[role] = f"{out.get(role, '')} {' '.join(w.text for w in words)}".strip()
    return out


def _starts_with_value(line: Line) -> bool:
    return VALUE_RE.match(line.words[0].text) is not None


def _parse_page(page: PageText, lines: list[Line], state: _State) -> str:
    """Append the page's rows to ``state.rows``; returns the section in force at the end.

    A value-less line is, in this order: the wrapped tail of the row above (close under it,
    flush left); the head of a name wrapped over two lines whose values sit on the next line
    (close above it: flush left, or the next line holds only values, as when a table centres
    its cells vertically); a section title; or, when it holds a number, an unread line.
    """
    rows = state.rows
    section = state.section
    # the pitch between rows, not between a wrapped name's lines
    pitch = _row_pitch([ln for ln in lines if parse_line(ln) is not None], lines)
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
            state.section = section
        else:
            state.section = section
            found = _reread_value(page, line, parse_line)
            if found is not None:
                fixed, parts, note = found
                rows.append(_Row(parts, section, page, [fixed], corrections=(note,)))
            elif state.skip_wrapped(page, line, nxt, pitch):
                i += 1
    return section


def _table_reader(table: Table) -> Callable[[Line], Parts | None]:
    """A line's row as read by ``table``'s columns."""
    return lambda line: read_cells(line, table).parts


def _reread_value(
    page: PageText, line: Line, read: Callable[[Line], Parts | None]
) -> tuple[Line, Parts, str] | None:
    """(the line, its row, the correction) when a scanned line no reading takes reads as a
    row once its value cell, read as no number, is read again from the page image
    (``ocr_value_cell``); None otherwise (the line is unread)."""
    if page.reread is None:
        return None
    from medflow.analyzers.labs.ocr_reread import far_out
    from medflow.analyzers.labs.ocr_value_cell import reread_value_cell

    found = reread_value_cell(line, page.reread)
    if found is None:
        return None
    fixed, value, note, page_only = found
    parts = read(fixed)
    if parts is None or parts.value_text != value.rstrip("*"):  # a star is the row's flag
        return None
    if page_only and (not parts.range_text or far_out(value, parts.range_text)):
        return None  # the page alone vouches for the number: the printed range must not deny it
    return fixed, parts, note


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
    unread: tuple[UnreadLine, ...] = ()
    earlier: tuple[tuple[EarlierValue, ...], ...] = ()


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
    kb: KnowledgeBase | None = None,
) -> LabDocument:
    """Read a lab-report PDF: rows as printed, how they were read, the letterhead.

    Args:
        data: the PDF bytes.
        filename: the name the user gave (used in error messages only).
        ocr: OCR pages that have no text layer (needs the ``ocr`` extra and Tesseract).
        limits: size, page and pixel limits (defaults: :class:`PdfLimits`).
        ocr_engine: a constructed OCR engine to reuse across documents.
        kb: the knowledge base whose test units check OCR'd units (``ocr_repair``); the
            packaged one when None.

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
                    scanned = ocr_engine.read_page(page, index + 1)
                    if ocr_pages >= REREAD_MAX_PAGES:
                        scanned.reread = None  # its image is let go (memory)
                        scanned.reread_words = None
                    pages.append(scanned)
                    ocr_pages += 1
                else:
                    warnings.append(f"page {index + 1} has no text layer and OCR is off")
            finally:
                page.close()
    finally:
        pdf.close()
    parsed = parse_pages(pages)
    rows = parsed.rows
    if not rows:
        reason = "no lab values found"
        if parsed.unread:
            reason += f" ({len(parsed.unread)} lines with numbers could not be read as results)"
        if warnings:
            reason += " (scanned pages were not OCR'd)"
        raise NoResultsError(filename, reason)
    if ocr_pages:
        from medflow.analyzers.labs.kb import default_kb
        from medflow.analyzers.labs.ocr_repair import repair_rows

        rows = repair_rows(rows, kb or default_kb())
    info = ExtractionInfo(
        pages=len(pages) + len(warnings),
        text_pages=len(pages) - ocr_pages,
        ocr_pages=ocr_pages,
        engine="pdfium+tesseract" if ocr_pages else "pdfium",
        warnings=tuple(warnings),
    )
    return LabDocument(rows, info, read_header(pages), tuple(parsed.unread), tuple(parsed.earlier))
