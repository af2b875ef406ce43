"""Changes over time: KDIGO AKI creatinine criterion, haemoglobin drop, reference change values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from medflow.analyzers.labs.interpret import interpret
from medflow.analyzers.labs.kb import default_kb
from medflow.analyzers.labs.synthesis import synthesize
from medflow.analyzers.labs.trends import HistoricalResult
from medflow.domain.labs import FindingSeverity, LabSummary, RawLabRow
from medflow.domain.patient import PatientInfo, Sex

PATIENT = PatientInfo(patient_id="p1", sex=Sex.MALE, age=50)
NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def run(name: str, value: str, unit: str, *history: HistoricalResult) -> LabSummary:
    results, _ = interpret([RawLabRow(name=name, value_text=value, unit_text=unit)], PATIENT)
    return synthesize(results, PATIENT, history, kb=default_kb(), collected_at=NOW)


def past(test_id: str, value: float, unit: str, hours: float) -> HistoricalResult:
    return HistoricalResult(
        test_id=test_id, value=value, unit=unit, collected_at=NOW - timedelta(hours=hours)
    )


def test_creatinine_rise_of_0_3_within_48h_is_aki() -> None:
    s = run("Creatinine", "1.3", "mg/dL", past("creatinine", 1.0, "mg/dL", 40))
    aki = [f for f in s.findings if f.code == "trend.aki"]
    assert len(aki) == 1
    assert "stage 1" in aki[0].title
    assert "0.3 mg/dL within 48 h" in aki[0].explanation
    assert aki[0].evidence[0].test_id == "creatinine"
    trend = s.trends[0]
    assert trend.test_id == "creatinine"
    assert trend.change == pytest.approx(0.3)
    assert trend.change_pct == pytest.approx(30.0)
    assert [p[1] for p in trend.points] == [1.0, 1.3]


def test_rise_below_0_3_is_not_aki() -> None:
    s = run("Creatinine", "1.25", "mg/dL", past("creatinine", 1.0, "mg/dL", 40))
    assert all(f.code != "trend.aki" for f in s.findings)


def test_rise_of_0_3_outside_48h_is_not_the_absolute_criterion() -> None:
    s = run("Creatinine", "1.3", "mg/dL", past("creatinine", 1.0, "mg/dL", 60))
    assert all(f.code != "trend.aki" for f in s.findings)


@pytest.mark.parametrize(
    ("now", "stage", "severity"),
    [
        ("1.5", 1, FindingSeverity.SIGNIFICANT),
        ("2.0", 2, FindingSeverity.SIGNIFICANT),
        ("3.0", 3, FindingSeverity.CRITICAL),
    ],
)
def test_ratio_to_the_7_day_baseline_stages_aki(
    now: str, stage: int, severity: FindingSeverity
) -> None:
    s = run("Creatinine", now, "mg/dL", past("creatinine", 1.0, "mg/dL", 24 * 5))
    aki = next(f for f in s.findings if f.code == "trend.aki")
    assert f"stage {stage}" in aki.title
    assert aki.severity is severity


def test_history_in_another_unit_is_converted() -> None:
    s = run("Creatinine", "1.4", "mg/dL", past("creatinine", 88.42, "umol/L", 24))
    assert any(f.code == "trend.aki" for f in s.findings)
    assert s.trends[0].points[0][1] == pytest.approx(1.0)


def test_hemoglobin_drop_of_2_is_a_finding() -> None:
    s = run("Hb", "12.0", "g/dL", past("hemoglobin", 14.0, "g/dL", 24 * 10))
    assert any(f.code == "trend.hb_drop" for f in s.findings)
    small = run("Hb", "14.0", "g/dL", past("hemoglobin", 15.9, "g/dL", 24 * 10))
    assert all(f.code != "trend.hb_drop" for f in small.findings)
    # 1.9 g/dL is still beyond hemoglobin's reference change value: a trend, not a finding
    assert [t.test_id for t in small.trends] == ["hemoglobin"]


def test_change_beyond_the_reference_change_value_is_a_trend() -> None:
    rose = run("ALT", "60", "U/L", past("alt", 30.0, "U/L", 24 * 30))
    assert [t.test_id for t in rose.trends] == ["alt"]
    assert "reference change value" in rose.trends[0].explanation
    high = run("ALT", "80", "U/L", past("alt", 30.0, "U/L", 24 * 30))
    finding = next(f for f in high.findings if f.code == "trend.alt")
    assert finding.title.endswith("rising")
    assert finding.severity is FindingSeverity.SIGNIFICANT  # 80 U/L is also well above the range
    assert "EFLM" in finding.guideline
    within = run("ALT", "40", "U/L", past("alt", 20.0, "U/L", 24 * 30))
    assert next(f for f in within.findings if f.code == "trend.alt").severity is (
        FindingSeverity.INFO
    )
    steady = run("ALT", "33", "U/L", past("alt", 30.0, "U/L", 24 * 30))
    assert steady.trends == ()


def test_history_after_this_report_or_in_foreign_units_is_ignored() -> None:
    later = HistoricalResult(
        test_id="alt", value=10.0, unit="U/L", collected_at=NOW + timedelta(days=1)
    )
    foreign = past("alt", 30.0, "g/dL", 24)
    assert run("ALT", "60", "U/L", later, foreign).trends == ()


def test_naive_history_datetimes_are_read_as_utc() -> None:
    naive = HistoricalResult(
        test_id="creatinine", value=1.0, unit="mg/dL", collected_at=datetime(2026, 11, 19, 8, 0)
    )
    s = run("Creatinine", "1.4", "mg/dL", naive)
    assert any(f.code == "trend.aki" for f in s.findings)
    assert "Changes since earlier reports" in s.text
