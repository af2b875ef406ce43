"""Nothing false reassures: each trigger of issue 11 as the rows it leaves, and the summary.

The triggers were seen on layouts the parser did not read right (the reading side is tested in
test_parser.py); here each one is reproduced as the rows (or unread lines) it produced, and the
summary must then say what was not read, surface what the report itself prints as abnormal, and
never say "all within range" or "no significant abnormality".
"""

from __future__ import annotations

import pytest

from medflow.analyzers.labs.analyzer import LabAnalyzer
from medflow.domain.labs import Flag, LabReport, RawLabRow, Significance
from medflow.domain.patient import PatientInfo, Sex

WOMAN = PatientInfo(patient_id="p1", sex=Sex.FEMALE, age=52)
REASSURING = ("within their reference ranges", "within range", "no significant abnormality")
NORMAL_ROWS = [
    RawLabRow(name="Sodium", value_text="140", unit_text="mmol/L", range_text="135-145"),
    RawLabRow(name="Chloride", value_text="101", unit_text="mmol/L", range_text="98-107"),
    RawLabRow(name="Urea", value_text="5.0", unit_text="mmol/L", range_text="2.5-7.8"),
]


@pytest.fixture(scope="module")
def analyzer() -> LabAnalyzer:
    return LabAnalyzer(ocr=False)


def report_of(
    analyzer: LabAnalyzer, rows: list[RawLabRow], unread: tuple[str, ...] = ()
) -> LabReport:
    return analyzer.interpret(rows, WOMAN, unread=unread)


def assert_not_reassuring(report: LabReport) -> None:
    summary = report.summary
    for text in (summary.headline, summary.text):
        for phrase in REASSURING:
            assert phrase not in text.lower(), f"{phrase!r} in {text!r}"
    assert not summary.complete
    assert summary.warnings
    assert "check the original report" in summary.headline.lower() or any(
        "check" in w.lower() for w in summary.warnings
    )


def test_complete_normal_report_still_says_all_within_range(analyzer: LabAnalyzer) -> None:
    report = report_of(analyzer, NORMAL_ROWS)
    assert report.summary.complete
    assert report.summary.headline == "All 3 results within their reference ranges"


def test_unread_line_with_printed_arrow_is_counted_and_surfaced(analyzer: LabAnalyzer) -> None:
    # The glucose row never became a row: before, the summary said "All 3 results within ...".
    report = report_of(analyzer, NORMAL_ROWS, unread=("Glucose ↑ 6.6 mmol/L 3.9 - 5.5",))
    assert_not_reassuring(report)
    assert report.summary.unread == 1
    assert [r.line for r in report.unrecognized] == ["Glucose ↑ 6.6 mmol/L 3.9 - 5.5"]
    assert "1 of 4 rows could not be read" in report.summary.warnings[0]
    (finding,) = [f for f in report.summary.findings if f.code == "unrecognized.abnormal"]
    (evidence,) = finding.evidence
    assert (evidence.value, evidence.flag, evidence.reference_range) == (
        6.6,
        Flag.HIGH,
        "3.9 - 5.5",
    )
    assert "6.6 is above its printed range" in finding.explanation
    assert "flags it H" in finding.explanation


@pytest.mark.parametrize("name", ["K", "K+"])
def test_one_letter_names_are_read_and_flagged(analyzer: LabAnalyzer, name: str) -> None:
    row = RawLabRow(name=name, value_text="5.9", unit_text="mmol/L", range_text="3.5-5.1")
    (result,) = report_of(analyzer, [*NORMAL_ROWS, row]).results[3:]
    assert (result.test_id, result.flag) == ("potassium", Flag.HIGH)


def test_one_letter_name_left_as_an_unread_line_is_still_compared(analyzer: LabAnalyzer) -> None:
    report = report_of(analyzer, NORMAL_ROWS, unread=("K 5.9 mmol/L 3.5 - 5.1",))
    assert_not_reassuring(report)
    (finding,) = report.summary.findings
    assert finding.evidence[0].value == 5.9
    assert finding.evidence[0].flag is Flag.HIGH


