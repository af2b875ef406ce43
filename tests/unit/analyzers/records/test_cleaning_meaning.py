"""Cleaning never changes meaning: identifiers and codes stay text with their zeros, every
changed cell is counted with before/after samples, removed duplicates are listed by row."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from medflow.analyzers.records import CheckOptions, RecordsAnalyzer, check_file

TODAY = dt.date(2026, 1, 1)


def _auto(path: Path, out: Path) -> object:
    return check_file(
        RecordsAnalyzer(options=CheckOptions(anomalies=False, today=TODAY)), path, out
    )


def _rows(n: int) -> list[str]:
    return [
        f"{i:08d},0{1000 + i % 900},(617) 555-{i % 10000:04d},E11.9,2345-7,"
        f"{'F' if i % 2 else 'M'},{60 + i % 40}"
        for i in range(n)
    ]


def test_identifiers_postal_codes_phones_and_codes_stay_text_with_zeros(tmp_path: Path) -> None:
    path = tmp_path / "ids.csv"
    header = "mrn,zip_code,phone,icd10_code,loinc_code,sex,heart_rate"
    path.write_text("\n".join([header, *_rows(300)]) + "\n", encoding="utf-8")
    result = _auto(path, tmp_path / "o")
    curated = pl.read_parquet(result.files["curated_parquet"])  # type: ignore[attr-defined]
    for c in ("mrn", "zip_code", "phone", "icd10_code", "loinc_code"):
        assert curated.schema[c] == pl.String, c
    assert curated["mrn"][0] == "00000000"
    assert curated["zip_code"][0] == "01000"
    assert curated.schema["heart_rate"] == pl.Float64
    csv_text = result.files["curated_csv"].read_text(encoding="utf-8")  # type: ignore[attr-defined]
    assert "\n00000000,01000," in csv_text


def test_changed_cells_are_counted_with_a_before_after_sample(tmp_path: Path) -> None:
    path = tmp_path / "visits.csv"
    rows = [
        f"P{i:05d},{' F ' if i % 10 == 0 else 'F'},{'Female' if i % 7 == 0 else 'F'},"
        f"{'12/25/2020' if i % 5 == 0 else '2020-12-25'},{'NULL' if i % 9 == 0 else 70}"
        for i in range(200)
    ]
    path.write_text(
        "patient_id,code_note,gender,visit_date,heart_rate\n" + "\n".join(rows) + "\n",
        encoding="utf-8",
    )
    report = _auto(path, tmp_path / "o").report  # type: ignore[attr-defined]
    assert report.cleaning["whitespace_trimmed"] == 20
    assert report.cleaning["sex_codes_unified"] == 29
    assert report.cleaning["dates_to_iso"] == 40
    assert report.cleaning["missing_markers_read"] == 23
    samples = {(c.step, c.before, c.after) for c in report.cleaning_samples}
    assert ("dates_to_iso", "12/25/2020", "2020-12-25") in samples
    assert ("sex_codes_unified", "Female", "F") in samples
    assert ("whitespace_trimmed", " F ", "F") in samples
    assert ("missing_markers_read", "NULL", "") in samples
    assert all(c.row >= 1 for c in report.cleaning_samples)


def test_removed_duplicates_are_listed_with_their_row_numbers(tmp_path: Path) -> None:
    path = tmp_path / "dups.csv"
    rows = [f"E{i:04d},2020-01-{1 + i % 28:02d},{60 + i}" for i in range(40)]
    rows += [rows[3], rows[10], rows[3]]
    path.write_text("encounter_id,visit_date,heart_rate\n" + "\n".join(rows) + "\n")
    result = _auto(path, tmp_path / "o")
    report = result.report  # type: ignore[attr-defined]
    assert report.duplicate_rows_removed == 3
    listed = [(d.row, d.duplicate_of) for d in report.duplicate_rows]
    assert listed == [(41, 4), (42, 11), (43, 4)]
    on_disk = pl.read_csv(result.files["duplicate_rows"])  # type: ignore[attr-defined]
    assert on_disk.rows() == [(41, 4), (42, 11), (43, 4)]
    assert report.rows_quarantined == 0


def test_money_with_currency_signs_and_thousands_is_read_as_numbers(tmp_path: Path) -> None:
    path = tmp_path / "bills.csv"
    rows = [f'A{i:04d},"${1000 + i * 37:,}.50"' for i in range(60)]
    path.write_text("account_id,total_charges\n" + "\n".join(rows) + "\n", encoding="utf-8")
    result = _auto(path, tmp_path / "o")
    curated = pl.read_parquet(result.files["curated_parquet"])  # type: ignore[attr-defined]
    assert curated["total_charges"][0] == 1000.5
    assert curated["total_charges"][59] == 1000 + 59 * 37 + 0.5
    assert result.report.cleaning["numbers_normalised"] == 60  # type: ignore[attr-defined]
