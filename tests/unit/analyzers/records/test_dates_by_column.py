"""Cleaning never changes meaning, dates: one format per column, decided from all its values;
ambiguous columns left as written and reported; timestamps keep their time."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from medflow.analyzers.records import CheckOptions, RecordsAnalyzer, check_file
from medflow.analyzers.records.dates import decide, family
from medflow.analyzers.records.rules import rules_from_dict

TODAY = dt.date(2026, 1, 1)


def _check(path: Path, out: Path, columns: dict[str, object]) -> object:
    rules = rules_from_dict(
        {
            "dataset": "d",
            "columns": columns,
            "cross_field": [
                {"id": "in_before_out", "rule": "date_order", "first": "adm", "then": "dis"}
            ]
            if {"adm", "dis"} <= set(columns)
            else [],
            "decision": {"max_failure_rate": 1.0},
        }
    )
    return check_file(RecordsAnalyzer(rules, CheckOptions(anomalies=False, today=TODAY)), path, out)


def _curated(result: object) -> pl.DataFrame:
    return pl.read_parquet(result.files["curated_parquet"])  # type: ignore[attr-defined]


def test_a_day_first_column_is_read_day_first_throughout(tmp_path: Path) -> None:
    # 13/02 can only be day-first, so 01/02 and 03/02 are 1 and 3 February, not January 2 and
    # March 2: a cell-by-cell month-first fallback would have swapped them.
    path = tmp_path / "a.csv"
    path.write_text("adm,dis\n01/02/2020,03/02/2020\n13/02/2020,14/02/2020\n", encoding="utf-8")
    result = _check(path, tmp_path / "o", {"adm": {"type": "date"}, "dis": {"type": "date"}})
    got = _curated(result)
    assert got["adm"].to_list() == [dt.date(2020, 2, 1), dt.date(2020, 2, 13)]
    assert got["dis"].to_list() == [dt.date(2020, 2, 3), dt.date(2020, 2, 14)]
    assert result.report.rows_quarantined == 0  # type: ignore[attr-defined]
    assert "%d/%m/%Y" in result.report.date_formats["adm"]  # type: ignore[attr-defined]


def test_a_month_first_column_is_read_month_first_throughout(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("adm\n01/02/2020\n02/13/2020\n", encoding="utf-8")
    got = _curated(_check(path, tmp_path / "o", {"adm": {"type": "date"}}))
    assert got["adm"].to_list() == [dt.date(2020, 1, 2), dt.date(2020, 2, 13)]


def test_an_ambiguous_column_is_left_as_written_and_reported_not_failed(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("adm\n01/02/2020\n03/04/2020\n", encoding="utf-8")
    result = _check(path, tmp_path / "o", {"adm": {"type": "date"}})
    report = result.report  # type: ignore[attr-defined]
    assert report.rows_quarantined == 0
    assert _curated(result)["adm"].to_list() == [None, None]
    assert "day/month order cannot be decided" in report.date_formats["adm"]
    assert "'01/02/2020'" in report.date_formats["adm"]


def test_a_pinned_date_format_in_the_rules_wins(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("adm\n01/02/2020\n03/04/2020\n", encoding="utf-8")
    got = _curated(
        _check(path, tmp_path / "o", {"adm": {"type": "date", "date_format": "%d/%m/%Y"}})
    )
    assert got["adm"].to_list() == [dt.date(2020, 2, 1), dt.date(2020, 4, 3)]


def test_iso_and_one_other_family_in_one_column_are_each_read_once(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("adm\n2020-01-05\n12/25/2020\n2021-03-04\n", encoding="utf-8")
    result = _check(path, tmp_path / "o", {"adm": {"type": "date"}})
    assert _curated(result)["adm"].to_list() == [
        dt.date(2020, 1, 5),
        dt.date(2020, 12, 25),
        dt.date(2021, 3, 4),
    ]
    assert result.report.cleaning["dates_to_iso"] == 1  # type: ignore[attr-defined]


def test_a_date_that_does_not_exist_fails_with_the_columns_format(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("adm\n13/02/2020\n31/02/2020\n", encoding="utf-8")
    result = _check(path, tmp_path / "o", {"adm": {"type": "date"}})
    q = pl.read_csv(result.files["quarantined_rows"], infer_schema=False)  # type: ignore[attr-defined]
    assert q["row"].to_list() == ["2"]
    assert "adm '31/02/2020' is not a date in the column's format" in q["reasons"][0]


def test_timestamps_keep_their_time_and_offsets_become_utc(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text(
        "adm\n2019-02-17T05:07:38Z\n2019-02-17T10:00:00+02:00\n02/18/2019 01:30 PM\n",
        encoding="utf-8",
    )
    got = _curated(_check(path, tmp_path / "o", {"adm": {"type": "datetime"}}))
    assert got["adm"].to_list() == [
        dt.datetime(2019, 2, 17, 5, 7, 38),
        dt.datetime(2019, 2, 17, 8, 0, 0),
        dt.datetime(2019, 2, 18, 13, 30),
    ]


def test_admission_and_discharge_on_one_day_compare_by_day_when_one_has_no_time(
    tmp_path: Path,
) -> None:
    path = tmp_path / "a.csv"
    path.write_text("adm,dis\n2020-03-01T10:00:00Z,2020-03-01\n", encoding="utf-8")
    result = _check(path, tmp_path / "o", {"adm": {"type": "datetime"}, "dis": {"type": "date"}})
    assert result.report.rows_quarantined == 0  # type: ignore[attr-defined]


def test_two_digit_years_are_left_as_written() -> None:
    decision = decide(["01/13/84", "02/14/85"])
    assert set(decision.ambiguous) == {"N/N/N"}
    assert "century" in decision.describe()


def test_families_tell_shapes_apart() -> None:
    assert family("2020-01-05") == "Y-N-N"
    assert family("5/1/2020") == "N/N/Y"
    assert family("05-Jan-2020") == "N-M-Y"
    assert family("20200105") == "D8"
