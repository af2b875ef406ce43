"""Synthea-style exports (patients, encounters, observations, with Synthea's column names and
value formats) pass a check without a rule file with no false alarm."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import ModuleType

import polars as pl
import pytest

from medflow.analyzers.records import CheckOptions, Decision, RecordsAnalyzer, check_file


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory, synthea: ModuleType) -> Path:
    out = tmp_path_factory.mktemp("synthea")
    synthea.generate(80, 17, out)
    return out


@pytest.mark.parametrize("name", ["patients", "encounters", "observations"])
def test_a_synthea_file_passes_with_no_false_alarm(export: Path, tmp_path: Path, name: str) -> None:
    options = CheckOptions(today=dt.date(2026, 1, 1))
    result = check_file(RecordsAnalyzer(options=options), export / f"{name}.csv", tmp_path)
    report = result.report
    assert report.decision is Decision.ACCEPTED, report.decision_reason
    assert report.rows_quarantined == 0
    assert report.outliers.rows == 0
    assert report.rows_curated == report.records


def test_synthea_codes_and_times_are_recognised_and_kept(export: Path, tmp_path: Path) -> None:
    options = CheckOptions(anomalies=False, today=dt.date(2026, 1, 1))
    enc = check_file(RecordsAnalyzer(options=options), export / "encounters.csv", tmp_path / "e")
    meanings = {c.column: c.meaning for c in enc.report.recognised_columns}
    assert meanings["CODE"] == "snomedct"
    assert (meanings["START"], meanings["STOP"]) == ("admission_date", "discharge_date")
    curated = pl.read_parquet(enc.files["curated_parquet"])
    assert curated.schema["start"] == pl.Datetime("us")
    assert curated["start"].dt.second().n_unique() > 1  # the time of day is kept
    obs = check_file(RecordsAnalyzer(options=options), export / "observations.csv", tmp_path / "o")
    assert {c.column: c.meaning for c in obs.report.recognised_columns}["CODE"] == "loinc"
    patients = check_file(RecordsAnalyzer(options=options), export / "patients.csv", tmp_path / "p")
    zips = pl.read_parquet(patients.files["curated_parquet"])["zip"].drop_nulls()
    assert zips.str.starts_with("0").all()  # Massachusetts ZIP codes keep their leading zero
