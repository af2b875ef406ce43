"""Done-when: on a ~20k-row generated file the rules find >= 99% of injected violations, no
false positives; cleaning counts match the injected artefacts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from medflow.analyzers.records import (
    CheckOptions,
    Decision,
    RecordsAnalyzer,
    builtin_rules,
    check_file,
)


@pytest.fixture(scope="module")
def checked(
    admissions_20k: tuple[Path, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Any, dict[str, Any]]:
    path, truth = admissions_20k
    out = tmp_path_factory.mktemp("out")
    options = CheckOptions(today=dt.date(2026, 1, 1))
    return check_file(RecordsAnalyzer(builtin_rules(), options), path, out), truth


def _found(result: Any) -> set[tuple[int, str]]:
    q = pl.read_csv(result.files["quarantined_rows"], infer_schema=False)
    return {
        (int(r), rule)
        for r, rules in zip(q["row"], q["rules"], strict=True)
        for rule in rules.split(",")
    }


def test_finds_at_least_99_percent_of_injected_violations(
    checked: tuple[Any, dict[str, Any]],
) -> None:
    result, truth = checked
    expected = {(int(r), rule) for r, rules in truth["violations"].items() for rule in rules}
    assert len(expected) > 300
    found = _found(result)
    assert len(expected & found) / len(expected) >= 0.99


def test_rules_raise_no_false_positives(checked: tuple[Any, dict[str, Any]]) -> None:
    result, truth = checked
    expected = {(int(r), rule) for r, rules in truth["violations"].items() for rule in rules}
    assert _found(result) - expected == set()


def test_cleaning_counts_match_injected_artefacts(checked: tuple[Any, dict[str, Any]]) -> None:
    result, truth = checked
    cleaning, art = result.report.cleaning, truth["artefacts"]
    assert cleaning["duplicate_rows_removed"] == len(truth["duplicates"])
    assert cleaning["dates_to_iso"] == art["us_dates"]
    assert cleaning["sex_codes_unified"] == art["sex_variants"]
    assert cleaning["units_normalised"] == art["weights_in_pounds"]
    assert cleaning["whitespace_trimmed"] == art["padded_cells"]


def test_curated_file_holds_every_passing_row_typed(checked: tuple[Any, dict[str, Any]]) -> None:
    result, truth = checked
    report = result.report
    assert report.decision is Decision.PARTIAL
    curated = pl.read_parquet(result.files["curated_parquet"])
    assert curated.height == report.rows_curated
    assert report.rows_curated + report.rows_quarantined + len(truth["duplicates"]) == truth["rows"]
    assert curated.schema["admission_date"] == pl.Date
    assert set(curated["sex"].unique()) <= {"F", "M"}
    assert set(curated["weight_unit"].unique()) == {"kg"}
    # pounds were converted: the median stays an adult weight in kg, not ~170 (lb).
    assert 55 < curated["weight"].median() < 90


def test_injected_outliers_are_mostly_found(checked: tuple[Any, dict[str, Any]]) -> None:
    result, truth = checked
    flagged = set(pl.read_csv(result.files["anomalies"])["row"].to_list())
    planted = {int(r) for r in truth["outliers"]}
    assert len(flagged & planted) / len(planted) >= 0.8
