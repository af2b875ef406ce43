"""Reading a CSV safely: size limit, binary sniffing, encoding, delimiter, ragged rows.

:func:`inspect_csv` looks at the first megabyte only and refuses what cannot be a CSV with an
:class:`~medflow.errors.InputError` naming the file. :func:`prepare_csv` then makes a UTF-8 file
Polars can stream: the original itself when it is UTF-8 and every record has the header's field
count (checked in one vectorised pass), otherwise a normalised copy in a work folder, written by
an exact record-by-record pass that sets ragged records aside with their row numbers. The original
is only ever read.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from medflow.analyzers.records.errors import (
    CsvEncodingError,
    CsvParseError,
    CsvTooLargeError,
    EmptyCsvError,
    HeaderOnlyError,
    NotCsvError,
)

SOURCE_ROW = "__source_row"
"""Column added to a normalised copy: the record's 1-based data-row number in the original."""

_DELIMITERS = (",", ";", "\t", "|")
_MAGIC = {
    b"PK\x03\x04": "a ZIP container (an .xlsx workbook?)",
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"\xd0\xcf\x11\xe0": "an OLE2 file (an .xls workbook?)",
    b"\x1f\x8b": "a gzip archive",
    b"PAR1": "a Parquet file",
}
_TEXT_CONTROL = {9, 10, 12, 13}


@dataclass(frozen=True)
class ReadLimits:
    """Limits applied before any row is read.

    Attributes:
        max_bytes: larger files are refused (streaming handles big files; this is a policy cap).
        sample_bytes: how much of the file is sniffed for encoding, delimiter and header.
    """

    max_bytes: int = 20 * 1024**3
    sample_bytes: int = 1024 * 1024


@dataclass(frozen=True)
class CsvFormat:
    """What the sniffer found.

    Attributes:
        encoding: ``utf-8``, ``utf-8-sig`` (UTF-8 with BOM), ``utf-16`` or ``cp1252``/``latin-1``.
        delimiter: one of ``, ; TAB |``.
        header: the header's column names as written.
        size_bytes: the file's size.
    """

    encoding: str
    delimiter: str
    header: tuple[str, ...]
    size_bytes: int


@dataclass
class PreparedCsv:
    """A UTF-8 file ready for Polars, plus the records that could not be placed in columns.

    Attributes:
        path: the file to read (the original, or a normalised copy).
        delimiter: its delimiter.
        has_source_row: the file carries :data:`SOURCE_ROW` (a normalised copy).
        ragged_path: a CSV of set-aside records (``row, fields, reason, raw``), or None.
        ragged_rows: how many records were set aside.
    """

    path: Path
    delimiter: str
    has_source_row: bool = False
    ragged_path: Path | None = None
    ragged_rows: int = 0
    notes: list[str] = field(default_factory=list)


def _sniff_encoding(name: str, sample: bytes, complete: bool) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(sample, final=complete)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        sample.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def _refuse_binary(name: str, sample: bytes) -> None:
    for magic, what in _MAGIC.items():
        if sample.startswith(magic):
            raise NotCsvError(name, f"the file is {what}, not a CSV")
    if b"\x00" in sample:
        raise NotCsvError(name, "the file holds NUL bytes: binary data, not a CSV")
    control = sum(1 for b in sample if b < 32 and b not in _TEXT_CONTROL)
    if control > max(8, len(sample) // 100):
        raise NotCsvError(name, "the file holds control bytes: binary data, not a CSV")


def _sniff_delimiter(lines: list[str]) -> str:
    best, best_score = ",", (0.0, 0)
    for delim in _DELIMITERS:
        counts = [len(r) for r in csv.reader(lines, delimiter=delim) if r]
        if not counts:
            continue
        mode, freq = Counter(counts).most_common(1)[0]
        if mode < 2:
            continue
        score = (freq / len(counts), mode)
        if score > best_score:
            best, best_score = delim, score
    return best


def inspect_csv(path: str | Path, limits: ReadLimits | None = None) -> CsvFormat:
    """Sniff a CSV's encoding, delimiter and header; refuse what cannot be read.

    Raises:
        EmptyCsvError: 0 bytes or whitespace only.
        CsvTooLargeError: over ``limits.max_bytes``.
        NotCsvError: binary content (NUL or control bytes, a known binary signature).
        HeaderOnlyError: a header and no data rows.
        CsvParseError: the header repeats a column name.
    """
    limits = limits or ReadLimits()
    p = Path(path)
    size = p.stat().st_size
    if size == 0:
        raise EmptyCsvError(p.name, "the file is empty (0 bytes)")
    if size > limits.max_bytes:
        raise CsvTooLargeError(
            p.name, f"the file is {size:,} bytes, over the {limits.max_bytes:,}-byte limit"
        )
    with p.open("rb") as fh:
        sample = fh.read(limits.sample_bytes)
    complete = len(sample) >= size
    encoding = _sniff_encoding(p.name, sample, complete)
    if encoding != "utf-16":
        _refuse_binary(p.name, sample)
    text = sample.decode(encoding, errors="ignore")
    if not text.strip():
        raise EmptyCsvError(p.name, "the file holds only whitespace")
    lines = text.splitlines()
    if not complete and len(lines) > 1:
        lines = lines[:-1]
    delimiter = _sniff_delimiter(lines[:200])
    records = [r for r in csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter) if r]
    header = tuple(h.strip() for h in records[0])
    if complete and len(records) < 2:
        raise HeaderOnlyError(p.name, "the file has a header but no data rows")
    named = [h for h in header if h]
    repeated = sorted({h for h in named if named.count(h) > 1})
    if repeated:
        raise CsvParseError(p.name, f"the header repeats column names: {', '.join(repeated)}")
    return CsvFormat(encoding=encoding, delimiter=delimiter, header=header, size_bytes=size)


