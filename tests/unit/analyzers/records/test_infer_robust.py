"""Inference that does not learn a file's errors: clinical limits by meaning, quantile fences
otherwise, frequent values only (case ignored), types by the majority, codes never numeric
features, keys only where they look unique."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from medflow.analyzers.records import CheckOptions, RecordsAnalyzer, check_file, infer_rules
from medflow.analyzers.records.infer import near_miss
from medflow.analyzers.records.rules import ColumnType

TODAY = dt.date(2026, 1, 1)


def _write(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_ranges_come_from_clinical_limits_not_from_the_errors(tmp_path: Path) -> None:
    # 5% of ages are impossible (130-250): a profile of observed min/max would allow them.
    rows = [
        f"P{i:04d},{(150 + i) if i % 20 == 0 else 30 + i % 50},{80 + i % 30}" for i in range(400)
    ]
    path = _write(tmp_path / "a.csv", "patient_id,age,heart_rate", rows)
    rules = infer_rules(path, tmp_path / "w")
    assert (rules.columns["age"].min, rules.columns["age"].max) == (0, 125)
    assert (rules.columns["heart_rate"].min, rules.columns["heart_rate"].max) == (20, 300)
    result = check_file(RecordsAnalyzer(rules, CheckOptions(anomalies=False)), path, tmp_path / "o")
    assert result.report.rule_counts["age.range"] == 20


def test_unknown_numbers_get_wide_fences_and_stay_non_negative(tmp_path: Path) -> None:
    rows = [f"A{i:04d},{100 + (i * 37) % 900}" for i in range(500)] + ["A9999,-40"]
    path = _write(tmp_path / "a.csv", "account_id,widget_count", rows)
    spec = infer_rules(path, tmp_path / "w").columns["widget_count"]
    assert spec.type is ColumnType.INTEGER
    assert spec.min == 0
    assert isinstance(spec.max, int) and spec.max > 5000


def test_allowed_values_come_from_frequent_values_ignoring_case(tmp_path: Path) -> None:
    wards = ["Cardiology", "cardiology", "CARDIOLOGY", "Neurology", "Oncology"]
    rows = [f"P{i:04d},{wards[i % 5]}" for i in range(1000)]
    rows += ["P9001,Cardiolgy", "P9002,Geriatrics"]  # a misspelling, a rare real ward
    path = _write(tmp_path / "a.csv", "patient_id,department", rows)
    spec = infer_rules(path, tmp_path / "w").columns["department"]
    assert spec.ignore_case
    assert spec.allowed is not None
    assert {v.lower() for v in spec.allowed} == {
        "cardiology",
        "neurology",
        "oncology",
        "geriatrics",
    }
    result = check_file(
        RecordsAnalyzer(options=CheckOptions(anomalies=False, today=TODAY)), path, tmp_path / "o"
    )
    q = pl.read_csv(result.files["quarantined_rows"], infer_schema=False)
    assert q["department"].to_list() == ["Cardiolgy"]
    assert result.report.cleaning["categories_unified"] == 400


def test_a_misspelling_is_told_from_a_second_numbered_ward() -> None:
    assert near_miss("Cardiolgy", ["cardiology"]) == "cardiology"
    assert near_miss("Ward 2", ["Ward 1"]) is None
    assert near_miss("Geriatrics", ["cardiology", "neurology"]) is None


def test_types_are_decided_by_the_majority(tmp_path: Path) -> None:
    rows = [f"P{i:04d},{'forty' if i % 50 == 0 else 40 + i % 30}" for i in range(500)]
    path = _write(tmp_path / "a.csv", "patient_id,age", rows)
    result = check_file(
        RecordsAnalyzer(options=CheckOptions(anomalies=False, today=TODAY)), path, tmp_path / "o"
    )
    assert result.report.rule_counts["age.type"] == 10
    assert result.report.decision.value == "partial"


def test_code_columns_are_never_numeric_features_for_outliers(tmp_path: Path) -> None:
    codes = ["185345009", "162673000", "410620009", "10509002", "195662009"]
    rows = [f"E{i:05d},{codes[i % 5]},{70 + i % 25}" for i in range(600)]
    path = _write(tmp_path / "enc.csv", "Id,CODE,heart_rate", rows)
    rules = infer_rules(path, tmp_path / "w")
    assert rules.columns["code"].code is not None
    assert rules.columns["code"].type is ColumnType.STRING
    assert rules.anomalies.columns == ("heart_rate",)
    result = check_file(RecordsAnalyzer(options=CheckOptions(today=TODAY)), path, tmp_path / "o")
    assert result.report.outliers.rows == 0


def test_a_reference_repeats_and_is_not_a_unique_key(tmp_path: Path) -> None:
    rows = [f"E{i:05d},P{i % 40:04d},2020-01-{1 + i % 28:02d}" for i in range(400)]
    path = _write(tmp_path / "enc.csv", "encounter_id,patient_id,visit_date", rows)
    rules = infer_rules(path, tmp_path / "w")
    assert rules.unique == (("encounter_id",),)


def test_discharge_before_admission_and_birth_after_admission_are_caught(tmp_path: Path) -> None:
    rows = [
        f"P{i:04d},1970-03-0{1 + i % 9},2020-05-{1 + i % 20:02d},2020-05-{5 + i % 20:02d}"
        for i in range(300)
    ]
    rows += ["P9001,1970-01-01,2020-06-10,2020-06-01", "P9002,2021-01-01,2020-06-01,2020-06-02"]
    path = _write(tmp_path / "a.csv", "patient_id,dob,admit_date,discharge_date", rows)
    result = check_file(
        RecordsAnalyzer(options=CheckOptions(anomalies=False, today=TODAY)), path, tmp_path / "o"
    )
    q = pl.read_csv(result.files["quarantined_rows"], infer_schema=False)
    reasons = dict(zip(q["row"].to_list(), q["reasons"].to_list(), strict=True))
    assert set(reasons) == {"301", "302"}
    assert "admit_date 2020-06-10 is after discharge_date 2020-06-01" in reasons["301"]
    assert "dob 2021-01-01 is after admit_date 2020-06-01" in reasons["302"]
