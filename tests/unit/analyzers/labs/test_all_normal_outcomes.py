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
    RawLabRow,
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


def test_a_row_read_with_its_value_under_a_garbled_name_is_misnamed_not_vanished() -> None:
    # all-normal tuning seed 17: "Free T4 0.98" read as the row "oy a 0.98" (not recognised,
    # shown with its line) was counted as vanished
    truth = {
        "patient": {"sex": "M"},
        "rows": [
            {
                "name": name,
                "value_text": value,
                "unit_text": "ng/dL",
                "range_text": "0.80 - 1.80",
                "low": 0.8,
                "high": 1.8,
                "printed_flag": "",
            }
            for name, value in (("Free T4", "0.98"), ("Thyroxine Total", "8.3"), ("TSH", "1.30"))
        ],
    }
    rows = [
        RawLabRow(name="oy a", value_text="0.98", unit_text="ng/dL", range_text="0.80 - 1.80"),
        RawLabRow(name="Thyroxine Total", value_text="8.3", unit_text="ng/dL"),
    ]
    got = bench().score_random(truth, rows, "")
    assert (got["n"], got["found"], got["misnamed"], got["vanished"]) == (3, 1, 1, 1)


def test_an_unread_line_holding_every_word_of_a_wrapped_name_keeps_the_row() -> None:
    row = {"name": "Serum Magnesium", "value_text": "2.1"}
    assert bench().kept_unread(row, "Serum [2A | mg/dL | 1.7-2.2 / Magnesium")
    assert not bench().kept_unread(row, "Serum [2A | mg/dL | 1.7-2.2")


def test_an_unread_line_holding_a_rows_unit_and_range_keeps_the_row() -> None:
    # held-out seed 90174: name and value both misread, the line kept with unit and range
    row = {
        "name": "Fibrinogen",
        "value_text": "513",
        "unit_text": "mg/dL",
        "range_text": "200 - 400",
    }
    assert bench().kept_unread(row, "Sodium 140 mmol/L 135-145\nFite jangen $13 mg/dL 200 - 400")
    assert not bench().kept_unread(row, "Fite jangen $13 mg/dL 150 - 400")
    assert not bench().kept_unread(row, "Fite jangen $13 g/L 200 - 400")