_CHUNK = 1 << 24
_FEW_QUOTED_LINES = 20_000
_QUOTED = re.compile(r'"(?:[^"]|"")*"')


def _byte_counts(path: Path, delimiter: str) -> tuple[int, int, list[int], bool]:
    """(delimiters, line feeds, offsets of quote characters, ends with a line feed).

    Counted in chunks with numpy; quote offsets are kept only while they are few (the caller
    then looks at those lines alone), past :data:`_FEW_QUOTED_LINES` the list stops growing and
    the caller takes the whole-file route.
    """
    import numpy as np

    d, nl, q = ord(delimiter), ord("\n"), ord('"')
    delims = lines = 0
    quotes: list[int] = []
    many = False
    last = b""
    offset = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            arr = np.frombuffer(chunk, dtype=np.uint8)
            delims += int(np.count_nonzero(arr == d))
            lines += int(np.count_nonzero(arr == nl))
            if not many:
                found = np.flatnonzero(arr == q)
                if len(quotes) + found.size > 2 * _FEW_QUOTED_LINES:
                    many = True
                    quotes = [-1]
                else:
                    quotes.extend((found + offset).tolist())
            offset += len(chunk)
            last = chunk[-1:]
    return delims, lines, quotes, last == b"\n"


def _quoted_lines(path: Path, quotes: list[int]) -> list[bytes]:
    """The distinct lines holding the given quote offsets, read from the file by offset.

    Plain seeks and small reads (not a memory map), so the pages read are not charged to the
    process as resident memory.
    """
    out: list[bytes] = []
    window = 1 << 13
    with path.open("rb") as fh:
        end = -1
        for pos in quotes:
            if pos <= end:
                continue
            start = pos
            while start > 0:
                lo = max(0, start - window)
                fh.seek(lo)
                cut = fh.read(start - lo).rfind(b"\n")
                if cut >= 0:
                    start = lo + cut + 1
                    break
                start = lo
            fh.seek(start)
            line = b""
            while True:
                block = fh.read(window)
                cut = block.find(b"\n")
                if cut >= 0 or not block:
                    line += block if cut < 0 else block[:cut]
                    break
                line += block
            end = start + len(line)
            out.append(line)
    return out


def _inside_quotes(lines: list[bytes], delimiter: str) -> int | None:
    """Delimiters inside quoted sections of these lines; None when a line's quotes are odd."""
    inside = 0
    for raw in lines:
        line = raw.decode("utf-8", errors="replace")
        if line.count('"') % 2:
            return None
        inside += line.count(delimiter) - _QUOTED.sub("", line).count(delimiter)
    return inside