def test_split_low_high_columns_leaked_into_the_unit_are_read_as_the_range(
    analyzer: LabAnalyzer,
) -> None:
    row = RawLabRow(name="TSH", value_text="6.5", unit_text="mIU/L 0.4 4", flag_text="H")
    (result,) = report_of(analyzer, [row]).results
    assert result.reference_range is not None
    assert (result.reference_range.low, result.reference_range.high) == (0.4, 4.0)
    assert result.reference_range.source == "report"
    assert result.unit == "m[IU]/L"
    assert (result.flag, result.flag_disagreement) == (Flag.HIGH, "")


def test_range_column_taken_as_the_value_is_held(analyzer: LabAnalyzer) -> None:
    row = RawLabRow(
        name="Potassium",
        value_text="3.5",
        unit_text="mmol/L",
        range_text="3.5-5.1",
        line="Potassium 3.5 - 5.1 6.2 mmol/L",
    )
    report = report_of(analyzer, [*NORMAL_ROWS, row])
    held = report.results[3]
    assert held.significance is Significance.REVIEW
    assert "6.2" in held.review_reason and "columns" in held.review_reason
    assert_not_reassuring(report)
    assert report.summary.held == 1


def test_negative_printed_range_is_read(analyzer: LabAnalyzer) -> None:
    row = RawLabRow(name="Base excess", value_text="-5.0", unit_text="mmol/L", range_text="-2 - +2")
    report = report_of(analyzer, [*NORMAL_ROWS, row])
    if report.results[3:]:  # the knowledge base knows the test
        (result,) = report.results[3:]
        assert result.reference_range is not None
        assert (result.reference_range.low, result.reference_range.high) == (-2.0, 2.0)
        assert result.flag is Flag.LOW
        return
    assert_not_reassuring(report)
    (finding,) = report.summary.findings
    assert finding.evidence[0].flag is Flag.LOW
    assert "-5 is below its printed range" in finding.explanation


def test_negative_range_of_a_known_test_is_applied(analyzer: LabAnalyzer) -> None:
    row = RawLabRow(name="Sodium", value_text="130", unit_text="mmol/L", range_text="+135 - +145")
    (result,) = report_of(analyzer, [row]).results
    assert result.reference_range is not None and result.reference_range.low == 135
    assert result.flag is Flag.LOW


def test_ocr_decimal_comma_is_held_for_review(analyzer: LabAnalyzer) -> None:
    row = RawLabRow(
        name="Glucose", value_text="6,6", unit_text="mmol/L", range_text="3.9-5.5", ocr=True
    )
    report = report_of(analyzer, [*NORMAL_ROWS, row])
    held = report.results[3]
    assert held.significance is Significance.REVIEW
    assert "comma" in held.review_reason
    assert_not_reassuring(report)
    printed = row.model_copy(update={"ocr": False})
    (result,) = report_of(analyzer, [printed]).results
    assert (result.value, result.flag, result.significance) == (
        6.6,
        Flag.HIGH,
        Significance.SIGNIFICANT,
    )


def test_result_without_any_range_is_not_called_within_range(analyzer: LabAnalyzer) -> None:
    row = RawLabRow(name="Sodium", value_text="140", unit_text="furlongs")
    report = report_of(analyzer, [row])
    assert_not_reassuring(report)
    assert "no reference range" in report.summary.warnings[0]


def test_printed_flag_disagreeing_is_a_warning(analyzer: LabAnalyzer) -> None:
    row = RawLabRow(
        name="Potassium", value_text="4.0", unit_text="mmol/L", range_text="3.5-5.1", flag_text="H"
    )
    report = report_of(analyzer, [*NORMAL_ROWS, row])
    result = report.results[3]
    assert result.flag is Flag.NORMAL
    assert result.printed_flag == "H"
    assert result.flag_disagreement.startswith("printed H, computed N against the range 3.5-5.1")
    assert "printed on the report" in result.flag_disagreement
    assert_not_reassuring(report)


