"""The email to the assigned doctor: critical values first, then findings, then every result.

PHI minimisation: the subject line names the patient by id only (subjects show in notification
previews, mail server logs and lock screens); the name appears in the body, which travels only
to the doctor's mailbox.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from medflow.domain.labs import FindingSeverity, LabReport, LabResult
from medflow.reports.html import lab_environment, safe_links
from medflow.reports.labs_view import (
    critical_results,
    display_unit,
    display_value,
    flag_text,
    held_results,
    number,
    range_source,
    range_source_short,
    range_text,
    results_by_priority,
    unread_text,
)

_SEVERITY_ORDER = {FindingSeverity.CRITICAL: 0, FindingSeverity.SIGNIFICANT: 1}
_SUBJECT_MAX = 200
_CONFIDENTIAL = (
    "This message holds confidential patient information for the addressed clinician only. "
    "medflow's flags and findings are decision support, not a diagnosis."
)


@dataclass(frozen=True)
class EmailContent:
    """A rendered email, ready for ``platform.notify.Message``.

    Attributes:
        subject: one line, no patient name.
        text: the plain-text body.
        html: the HTML body (inline styles only: mail clients drop style sheets).
    """

    subject: str
    text: str
    html: str


def _one_line(text: str) -> str:
    # A CR/LF in a header would end it (header injection, RFC 5322 2.2); fold all whitespace.
    return re.sub(r"\s+", " ", text).strip()


def _value_with_unit(r: LabResult) -> str:
    unit = display_unit(r.unit)
    return f"{display_value(r)} {unit}".strip()


def _critical_line(r: LabResult) -> str:
    limit = r.critical_high if r.flag.value == "HH" else r.critical_low
    extra = f"; critical limit {number(limit)}" if limit is not None else ""
    reference = range_text(r) or "not given"
    return f"{r.name} {_value_with_unit(r)} [{r.flag.value}] (reference {reference}{extra})"


def doctor_subject(report: LabReport) -> str:
    """The subject line: critical values named first, the patient by id, never by name."""
    pid = _one_line(report.patient.patient_id)
    critical = critical_results(report)
    if critical:
        named = ", ".join(f"{r.name} {_value_with_unit(r)}" for r in critical[:2])
        more = f" (+{len(critical) - 2} more)" if len(critical) > 2 else ""
        subject = f"CRITICAL: {named}{more} — lab results for patient {pid}"
    elif printed_critical := [
        f
        for f in report.summary.findings
        if f.code == "unrecognized.abnormal" and f.severity is FindingSeverity.CRITICAL
    ]:
        named = ", ".join(
            f"{e.name} {e.value_text} {e.unit}".strip()
            for f in printed_critical
            for e in f.evidence
        )
        subject = f"CRITICAL as printed (not interpreted): {named} — lab results for patient {pid}"
    else:
        findings = [f for f in report.summary.findings if f.severity in _SEVERITY_ORDER]
        abnormal = [r for r in report.results if r.significance.value == "significant"]
        parts = []
        if findings:
            parts.append(f"{len(findings)} finding{'s' if len(findings) != 1 else ''}")
        if abnormal:
            parts.append(f"{len(abnormal)} abnormal value{'s' if len(abnormal) != 1 else ''}")
        parts += _incomplete_parts(report)
        if parts:
            subject = f"Lab results for patient {pid}: {', '.join(parts)}"
        else:
            subject = f"Lab results for patient {pid}: no significant abnormality"
    if subject.startswith("CRITICAL") and _incomplete_parts(report):
        subject += "; " + ", ".join(_incomplete_parts(report))
    subject = _one_line(subject)
    return subject if len(subject) <= _SUBJECT_MAX else subject[: _SUBJECT_MAX - 1] + "…"


def _incomplete_parts(report: LabReport) -> list[str]:
    """What the subject must say so that it never reads as all normal when it is not known."""
    parts = []
    summary = report.summary
    if summary.unread:
        parts.append(f"{summary.unread} row{'s' if summary.unread != 1 else ''} not read")
    if summary.held:
        parts.append(f"{summary.held} held for review")
    if summary.low_confidence:
        parts.append(f"{summary.low_confidence} read from a scan with low confidence")
    if not summary.complete and not parts:
        parts.append("incomplete, check the original")
    return parts


def _table(results: list[LabResult]) -> list[str]:
    rows = [("Test", "Value", "Unit", "Flag", "Reference", "Range from")]
    rows += [
        (
            r.name,
            display_value(r),
            display_unit(r.unit),
            flag_text(r),
            range_text(r) or "-",
            range_source_short(r),
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return [
        (
            "  "
            + "  ".join(cell.ljust(w) for cell, w in zip(row[:5], widths, strict=True))
            + "  "
            + row[5]
        ).rstrip()
        for row in rows
    ]


def _text(report: LabReport, report_url: str | None) -> str:
    p = report.patient
    lines: list[str] = []
    critical = critical_results(report)
    if critical:
        lines += ["CRITICAL VALUES", *(f"  * {_critical_line(r)}" for r in critical), ""]
    who = f"{p.name} (patient id {p.patient_id})" if p.name else f"Patient id {p.patient_id}"
    age = f", {p.age:.0f} y" if p.age is not None else ""
    lines.append(f"Patient: {who}, {p.sex.value}{age}")
    when = report.collected_at.strftime("%Y-%m-%d %H:%M") if report.collected_at else "not printed"
    lines.append(f"Collected: {when}" + (f" — {report.lab_name}" if report.lab_name else ""))
    lines += ["", f"Summary: {report.summary.headline}"]
    if report.summary.warnings:
        lines += ["", "CHECK BEFORE RELYING ON THIS SUMMARY"]
        lines += [f"  * {w}" for w in report.summary.warnings]
    held = held_results(report)
    if held:
        lines += ["", "Held for review (implausible as read; not interpreted)"]
        lines += [
            f"  * {r.name} {r.value_text.strip()} {r.printed_unit}".rstrip()
            + f": {r.review_reason}"
            for r in held
        ]
    if report.summary.narrative:
        provider = report.summary.narrative_provider or "a language model"
        lines += ["", report.summary.narrative, f"  (narrative by {provider}, numbers checked)"]
    findings = sorted(report.summary.findings, key=lambda f: _SEVERITY_ORDER.get(f.severity, 2))
    if findings:
        lines += ["", "Findings"]
        for f in findings:
            lines.append(f"  * {f.title} [{f.severity.value}]: {f.explanation}")
            if f.guideline:
                lines.append(f"    Guideline: {f.guideline}")
    lines += ["", "Results (most important first)", *_table(results_by_priority(report))]
    sources = sorted({range_source(r) for r in report.results if r.reference_range})
    if sources:
        lines += ["", "Reference ranges from: " + "; ".join(sources)]
    disagreeing = [r for r in report.results if r.flag_disagreement]
    if disagreeing:
        lines += ["", "Printed flags that disagree with medflow's"]
        lines += [f"  * {r.name}: {r.flag_disagreement}" for r in disagreeing]
    unread = unread_text(report)
    if unread:
        lines += ["", f"Rows not read or not recognised ({len(unread)}): check the original report"]
        lines += [f"  * {text}" for text in unread]
    if report.summary.noise:
        lines += ["", "Set aside as noise"]
        lines += [
            f"  * {n.name} {n.value_text} {display_unit(n.unit)}: {n.reason}"
            for n in report.summary.noise
        ]
    if report_url:
        lines += ["", f"Full report: {report_url}"]
    lines += ["", "--", _CONFIDENTIAL]
    return "\n".join(lines) + "\n"


def render_doctor_email(report: LabReport, *, report_url: str | None = None) -> EmailContent:
    """The doctor's email for one lab report.

    Args:
        report: the interpreted report.
        report_url: a link to the full report (e.g. a signed download URL); http(s) only.

    Returns:
        Subject (critical values named first, patient id only), plain text and HTML bodies,
        each ordered: critical values, summary, findings, results table, noise, link.
    """
    links = safe_links({"Full report": report_url} if report_url else None)
    # A mail client has no base URL: only absolute web links make sense here.
    url = links[0][1] if links and urlsplit(links[0][1]).scheme in ("http", "https") else None
    findings = sorted(report.summary.findings, key=lambda f: _SEVERITY_ORDER.get(f.severity, 2))
    html = (
        lab_environment()
        .get_template("labs/email.html.j2")
        .render(
            report=report,
            critical=critical_results(report),
            critical_line=_critical_line,
            findings=findings,
            results=results_by_priority(report),
            held=held_results(report),
            unread=unread_text(report),
            flagtext=flag_text,
            rsource=range_source,
            report_url=url,
            confidential=_CONFIDENTIAL,
        )
    )
    return EmailContent(subject=doctor_subject(report), text=_text(report, url), html=html)
