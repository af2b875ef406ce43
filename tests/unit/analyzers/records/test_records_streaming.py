"""The streaming paths of the records check: the width pre-pass and the bounded key count."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from records_csvs import GOOD_ROWS, write_csv

from medflow.analyzers.records import ingest
from medflow.analyzers.records.analyzer import repeated_hashes
from medflow.analyzers.records.ingest import inspect_csv, prepare_csv

QUOTED = [
    GOOD_ROWS[0].replace("E10000001,P1234567", 'E10000001,"P12,34567"'),
    GOOD_ROWS[1].replace("E10000002,", '"E10000002",'),
    GOOD_ROWS[2],
]


@pytest.mark.parametrize("few", [True, False], ids=["quoted-lines-read-by-offset", "one-scan"])
def test_quoted_delimiters_keep_the_fast_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, few: bool
) -> None:
    if not few:
        monkeypatch.setattr(ingest, "_FEW_QUOTED_LINES", 0)
    path = write_csv(tmp_path / "quoted.csv", QUOTED)
    prepared = prepare_csv(path, inspect_csv(path), tmp_path / "work")
    # No normalised copy: the file was read in place.
    assert prepared.path == path
    assert not prepared.has_source_row


@pytest.mark.parametrize("few", [True, False], ids=["quoted-lines-read-by-offset", "one-scan"])
def test_a_short_row_among_quoted_lines_takes_the_exact_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, few: bool
) -> None:
    if not few:
        monkeypatch.setattr(ingest, "_FEW_QUOTED_LINES", 0)
    short = "E10000009,P1234567,1980-05-01"
    path = write_csv(tmp_path / "short.csv", [*QUOTED, short])
    prepared = prepare_csv(path, inspect_csv(path), tmp_path / "work")
    assert prepared.has_source_row
    assert prepared.ragged_rows == 1


def test_an_unclosed_quote_on_a_line_takes_the_exact_pass(tmp_path: Path) -> None:
    multiline = GOOD_ROWS[0].replace("E10000001,", '"E1000\n0001",')
    path = write_csv(tmp_path / "newline.csv", [multiline, GOOD_ROWS[1]])
    prepared = prepare_csv(path, inspect_csv(path), tmp_path / "work")
    assert prepared.has_source_row
    assert prepared.ragged_rows == 0


def test_repeated_keys_are_found_across_parts(tmp_path: Path) -> None:
    hashes = pl.Series("__key_id", [1, 2, 3, 4, 5, 6, 7, 2, 9, 5, None, None], dtype=pl.UInt64)
    table = pl.DataFrame(hashes).lazy()
    whole = sorted(repeated_hashes(table, "__key_id", part_rows=100).to_list())
    parted = sorted(repeated_hashes(table, "__key_id", part_rows=3).to_list())
    assert whole == parted == [2, 5]


def test_exact_duplicates_are_found_across_parts() -> None:
    from medflow.analyzers.records.analyzer import _duplicates
    from medflow.analyzers.records.frame import COPIES, FIRST, HASH, ROW

    hashes = [11, 12, 13, 11, 14, 15, 12, 11, 16, 17]
    table = pl.DataFrame(
        {ROW: list(range(1, 11)), HASH: hashes}, schema={ROW: pl.Int64, HASH: pl.UInt64}
    ).lazy()
    for part_rows in (100, 3):
        found = _duplicates(table, part_rows).sort(HASH)
        assert found.select(HASH, FIRST, COPIES).rows() == [(11, 1, 3), (12, 2, 2)]


def test_a_short_row_alone_is_set_aside_by_the_width_check(tmp_path: Path) -> None:
    # Polars pads a short row with empty cells without complaint; only the width check can
    # see it, and must send the file to the exact pass.
    from medflow.analyzers.records import CheckOptions, RecordsAnalyzer, check_file

    path = write_csv(tmp_path / "short.csv", [*GOOD_ROWS, "E10000009,P1234567,1980-05-01"])
    result = check_file(
        RecordsAnalyzer(options=CheckOptions(anomalies=False)), path, tmp_path / "o"
    )
    unparsed = pl.read_csv(result.files["unparsed_rows"], infer_schema=False)
    assert unparsed["row"].to_list() == ["4"]
    assert "3 fields, the header has 18" in unparsed["reason"][0]
    assert result.report.records == 4
