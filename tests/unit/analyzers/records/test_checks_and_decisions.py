"""Rules on small files: every reason per row, cross-field rules, references across files,
cleaning switched off, whole-file quarantine on schema mismatch and on the failure-rate limit."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
from records_csvs import GOOD_ROWS, HEADER, write_csv

from medflow.analyzers.records import (
    CheckOptions,
    CleaningOptions,
    Decision,
    RecordsAnalyzer,
    builtin_rules,
    check_file,
)
from medflow.analyzers.records.rules import DecisionSpec, rules_from_dict

TODAY = dt.date(2026, 1, 1)


def _run(path: Path, out: Path, **kw: object) -> object:
    rules = builtin_rules().model_copy(update={"decision": DecisionSpec(max_failure_rate=0.9)})
    options = CheckOptions(anomalies=False, today=TODAY, **kw)  # type: ignore[arg-type]
    return check_file(RecordsAnalyzer(rules, options), path, out)


def test_a_row_breaking_several_rules_carries_every_reason(tmp_path: Path) -> None:
    bad = (
        "E10000004,P1234570,1990-01-01,Q,212,2020-06-10,2020-06-01,emergency,astrology,E11.999,"
        "2345-8,5,80,120,36.9,70,kg,12345"
    )
    result = _run(write_csv(tmp_path / "a.csv", [*GOOD_ROWS, bad]), tmp_path / "out")
    q = pl.read_csv(result.files["quarantined_rows"], infer_schema=False)  # type: ignore[attr-defined]
    assert q["row"].to_list() == ["4"]
    assert set(q["rules"][0].split(",")) == {
        "sex.allowed",
        "age.range",
        "admission_before_discharge",
        "age_matches_dob",
        "department.allowed",
        "primary_dx.code",
        "loinc_code.code",
    }
    reasons = q["reasons"][0]
    assert "age 212 is outside [0, 120]" in reasons
    assert "admission_date 2020-06-10 is after discharge_date 2020-06-01" in reasons
    assert "primary_dx 'E11.999' is not a valid ICD-10-CM code" in reasons
    assert q["age"][0] == "212"


def test_age_is_checked_against_whole_years_at_admission(tmp_path: Path) -> None:
    # Born 1980-06-02, admitted 2020-06-01: 39 completed years, not 40.
    ok = GOOD_ROWS[0].replace("1980-05-01,M,40", "1980-06-02,M,39")
    off = GOOD_ROWS[1].replace("1975-02-10,F,45", "1975-02-10,F,47")
    result = _run(write_csv(tmp_path / "a.csv", [ok, off]), tmp_path / "out")
    assert result.report.rule_counts["age_matches_dob"] == 1  # type: ignore[attr-defined]


def test_cleaning_switched_off_checks_the_file_as_written(tmp_path: Path) -> None:
    # 06/25/2020 can only be month-first: its family (NN/NN/YYYY) is read month-first.
    messy = GOOD_ROWS[0].replace(",M,", ", male ,").replace("2020-06-05", "06/25/2020", 1)
    path = write_csv(tmp_path / "a.csv", [messy, *GOOD_ROWS[1:]])
    cleaned = _run(path, tmp_path / "on")
    raw = _run(path, tmp_path / "off", cleaning=CleaningOptions.off())
    assert cleaned.report.rows_quarantined == 0  # type: ignore[attr-defined]
    assert cleaned.report.cleaning["sex_codes_unified"] == 1  # type: ignore[attr-defined]
    assert cleaned.report.cleaning["dates_to_iso"] == 1  # type: ignore[attr-defined]
    counts = raw.report.rule_counts  # type: ignore[attr-defined]
    assert counts["sex.allowed"] == 1
    assert counts["discharge_date.type"] == 1
    assert raw.report.cleaning["sex_codes_unified"] == 0  # type: ignore[attr-defined]


def test_exact_duplicate_rows_are_removed_not_quarantined(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", [*GOOD_ROWS, GOOD_ROWS[0]])
    result = _run(path, tmp_path / "out")
    report = result.report  # type: ignore[attr-defined]
    assert report.duplicate_rows_removed == 1
    assert report.rows_quarantined == 0
    assert report.rule_counts["unique.encounter_id"] == 0
    assert pl.read_parquet(result.files["curated_parquet"]).height == 3  # type: ignore[attr-defined]


def test_missing_required_column_quarantines_the_whole_file_byte_for_byte(
    tmp_path: Path,
) -> None:
    cols = HEADER.split(",")
    drop = cols.index("department")  # required in the built-in rules
    header = ",".join(c for i, c in enumerate(cols) if i != drop)
    rows = [",".join(c for i, c in enumerate(r.split(",")) if i != drop) for r in GOOD_ROWS]
    path = write_csv(tmp_path / "a.csv", rows, header=header)
    result = _run(path, tmp_path / "out")
    report = result.report  # type: ignore[attr-defined]
    assert report.decision is Decision.QUARANTINED
    assert report.decision_reason == "schema mismatch: missing required columns department"
    copy = result.files["quarantined_file"]  # type: ignore[attr-defined]
    assert copy.read_bytes() == path.read_bytes()
    assert "curated_csv" not in result.files  # type: ignore[attr-defined]


def test_missing_optional_column_is_reported_not_fatal(tmp_path: Path) -> None:
    header = HEADER.replace(",postal_code", "")
    rows = [r.rsplit(",", 1)[0] for r in GOOD_ROWS]
    path = write_csv(tmp_path / "a.csv", rows, header=header)
    report = _run(path, tmp_path / "out").report  # type: ignore[attr-defined]
    assert report.decision is Decision.ACCEPTED
    assert report.missing_columns == ["postal_code"]
    assert report.rows_curated == 3


def test_failure_rate_over_the_threshold_quarantines_the_whole_file(tmp_path: Path) -> None:
    bad = GOOD_ROWS[0].replace("E10000001", "E10000009").replace(",40,", ",400,")
    path = write_csv(tmp_path / "a.csv", [*GOOD_ROWS, bad])
    rules = builtin_rules()  # threshold 20%: 1 of 4 rows is 25%
    result = check_file(RecordsAnalyzer(rules, CheckOptions(anomalies=False)), path, tmp_path / "o")
    assert result.report.decision is Decision.QUARANTINED
    assert "failure rate 25.0% is above the threshold 20.0%" in result.report.decision_reason


def test_reference_rule_checks_values_against_another_file(tmp_path: Path) -> None:
    patients = tmp_path / "patients.csv"
    patients.write_text("Patient ID;name\nP1234567;a\nP1234568;b\n", encoding="utf-8")
    encounters = tmp_path / "enc.csv"
    encounters.write_text("encounter_id,patient_id\nE1,P1234567\nE2,P7654321\nE3,P1234568\n")
    rules = rules_from_dict(
        {
            "dataset": "enc",
            "columns": {"encounter_id": {"required": True}, "patient_id": {"required": True}},
            "references": [
                {
                    "id": "patient_known",
                    "column": "patient_id",
                    "dataset": "patients",
                    "ref_column": "patient_id",
                }
            ],
            "decision": {"max_failure_rate": 0.5},
        }
    )
    analyzer = RecordsAnalyzer(rules, CheckOptions(anomalies=False))
    result = check_file(analyzer, encounters, tmp_path / "out", {"patients": patients})
    q = pl.read_csv(result.files["quarantined_rows"], infer_schema=False)
    assert q["row"].to_list() == ["2"]
    assert q["reasons"][0] == "patient_id 'P7654321' is not in patients.patient_id"


def test_undeclared_columns_quarantine_the_file_when_the_rules_say_reject(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    rules = rules_from_dict(
        {"dataset": "d", "columns": {"a": {}}, "decision": {"extra_columns": "reject"}}
    )
    result = check_file(RecordsAnalyzer(rules, CheckOptions(anomalies=False)), path, tmp_path / "o")
    assert result.report.decision is Decision.QUARANTINED
    assert result.report.extra_columns == ["b"]


def test_column_names_are_normalised(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text(" Encounter ID ,Patient-ID\nE1,P1\n", encoding="utf-8")
    rules = rules_from_dict({"dataset": "d", "columns": {"encounter_id": {}, "patient_id": {}}})
    result = check_file(RecordsAnalyzer(rules, CheckOptions(anomalies=False)), path, tmp_path / "o")
    assert result.report.cleaning["column_names_normalised"] == 2
    assert pl.read_csv(result.files["curated_csv"]).columns == ["encounter_id", "patient_id"]
