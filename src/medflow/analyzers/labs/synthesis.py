"""The diagnostic summary of one lab report: clinical patterns, changes over time, and the
values set aside as noise, each explained with the numbers behind it.

Patterns come from the rules in :mod:`medflow.analyzers.labs.synthesis_rules` (thresholds in
``knowledge/synthesis_rules.yaml``, each with its guideline); trends from
:mod:`medflow.analyzers.labs.trends`. A critical value that no pattern explains becomes a
finding of its own, so nothing critical is left out of the summary.

Nothing false reassures: when rows could not be read or recognised, values are held for review,
a printed flag disagrees with the computed one, or a result had no range to compare with, the
summary is marked incomplete, its headline and text say so (and that the original report must
be checked), and it never reads "all within range" or "no significant abnormality". Rows not
interpreted are still compared with their own printed range and flag
(:mod:`medflow.analyzers.labs.screening`); values held for review feed no rule and no trend.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from medflow.analyzers.labs.kb import KnowledgeBase, default_kb
from medflow.analyzers.labs.language import Language
from medflow.analyzers.labs.scan_trust import uncertainty
from medflow.analyzers.labs.screening import screen_unrecognized
from medflow.analyzers.labs.synthesis_rules import RULES, Panel, load_rules
from medflow.analyzers.labs.trends import HistoricalResult, compute_trends
from medflow.domain.labs import (
    Evidence,
    Finding,
    FindingSeverity,
    Flag,
    LabResult,
    LabSummary,
    NoiseNote,
    RawLabRow,
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
    unrecognized: Sequence[RawLabRow] = (),
    language: Language | None = None,
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
        unrecognized: the rows that were not interpreted (unknown test, unreadable value, a
            line with numbers the parser could not split): counted, and compared with their
            own printed range and flag.
        language: the report's language when it is not English, for the warning.

    Returns:
        The summary: a headline, findings ordered critical first, trends, the noise list with
        reasons, and ``text``: the readable diagnostic summary.

    Raises:
        KnowledgeBaseError: when ``synthesis_rules.yaml`` is malformed.
    """
    kb = kb or default_kb()
    rules = load_rules()
    when = collected_at or datetime.now(UTC)
    # A value held for review is not a finding until a person has checked it.
    usable = [r for r in results if r.significance is not Significance.REVIEW]
    held = [r for r in results if r.significance is Significance.REVIEW]
    panel = Panel(usable, patient, kb, rules, history=history, collected_at=when)
    for rule in RULES:
        rule(panel)
    trends, trend_findings = compute_trends(usable, history, when, kb, rules["trends"])
    findings = panel.findings + trend_findings + screen_unrecognized(unrecognized, patient)
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
    warnings = caveats(results, unrecognized, language)
    headline = _headline(findings, usable, noise)
    if warnings:
        headline = _incomplete_headline(headline, findings, usable, held, unrecognized)
    return LabSummary(
        headline=headline,
        findings=tuple(findings),
        noise=noise,
        trends=tuple(trends),
        text=_text(headline, findings, trends, others, noise, warnings, held),
        complete=not warnings,
        unread=len(unrecognized),
        held=len(held),
        warnings=tuple(warnings),
        low_confidence=len(uncertain(usable)),
    )


def unchecked(results: Sequence[LabResult]) -> list[LabResult]:
    """Results that were compared with no range at all (no flag, printed or computed)."""
    return [
        r
        for r in results
        if r.value is not None
        and r.flag is Flag.NORMAL
        and (
            r.reference_range is None
            or (r.reference_range.low is None and r.reference_range.high is None)
        )
    ]


def uncertain(results: Sequence[LabResult]) -> list[LabResult]:
    """Results read from a scan too uncertainly to be called normal (``scan_trust``); values
    held for review are counted as held, not here."""
    return [r for r in results if r.significance is not Significance.REVIEW and uncertainty(r.row)]