def test_spanish_report_is_named_and_its_own_ranges_surface_abnormal_rows(
    analyzer: LabAnalyzer,
) -> None:
    # Uncommon tests, so that the rows stay unknown whatever Spanish aliases the KB gains.
    section = "BIOQUÍMICA DE ORINA Y SANGRE"
    printed = [
        ("Cromo en sangre", "12,0", "µg/L", "20,0 - 60,0"),
        ("Cobre en orina", "35", "µg/24 h", "3 - 50"),
        ("Selenio en sangre", "95", "µg/L", "70 - 150"),
        ("Manganeso en sangre", "19,5", "µg/L", "4,0 - 15,0"),
    ]
    rows = [
        RawLabRow(
            name=n,
            value_text=v,
            unit_text=u,
            range_text=r,
            section=section,
            line=f"{n} {v} {u} {r}",
        )
        for n, v, u, r in printed
    ]
    report = report_of(analyzer, rows)
    assert report.language == "es"
    assert_not_reassuring(report)
    assert "Spanish" in report.summary.warnings[0]
    assert "not fully support" in report.summary.warnings[0]
    flagged = {f.evidence[0].name: f.evidence[0].flag for f in report.summary.findings}
    assert flagged == {"Cromo en sangre": Flag.LOW, "Manganeso en sangre": Flag.HIGH}


def test_english_report_gets_no_language() -> None:
    report = LabAnalyzer(ocr=False).interpret(NORMAL_ROWS, WOMAN)
    assert report.language == ""


@pytest.mark.parametrize("printed", ["12,0 - 15,5", "12,0 a 15,5"])
def test_decimal_comma_printed_range_is_read_as_decimals(
    analyzer: LabAnalyzer, printed: str
) -> None:
    # Read as "0-15" the range would have called 10.2 g/dL normal.
    row = RawLabRow(name="Hb", value_text="10,2", unit_text="g/dL", range_text=printed)
    (result,) = report_of(analyzer, [row]).results
    assert result.reference_range is not None
    assert (result.reference_range.low, result.reference_range.high) == (12.0, 15.5)
    assert result.flag is Flag.LOW


@pytest.mark.parametrize("mark", ["CRIT", "!!", "Critical"])
def test_a_critical_mark_without_direction_takes_the_computed_one(
    analyzer: LabAnalyzer, mark: str
) -> None:
    row = RawLabRow(
        name="Potassium", value_text="6.9", unit_text="mmol/L", range_text="3.5-5.1", flag_text=mark
    )
    report = report_of(analyzer, [*NORMAL_ROWS, row])
    result = report.results[3]
    assert result.flag is Flag.CRITICAL_HIGH
    assert result.significance is Significance.CRITICAL
    assert result.printed_flag == "C"


def test_a_critical_mark_on_a_value_computed_normal_is_critical_and_shown(
    analyzer: LabAnalyzer,
) -> None:
    row = RawLabRow(
        name="Potassium", value_text="4.0", unit_text="mmol/L", range_text="3.5-5.1", flag_text="C"
    )
    report = report_of(analyzer, [*NORMAL_ROWS, row])
    result = report.results[3]
    assert result.significance is Significance.CRITICAL
    assert result.flag_disagreement.startswith("printed critical, computed N against the range")
    assert_not_reassuring(report)


def test_an_unrecognised_row_marked_critical_is_a_critical_finding(analyzer: LabAnalyzer) -> None:
    row = RawLabRow(
        name="Cromo en sangre",
        value_text="9.1",
        unit_text="ug/L",
        range_text="0.1-2.0",
        flag_text="C",
    )
    report = report_of(analyzer, [*NORMAL_ROWS, row])
    [finding] = [f for f in report.summary.findings if f.code == "unrecognized.abnormal"]
    assert finding.severity.value == "critical"
    assert finding.evidence[0].flag is Flag.CRITICAL_HIGH
