"""Bad input: delimiters, encodings, ragged rows, quoted newlines, empty, header-only, size
limit, binary files named .csv — handled or refused with a clear reason; originals untouched."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import polars as pl
import pytest
from records_csvs import GOOD_ROWS, HEADER, write_csv

from medflow.analyzers.records import (
    CheckOptions,
    ReadLimits,
    RecordsAnalyzer,
    builtin_rules,
    check_file,
)
from medflow.analyzers.records.errors import (
    CsvEncodingError,
    CsvTooLargeError,
    EmptyCsvError,
    HeaderOnlyError,
    NotCsvError,
)
from medflow.analyzers.records.rules import DecisionSpec
from medflow.errors import InputError


def _check(path: Path, out: Path, **kw: object) -> object:
    # A lenient threshold: these files are tiny, so one bad row is a large share.
    rules = builtin_rules().model_copy(update={"decision": DecisionSpec(max_failure_rate=0.9)})
    options = CheckOptions(anomalies=False, **kw)  # type: ignore[arg-type]
    return check_file(RecordsAnalyzer(rules, options), path, out)


@pytest.mark.parametrize(
    ("sep", "name"), [(";", "semicolon"), ("\t", "tab"), ("|", "pipe"), (",", "comma")]
)
def test_sniffs_the_delimiter(tmp_path: Path, sep: str, name: str) -> None:
    path = write_csv(tmp_path / f"{name}.csv", GOOD_ROWS, sep=sep)
    result = _check(path, tmp_path / "out")
    assert result.report.delimiter == sep  # type: ignore[attr-defined]
    assert result.report.rows_curated == 3  # type: ignore[attr-defined]


def test_reads_latin1(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    header = HEADER + ",comment"
    rows = [r + ",Müller café" for r in GOOD_ROWS]
    path.write_bytes(("\n".join([header, *rows]) + "\n").encode("latin-1"))
    result = _check(path, tmp_path / "out")
    assert result.report.encoding in ("cp1252", "latin-1")  # type: ignore[attr-defined]
    curated = pl.read_csv(result.files["curated_csv"])  # type: ignore[attr-defined]
    assert curated["comment"][0] == "Müller café"


def test_reads_utf8_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + ("\n".join([HEADER, *GOOD_ROWS]) + "\n").encode())
    result = _check(path, tmp_path / "out")
    assert result.report.encoding == "utf-8-sig"  # type: ignore[attr-defined]
    assert result.report.missing_columns == []  # type: ignore[attr-defined]
    assert result.report.rows_curated == 3  # type: ignore[attr-defined]


def test_ragged_rows_are_set_aside_with_their_row_and_raw_text(tmp_path: Path) -> None:
    rows = [GOOD_ROWS[0], "E10000009,P1234567,1980-05-01", GOOD_ROWS[1], GOOD_ROWS[2] + ",extra"]
    path = write_csv(tmp_path / "ragged.csv", rows)
    result = _check(path, tmp_path / "out")
    report = result.report  # type: ignore[attr-defined]
    assert report.rows_curated == 2
    assert report.rows_quarantined == 2
    unparsed = pl.read_csv(result.files["unparsed_rows"], infer_schema=False)  # type: ignore[attr-defined]
    assert unparsed["row"].to_list() == ["2", "4"]
    assert unparsed["raw"][0] == "E10000009,P1234567,1980-05-01"
    assert "3 fields, the header has 18" in unparsed["reason"][0]
    curated = pl.read_csv(result.files["curated_csv"], infer_schema=False)  # type: ignore[attr-defined]
    assert curated["encounter_id"].to_list() == ["E10000001", "E10000002"]


def test_quoted_newlines_stay_in_one_cell(tmp_path: Path) -> None:
    header = HEADER + ",note"
    rows = [GOOD_ROWS[0] + ',"line one\nline two, with comma"', GOOD_ROWS[1] + ",plain"]
    path = write_csv(tmp_path / "quoted.csv", rows, header=header)
    result = _check(path, tmp_path / "out")
    curated = pl.read_csv(result.files["curated_csv"])  # type: ignore[attr-defined]
    assert curated.height == 2
    assert curated["note"][0] == "line one\nline two, with comma"


def test_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(EmptyCsvError, match=r"empty\.csv: the file is empty"):
        _check(path, tmp_path / "out")


def test_whitespace_only_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "blank.csv"
    path.write_text("\n  \n", encoding="utf-8")
    with pytest.raises(EmptyCsvError, match=r"blank\.csv"):
        _check(path, tmp_path / "out")


def test_header_only_file_is_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "header.csv", [])
    with pytest.raises(
        HeaderOnlyError, match=r"header\.csv: the file has a header but no data rows"
    ):
        _check(path, tmp_path / "out")


def test_file_over_the_size_limit_is_refused_before_reading(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "big.csv", GOOD_ROWS * 50)
    with pytest.raises(
        CsvTooLargeError, match=r"big\.csv: the file is [\d,]+ bytes, over the 1,000-byte"
    ):
        _check(path, tmp_path / "out", limits=ReadLimits(max_bytes=1000))


def test_binary_file_named_csv_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "image.csv"
    path.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(NotCsvError, match=r"image\.csv: .*binary data, not a CSV"):
        _check(path, tmp_path / "out")


def test_workbook_named_csv_is_named_for_what_it_is(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("xl/workbook.xml", "<workbook/>")
    path = tmp_path / "export.csv"
    path.write_bytes(buf.getvalue())
    with pytest.raises(NotCsvError, match=r"export\.csv: the file is a ZIP container"):
        _check(path, tmp_path / "out")


def test_every_refusal_is_an_input_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nul.csv"
    path.write_bytes(b"a,b\n1,\x002\n")
    with pytest.raises(InputError) as info:
        _check(path, tmp_path / "out")
    assert info.value.filename == "nul.csv"


def test_originals_are_never_modified(tmp_path: Path) -> None:
    rows = [GOOD_ROWS[0], "E1,short", GOOD_ROWS[1]]
    path = tmp_path / "orig.csv"
    path.write_bytes(("\n".join([HEADER, *rows]) + "\n").encode("latin-1"))
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    _check(path, tmp_path / "out")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["orig.csv", "out"]


def test_late_non_utf8_bytes_after_an_ascii_start_are_read_as_windows_1252(
    tmp_path: Path,
) -> None:
    path = tmp_path / "late.csv"
    rows = [r + ",plain" for r in GOOD_ROWS[:2]] + [GOOD_ROWS[2] + ",café"]
    path.write_bytes(("\n".join([HEADER + ",note", *rows]) + "\n").encode("cp1252"))
    result = _check(path, tmp_path / "out", limits=ReadLimits(sample_bytes=300))
    assert result.report.encoding == "cp1252"  # type: ignore[attr-defined]
    curated = pl.read_csv(result.files["curated_csv"])  # type: ignore[attr-defined]
    assert curated["note"][2] == "café"


def test_utf8_mixed_with_other_bytes_is_refused_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    rows = [GOOD_ROWS[0] + ",é", GOOD_ROWS[1] + ",x"]
    data = ("\n".join([HEADER + ",note", *rows]) + "\n").encode() + b"E1,\xe9\n"
    path.write_bytes(data)
    with pytest.raises(CsvEncodingError, match=r"mixed\.csv: .*(UTF-8|utf-8)"):
        _check(path, tmp_path / "out", limits=ReadLimits(sample_bytes=400))