def caveats(
    results: Sequence[LabResult],
    unrecognized: Sequence[RawLabRow],
    language: Language | None = None,
) -> list[str]:
    """What a reader must know before trusting the summary, in words; empty when nothing.

    Rows not read or recognised, values held for review, values read from a scan with low
    or unknown confidence or changed after the first reading, printed flags that disagree
    with the computed ones, results with no range to compare with, a language not fully
    supported.
    """
    out: list[str] = []
    total = len(results) + len(unrecognized)
    if language is not None and unrecognized:
        out.append(
            f"This report appears to be in {language.name}, which medflow does not fully "
            f"support: {len(unrecognized)} of {total} rows were not recognised. Check the "
            "original report."
        )
    elif unrecognized:
        out.append(
            f"{len(unrecognized)} of {total} rows could not be read or recognised and were not "
            "interpreted. Check the original report."
        )
    held = [r for r in results if r.significance is Significance.REVIEW]
    if held:
        listed = "; ".join(
            f"{r.name} {r.value_text.strip()} {r.printed_unit}".strip() for r in held
        )
        out.append(
            f"{len(held)} value(s) held for review as implausible as read ({listed}): not "
            "interpreted until checked against the printed report."
        )
    unsure = uncertain(results)
    if unsure:
        listed = "; ".join(f"{_as_printed(r)}: {uncertainty(r.row)}" for r in unsure)
        out.append(
            f"{len(unsure)} value(s) read from a scan with low confidence ({listed}): check "
            "them against the original report."
        )
    disagreeing = [r for r in results if r.flag_disagreement]
    if disagreeing:
        listed = "; ".join(f"{r.name}: {r.flag_disagreement}" for r in disagreeing)
        out.append(f"{len(disagreeing)} printed flag(s) disagree with medflow's ({listed}).")
    bare = unchecked(results)
    if bare:
        listed = ", ".join(r.name for r in bare)
        out.append(f"{len(bare)} result(s) had no reference range to compare with ({listed}).")
    return out


def _as_printed(result: LabResult) -> str:
    return f"{result.name} {result.value_text.strip()} {result.printed_unit}".strip()


def _incomplete_headline(
    headline: str,
    findings: Sequence[Finding],
    usable: Sequence[LabResult],
    held: Sequence[LabResult],
    unrecognized: Sequence[RawLabRow],
) -> str:
    """The headline of a summary that must not reassure: what is missing comes with it."""
    disagreeing = sum(1 for r in usable if r.flag_disagreement)
    bare = len(unchecked(usable))
    unsure = len(uncertain(usable))
    missing = [
        text
        for count, text in (
            (len(unrecognized), f"{len(unrecognized)} row(s) not read or not recognised"),
            (len(held), f"{len(held)} value(s) held for review"),
            (unsure, f"{unsure} value(s) read from a scan with low confidence"),
            (disagreeing, f"{disagreeing} printed flag(s) disagreeing with medflow's"),
            (bare, f"{bare} result(s) without a range to compare with"),
        )
        if count
    ]
    # an information-only finding is no abnormality: the headline would still say "All n
    # results within their reference ranges" beside what could not be read
    abnormal = any(f.severity is not FindingSeverity.INFO for f in findings) or any(
        r.significance in (Significance.SIGNIFICANT, Significance.CRITICAL) for r in usable
    )
    if abnormal:
        return f"{headline}; " + ", ".join(missing) + ": check the original report"
    text = "Incomplete: " + ", ".join(missing) + ": check the original report"
    if not usable:
        return f"{text}. No result could be interpreted"
    if disagreeing or bare:
        return text
    return f"{text}. None of the {len(usable)} results read is outside its range"


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
    warnings: Sequence[str] = (),
    held: Sequence[LabResult] = (),
) -> str:
    lines = [headline, ""]
    if warnings:
        lines.append("Check before relying on this summary:")
        lines.extend(f"- {w}" for w in warnings)
        lines.append("")
    if held:
        lines.append("Held for review (implausible as read; not interpreted):")
        for r in held:
            lines.append(f"- {_as_printed(r)}: {r.review_reason}")
        lines.append("")
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
