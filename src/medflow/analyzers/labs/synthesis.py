"""The diagnostic summary of one lab report: clinical patterns, changes over time, and the
values set aside as noise, each explained with the numbers behind it.

Patterns come from the rules in :mod:`medflow.analyzers.labs.synthesis_rules` (thresholds in
``knowledge/synthesis_rules.yaml``, each with its guideline); trends from
:mod:`medflow.analyzers.labs.trends`. A critical value that no pattern explains becomes a
finding of its own, so nothing critical is left out of the summary.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from medflow.analyzers.labs.kb import KnowledgeBase, default_kb
from medflow.analyzers.labs.synthesis_rules import RULES, Panel, load_rules
from medflow.analyzers.labs.trends import HistoricalResult, compute_trends
from medflow.domain.labs import (
    Evidence,
    Finding,
    FindingSeverity,
    LabResult,
    LabSummary,
    NoiseNote,
    Significance,
    Trend,
)
from medflow.domain.patient import PatientInfo

_RANK = {FindingSeverity.CRITICAL: 0, FindingSeverity.SIGNIFICANT: 1, FindingSeverity.INFO: 2}


def synthesize(
    results: Sequence[LabResult],
    patient: PatientInfo,
    history: Sequence[HistoricalResult] = (),
    *,
    kb: KnowledgeBase | None = None,
    collected_at: datetime | None = None,
) -> LabSummary:
    """Summarise a report's interpreted results.

    Args:
        results: the report's results from :func:`~medflow.analyzers.labs.interpret.interpret`.
        patient: the patient (sex and age select thresholds; eGFR is computed when absent).
        history: the patient's earlier results, for trends (creatinine rise, Hb drop, changes
            beyond the reference change value) and CKD chronicity.
        kb: the knowledge base used for interpretation; the packaged one when None.
        collected_at: when this report's samples were taken (the report's collection date);
            now when None, which only matters for trend windows.

    Returns:
        The summary: a headline, findings ordered critical first, trends, the noise list with
        reasons, and ``text``: the readable diagnostic summary.

    Raises:
        KnowledgeBaseError: when ``synthesis_rules.yaml`` is malformed.
    """
    kb = kb or default_kb()
    rules = load_rules()
    when = collected_at or datetime.now(UTC)
    panel = Panel(results, patient, kb, rules, history=history, collected_at=when)
    for rule in RULES:
        rule(panel)
    trends, trend_findings = compute_trends(results, history, when, kb, rules["trends"])
    findings = panel.findings + trend_findings
    covered = {e.test_id for f in findings for e in f.evidence}
    for result in results:
        if result.significance is Significance.CRITICAL and result.test_id not in covered:
            findings.append(_critical_value(result))
            covered.add(result.test_id or "")
    findings.sort(key=lambda f: _RANK[f.severity])
    noise = tuple(
        NoiseNote(
            test_id=r.test_id,
            name=r.name,
            value_text=r.value_text,
            unit=r.unit,
            reason=r.note or "a small deviation on a test where it is not clinically meaningful",
        )
        for r in results
        if r.significance is Significance.NOISE
    )
    others = [
        r
        for r in results
        if r.significance is Significance.SIGNIFICANT and r.test_id not in covered
    ]
    headline = _headline(findings, results, noise)
    return LabSummary(
        headline=headline,
        findings=tuple(findings),
        noise=noise,
        trends=tuple(trends),
        text=_text(headline, findings, trends, others, noise),
    )


def _critical_value(result: LabResult) -> Finding:
    rng = result.reference_range
    return Finding(
        code=f"critical.{result.test_id or 'unknown'}",
        title=f"Critical {result.name}",
        severity=FindingSeverity.CRITICAL,
        explanation=result.note or f"{result.name} {result.value_text} is beyond a critical limit.",
        evidence=(_ev(result, rng.text if rng is not None else ""),),
        guideline="Critical limits: laboratory configuration or CAP critical-limits surveys",
    )


def _ev(result: LabResult, range_text: str) -> Evidence:
    return Evidence(
        test_id=result.test_id or "",
        name=result.name,
        loinc=result.loinc,
        value=result.value,
        value_text=result.value_text,
        unit=result.unit,
        flag=result.flag,
        reference_range=range_text,
    )


def _headline(
    findings: Sequence[Finding], results: Sequence[LabResult], noise: Sequence[NoiseNote]
) -> str:
    critical = [f.title for f in findings if f.severity is FindingSeverity.CRITICAL]
    significant = [f.title for f in findings if f.severity is FindingSeverity.SIGNIFICANT]
    if critical:
        more = f"; {len(significant)} more significant finding(s)" if significant else ""
        return "Critical: " + ", ".join(critical) + more
    if significant:
        shown = ", ".join(significant[:3]) + (", ..." if len(significant) > 3 else "")
        return f"{len(significant)} significant finding(s): {shown}"
    abnormal = [r for r in results if r.significance is Significance.SIGNIFICANT]
    if abnormal:
        return f"{len(abnormal)} result(s) outside the reference range, no clinical pattern"
    if noise:
        return (
            f"No significant abnormality in {len(results)} results; {len(noise)} minor "
            "deviation(s) set aside as noise"
        )
    return f"All {len(results)} results within their reference ranges"


def _text(
    headline: str,
    findings: Sequence[Finding],
    trends: Sequence[Trend],
    others: Sequence[LabResult],
    noise: Sequence[NoiseNote],
) -> str:
    lines = [headline, ""]
    if findings:
        lines.append("Findings:")
        for i, finding in enumerate(findings, 1):
            cite = f" [{finding.guideline}]" if finding.guideline else ""
            lines.append(
                f"{i}. {finding.title} ({finding.severity.value}): {finding.explanation}{cite}"
            )
        lines.append("")
    if trends:
        lines.append("Changes since earlier reports:")
        lines.extend(f"- {t.explanation}" for t in trends)
        lines.append("")
    if others:
        lines.append("Other results outside the reference range:")
        for r in others:
            rng = r.reference_range.text if r.reference_range is not None else "no range"
            unit = f" {r.unit}" if r.unit and r.value is not None else ""
            lines.append(f"- {r.name} {r.value_text}{unit} ({r.flag.value}; range {rng})")
        lines.append("")
    if noise:
        lines.append("Set aside as noise (small deviations that are not clinically meaningful):")
        for n in noise:
            # interpretation notes already start with the test and its value
            shown = f"{n.name} {n.value_text} {n.unit}".rstrip()
            head = "" if n.reason.startswith(n.name) else f"{shown}: "
            lines.append(f"- {head}{n.reason}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
