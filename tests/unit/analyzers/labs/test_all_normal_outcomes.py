"""What ``benchmarks/labs_accuracy.py --all-normal`` counts per report: claimed normal (correct),
cautious, not read, false alarm, false reassurance (issue 11)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from tests.fixtures.labs import labs_testkit as KIT

from medflow.domain.labs import (
    Finding,
    FindingSeverity,
    LabReport,
    LabResult,
    LabSummary,
    Significance,
)
from medflow.domain.patient import PatientInfo, Sex

BENCH = Path(__file__).resolve().parents[4] / "benchmarks" / "labs_accuracy.py"


@cache
def bench() -> ModuleType:
    return KIT.load_module("labs_accuracy_bench", BENCH)


TRUTH: dict[str, Any] = {
    "rows": [
        {"name": "Sodium", "value_text": "140", "flag": "N"},
        {"name": "Potassium", "value_text": "4.1", "flag": "N"},
    ]
}


def _result(name: str, value: str, significance: Significance = Significance.NORMAL) -> LabResult:
    return KIT.lab_result(name, value, significant=significance is not Significance.NORMAL)


def _report(results: list[LabResult], headline: str, **summary: Any) -> LabReport:
    return LabReport(
        patient=PatientInfo(sex=Sex.FEMALE, age=50),
        results=tuple(results),
        summary=LabSummary(headline=headline, **summary),
    )


def test_a_right_normal_claim_is_correct_and_a_claim_over_a_row_not_read_is_false() -> None:
    both = [_result("Sodium", "140"), _result("Potassium", "4.1")]
    normal = "All 2 results within their reference ranges"
    assert bench().outcome(KIT, TRUTH, _report(both, normal)) == "claimed_normal"
    one = "All 1 results within their reference ranges"
    assert bench().outcome(KIT, TRUTH, _report(both[:1], one)) == "false_reassurance"
    misread = [_result("Sodium", "140"), _result("Potassium", "41")]
    assert bench().outcome(KIT, TRUTH, _report(misread, normal)) == "false_reassurance"


def test_an_incomplete_summary_is_cautious_and_nothing_read_is_not_read() -> None:
    headline = (
        "Incomplete: 1 value(s) read from a scan with low confidence: check the original "
        "report. None of the 2 results read is outside its range"
    )
    both = [_result("Sodium", "140"), _result("Potassium", "4.1")]
    assert bench().outcome(KIT, TRUTH, _report(both, headline, complete=False)) == "cautious"
    assert bench().outcome(KIT, TRUTH, None) == "not_read"


def test_an_abnormal_result_or_finding_on_a_normal_report_is_a_false_alarm() -> None:
    high = [_result("Sodium", "140"), _result("Potassium", "4.1", Significance.SIGNIFICANT)]
    headline = "1 result(s) outside the reference range, no clinical pattern"
    assert bench().outcome(KIT, TRUTH, _report(high, headline)) == "false_alarm"
    finding = Finding(
        code="x", title="Hyperkalaemia", severity=FindingSeverity.SIGNIFICANT, explanation="."
    )
    both = [_result("Sodium", "140"), _result("Potassium", "4.1")]
    report = _report(both, "1 significant finding(s): Hyperkalaemia", findings=(finding,))
    assert bench().outcome(KIT, TRUTH, report) == "false_alarm"
