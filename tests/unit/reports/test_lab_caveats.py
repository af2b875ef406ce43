"""The email, the HTML page and the terminal table never reassure about an incomplete report:
rows not read, values held for review, printed flags that disagree, where each range came from."""

from __future__ import annotations

import re

import pytest
from rich.console import Console

from medflow.analyzers.labs.analyzer import LabAnalyzer
from medflow.cli.render import print_lab_report
from medflow.domain.labs import LabReport, RawLabRow
from medflow.domain.patient import PatientInfo, Sex
from medflow.reports.email import render_doctor_email
from medflow.reports.html import render_lab_html

PATIENT = PatientInfo(patient_id="P-9", sex=Sex.FEMALE, age=40, name="Grace Hopper")
ROWS = [
    RawLabRow(name="Sodium", value_text="140", unit_text="mmol/L", range_text="135-145"),
    RawLabRow(name="Chloride", value_text="101", unit_text="mmol/L"),
    RawLabRow(
        name="Potassium", value_text="4.2", unit_text="mmol/L", range_text="3.5-5.1", flag_text="H"
    ),
    RawLabRow(
        name="Total Cholesterol",
        value_text="5395",
        unit_text="mmol/L",
        range_text="3.0-6.0",
        ocr=True,
    ),
]
UNREAD = ("Glucose ↑ 6.6 mmol/L 3.9 - 5.5",)


@pytest.fixture(scope="module")
def incomplete() -> LabReport:
    return LabAnalyzer(ocr=False).interpret(ROWS, PATIENT, unread=UNREAD)


def _plain(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_email_says_what_was_not_read_and_held(incomplete: LabReport) -> None:
    email = render_doctor_email(incomplete, report_url="https://medflow.example/reports/d1")
    assert "no significant abnormality" not in email.subject
    assert "1 row not read" in email.subject and "1 held for review" in email.subject
    for body in (email.text, _plain(email.html)):
        assert "Check before relying on this summary".lower() in body.lower()
        assert "1 of 5 rows could not be read" in body
        assert "Glucose ↑ 6.6 mmol/L 3.9 - 5.5" in body
        assert "5.95" in body  # the held value's likely reading
        assert "printed H, computed N" in body
        assert "printed on the report" in body
        assert "medflow knowledge base" in body  # chloride's range
        assert "within their reference ranges" not in body


def test_complete_normal_email_keeps_its_plain_subject() -> None:
    report = LabAnalyzer(ocr=False).interpret(ROWS[:1], PATIENT)
    assert render_doctor_email(report).subject.endswith("no significant abnormality")


def test_html_page_shows_the_caveats_held_values_and_range_sources(incomplete: LabReport) -> None:
    page = _plain(render_lab_html(incomplete))
    assert "Check before relying on this summary" in page
    assert "Held for review (1)" in page
    assert "Rows not read or not recognised (1)" in page
    assert "Glucose ↑ 6.6 mmol/L 3.9 - 5.5" in page
    assert "printed H, computed N" in page
    assert "printed on the report" in page and "medflow knowledge base" in page


def test_terminal_table_names_range_origin_and_rows_not_read(incomplete: LabReport) -> None:
    console = Console(width=220, record=True)
    print_lab_report(console, incomplete)
    out = console.export_text()
    assert "Range from" in out and "knowledge base" in out
    assert "N (printed H)" in out
    assert "review" in out and "not read" in out
    assert "Glucose ↑ 6.6 mmol/L 3.9 - 5.5 (not recognised)" in out


def test_a_row_printed_critical_but_not_recognised_is_critical_in_the_subject() -> None:
    report = LabAnalyzer(ocr=False).interpret(
        ROWS[:1], PATIENT, unread=("Lactato HH 9.8 mmol/L 0.5 - 2.2",)
    )
    subject = render_doctor_email(report).subject
    assert subject.startswith("CRITICAL as printed (not interpreted): Lactato 9.8 mmol/L")
    assert "1 row not read" in subject


def test_narration_prompt_carries_the_caveats_and_no_held_value_as_a_result(
    incomplete: LabReport,
) -> None:
    from medflow.reports.narrative import build_narration_prompt

    prompt = build_narration_prompt(incomplete.summary, incomplete.results)
    assert "Caveats" in prompt and "could not be read" in prompt
    results_part = prompt.split("Results outside their reference range:")[-1]
    assert "- Cholesterol, total:" not in results_part
