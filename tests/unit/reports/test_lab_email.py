"""The doctor's email: critical values first (subject too), no name in the subject, both bodies."""

from __future__ import annotations

import email.policy
from email.message import EmailMessage

import pytest

from medflow.domain.labs import Flag, LabReport, LabResult, LabSummary, Significance
from medflow.domain.patient import PatientInfo
from medflow.reports.email import render_doctor_email


def _critical_glucose(report: LabReport) -> LabResult:
    glucose = next(r for r in report.results if r.test_id == "glucose_fasting")
    return glucose.model_copy(
        update={
            "value": 38.0,
            "value_text": "38",
            "flag": Flag.CRITICAL_LOW,
            "significance": Significance.CRITICAL,
            "critical_low": 50.0,
        }
    )


def test_subject_names_the_critical_value_and_the_patient_id_only(full_report: LabReport) -> None:
    mail = render_doctor_email(full_report)
    assert mail.subject == "CRITICAL: Potassium 6.9 mmol/L — lab results for patient MRN-0042"
    assert "Jane" not in mail.subject
    assert "Jane Roe" in mail.text


def test_several_critical_values_are_counted(full_report: LabReport) -> None:
    extra = _critical_glucose(full_report)
    sodium = next(r for r in full_report.results if r.test_id == "sodium").model_copy(
        update={"value": 118.0, "flag": Flag.CRITICAL_LOW, "significance": Significance.CRITICAL}
    )
    report = full_report.model_copy(update={"results": (*full_report.results, extra, sodium)})
    subject = render_doctor_email(report).subject
    assert subject.startswith("CRITICAL: Potassium 6.9 mmol/L, Glucose, fasting 38 mg/dL (+1 more)")


def test_subject_without_critical_values_counts_findings(full_report: LabReport) -> None:
    results = tuple(r for r in full_report.results if r.significance is not Significance.CRITICAL)
    findings = full_report.summary.findings[1:]
    summary = full_report.summary.model_copy(update={"findings": findings})
    report = full_report.model_copy(update={"results": results, "summary": summary})
    assert render_doctor_email(report).subject == (
        "Lab results for patient MRN-0042: 1 finding, 7 abnormal values"
    )


def test_normal_report_subject(normal_report: LabReport) -> None:
    mail = render_doctor_email(normal_report)
    assert mail.subject == "Lab results for patient MRN-0007: no significant abnormality"
    assert "CRITICAL" not in mail.text


def test_text_body_orders_critical_then_findings_then_table(full_report: LabReport) -> None:
    text = render_doctor_email(full_report, report_url="https://h.example/r/1").text
    critical = text.index("CRITICAL VALUES")
    findings = text.index("Findings")
    table = text.index("Results (most important first)")
    assert critical < findings < table < text.index("Set aside as noise")
    assert "Potassium 6.9 mmol/L [HH] (reference 3.5-5.1; critical limit 6.2)" in text
    assert text.index("Hyperkalemia") < text.index("Microcytic anemia")
    table_lines = text[table:].splitlines()[2:]
    assert table_lines[0].split()[:4] == ["Potassium", "6.9", "mmol/L", "HH"]
    assert "C-reactive protein         <0.5" in text
    assert text.rstrip().endswith("not a diagnosis.")
    assert "Full report: https://h.example/r/1" in text


def test_html_body_escapes_and_puts_critical_first(full_report: LabReport) -> None:
    html = render_doctor_email(full_report, report_url="https://h.example/r/1").html
    assert "Jane Roe &lt;script&gt;" in html
    assert "<script>" not in html
    assert html.index("Critical values") < html.index("Findings") < html.index("Results")
    assert 'href="https://h.example/r/1"' in html
    assert "<style" not in html  # inline styles only


@pytest.mark.parametrize("url", ["javascript:alert(1)", "results/r1.html", "mailto:x@example.org"])
def test_only_absolute_web_links_are_kept(full_report: LabReport, url: str) -> None:
    mail = render_doctor_email(full_report, report_url=url)
    assert url not in mail.html
    assert "Full report" not in mail.text


def test_subject_is_one_safe_header_line(full_report: LabReport) -> None:
    patient = PatientInfo(patient_id="MRN-1\r\nBcc: evil@example.org", name="X")
    report = full_report.model_copy(
        update={"patient": patient, "summary": LabSummary(headline="h")}
    )
    mail = render_doctor_email(report)
    assert "\n" not in mail.subject
    assert "\r" not in mail.subject
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["Subject"] = mail.subject
    msg.set_content(mail.text)
    msg.add_alternative(mail.html, subtype="html")
    parsed = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    assert parsed["Bcc"] is None
    assert parsed["Subject"].endswith("for patient MRN-1 Bcc: evil@example.org")