def _inside_quotes_scan(path: Path, delimiter: str) -> int | None:
    """:func:`_inside_quotes` over the whole file in one Polars pass (many quoted lines)."""
    import polars as pl

    line = pl.col("line")
    unquoted = line.str.replace_all(_QUOTED.pattern, "")
    count = line.str.count_matches(delimiter, literal=True)
    try:
        out = (
            pl.scan_csv(
                path,
                has_header=False,
                separator="\x1f",
                quote_char=None,
                schema={"line": pl.String},
                empty_string_is_null=False,
            )
            .filter(line.str.contains('"', literal=True))
            .select(
                (count - unquoted.str.count_matches(delimiter, literal=True)).sum().alias("inside"),
                (line.str.count_matches('"', literal=True) % 2 == 1).any().alias("odd"),
            )
            .collect(engine="streaming")
        )
    except pl.exceptions.PolarsError:
        return None
    if out["odd"][0]:
        return None
    return int(out["inside"][0] or 0)


def _fields_consistent(path: Path, fmt: CsvFormat) -> bool:
    """Does every record hold the header's field count? Cheap passes, no parsing.

    numpy counts delimiters and line feeds over the whole file in chunks and notes where the
    quote characters are; the delimiters inside quoted sections are then counted on the lines
    that hold a quote (read by offset when they are few, by one Polars pass when they are many).
    Every record has the header's width exactly when ``delimiters - quoted delimiters == records
    x (fields - 1)``. A short line balanced by a long one passes here, but Polars refuses the long
    line when it reads the file and the caller falls back to the exact pass; a line with an odd
    number of quotes (a quoted newline) sends the file to the exact pass at once.
    """
    delims, lines, quotes, trailing = _byte_counts(path, fmt.delimiter)
    records = lines if trailing else lines + 1
    if quotes == [-1]:
        inside = _inside_quotes_scan(path, fmt.delimiter)
    elif quotes:
        inside = _inside_quotes(_quoted_lines(path, quotes), fmt.delimiter)
    else:
        inside = 0
    if inside is None:
        return False
    return delims - inside == records * (len(fmt.header) - 1)


def prepare_csv(
    path: str | Path, fmt: CsvFormat, workdir: str | Path, *, force_exact: bool = False
) -> PreparedCsv:
    """Make a UTF-8 file Polars can stream, setting aside records of the wrong width.

    Args:
        path: the original CSV (never written).
        fmt: what :func:`inspect_csv` found.
        workdir: where a normalised copy and the set-aside records are written when needed.
        force_exact: skip the fast check and always run the exact record-by-record pass.

    Returns:
        The file to read; ``ragged_path`` lists records whose field count differs from the
        header's, each with its row number and the raw text, so nothing is lost.

    Raises:
        CsvEncodingError: a byte sequence does not decode in the sniffed encoding.
        CsvParseError: the quoting is broken (a quote never closed).
    """
    p = Path(path)
    utf8 = fmt.encoding in ("utf-8", "utf-8-sig")
    if utf8 and not force_exact and _fields_consistent(p, fmt):
        return PreparedCsv(path=p, delimiter=fmt.delimiter)
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    out_path = work / f"{p.stem}.normalised.csv"
    ragged_path = work / f"{p.stem}.ragged.csv"
    width = len(fmt.header)
    ragged = 0
    csv.field_size_limit(1 << 30)
    try:
        with (
            p.open("r", encoding=fmt.encoding, newline="") as src,
            out_path.open("w", encoding="utf-8", newline="") as dst,
            ragged_path.open("w", encoding="utf-8", newline="") as rag,
        ):
            reader = csv.reader(src, delimiter=fmt.delimiter, strict=True)
            writer = csv.writer(dst)
            rag_writer = csv.writer(rag)
            rag_writer.writerow(["row", "fields", "reason", "raw"])
            next(reader, None)
            writer.writerow([*fmt.header, SOURCE_ROW])
            row = 0
            for record in reader:
                if not record or record == [""]:
                    continue
                row += 1
                if len(record) == width:
                    writer.writerow([*record, row])
                    continue
                ragged += 1
                reason = f"row has {len(record)} fields, the header has {width}"
                rag_writer.writerow([row, len(record), reason, fmt.delimiter.join(record)])
    except UnicodeDecodeError as exc:
        raise CsvEncodingError(
            p.name, f"bytes at offset {exc.start} are not valid {fmt.encoding}"
        ) from exc
    except csv.Error as exc:
        raise CsvParseError(p.name, f"the CSV quoting is broken ({exc})") from exc
    if ragged == 0:
        ragged_path.unlink()
    if row == 0:
        raise HeaderOnlyError(p.name, "the file has a header but no data rows")
    return PreparedCsv(
        path=out_path,
        delimiter=",",
        has_source_row=True,
        ragged_path=ragged_path if ragged else None,
        ragged_rows=ragged,
    )
