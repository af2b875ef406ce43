"""Changes over time: this report's results against the same patient's earlier results.

A trend is reported when a change is clinically meaningful: a creatinine rise meeting the
KDIGO 2012 AKI criterion (>= 0.3 mg/dL within 48 h, or >= 1.5x the lowest value of the last
7 days), a haemoglobin drop of >= 2 g/dL, or any change larger than the test's reference change
value (the smallest difference two results must show to exceed analytical and within-person
biological variation; EFLM Biological Variation Database).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict

from medflow.analyzers.labs.kb import KnowledgeBase
from medflow.analyzers.labs.synthesis_rules.panel import RuleSection, fmt
from medflow.domain.labs import (
    Evidence,
    Finding,
    FindingSeverity,
    LabResult,
    Significance,
    Trend,
)


class HistoricalResult(BaseModel):
    """An earlier result of the same patient, as stored from a previous report.

    Attributes:
        test_id: the knowledge-base test id.
        value: the numeric value.
        unit: its UCUM unit.
        collected_at: when the sample was taken (naive datetimes are read as UTC).
    """

    model_config = ConfigDict(frozen=True)

    test_id: str
    value: float
    unit: str
    collected_at: datetime


def utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime (naive values are taken to be UTC already)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def compute_trends(
    results: Sequence[LabResult],
    history: Sequence[HistoricalResult],
    collected_at: datetime,
    kb: KnowledgeBase,
    rules: RuleSection,
) -> tuple[list[Trend], list[Finding]]:
    """Meaningful changes between this report and earlier ones.

    Args:
        results: this report's interpreted results.
        history: earlier results of the same patient (any order, any accepted unit).
        collected_at: when this report's samples were taken.
        kb: the knowledge base (unit conversion, reference change values).
        rules: the ``trends`` thresholds of ``synthesis_rules.yaml``.

    Returns:
        ``(trends, findings)``: a :class:`Trend` for every meaningful change, expressed in the
        current result's unit, and a finding for an AKI-range creatinine rise or a
        haemoglobin drop.
    """
    now = utc(collected_at)
    seen: set[str] = set()
    trends: list[Trend] = []
    findings: list[Finding] = []
    for result in results:
        test_id = result.test_id
        if test_id is None or result.value is None or test_id in seen:
            continue
        seen.add(test_id)
        unit = result.unit or kb.get(test_id).unit
        past: list[tuple[datetime, float]] = []
        for old in history:
            if old.test_id != test_id or utc(old.collected_at) >= now:
                continue
            value = kb.convert(test_id, old.value, old.unit, unit)
            if value is not None:
                past.append((utc(old.collected_at), value))
        if not past:
            continue
        past.sort()
        points = (*past, (now, result.value))
        previous = past[-1][1]
        change = result.value - previous
        pct = change / previous if previous else None
        reasons: list[str] = []
        if test_id == "creatinine":
            aki = _aki(result, past, now, kb, unit, rules)
            if aki is not None:
                reasons.append(aki.explanation)
                findings.append(aki)
        if test_id == "hemoglobin":
            drop = _hb_drop(result, previous, kb, unit, rules)
            if drop is not None:
                reasons.append(drop.explanation)
                findings.append(drop)
        rcv = kb.get(test_id).rcv
        if not reasons and rcv is not None and pct is not None and abs(pct) > rcv:
            direction = "rose" if change > 0 else "fell"
            reasons.append(
                f"{result.name} {direction} from {fmt(previous)} to {fmt(result.value)} {unit} "
                f"({pct:+.0%}), more than its reference change value of {rcv:.0%}."
            )
            findings.append(_rcv_finding(result, direction, reasons[-1], rules))
        if reasons:
            trends.append(
                Trend(
                    test_id=test_id,
                    name=result.name,
                    unit=unit,
                    points=points,
                    change=round(change, 4),
                    change_pct=None if pct is None else round(pct * 100, 2),
                    explanation=" ".join(reasons),
                )
            )
    return trends, findings


def _aki(
    result: LabResult,
    past: Sequence[tuple[datetime, float]],
    now: datetime,
    kb: KnowledgeBase,
    unit: str,
    rules: RuleSection,
) -> Finding | None:
    current = kb.convert("creatinine", result.value or 0.0, unit, "mg/dL")
    if current is None:
        return None
    window = now - timedelta(hours=rules.num("aki_window_hours"))
    baseline_from = now - timedelta(days=rules.num("aki_baseline_days"))
    in_window = [kb.convert("creatinine", v, unit, "mg/dL") for t, v in past if t >= window]
    in_week = [kb.convert("creatinine", v, unit, "mg/dL") for t, v in past if t >= baseline_from]
    lows48 = [v for v in in_window if v is not None]
    lows7 = [v for v in in_week if v is not None]
    why: list[str] = []
    stage = 0
    if lows48 and current - min(lows48) >= rules.num("aki_rise_mg_dl"):
        stage = 1
        why.append(
            f"a rise of {fmt(current - min(lows48))} mg/dL within "
            f"{fmt(rules.num('aki_window_hours'))} h (>= {fmt(rules.num('aki_rise_mg_dl'))})"
        )
    if lows7 and min(lows7) > 0:
        ratio = current / min(lows7)
        if ratio >= rules.num("aki_ratio"):
            stage = max(stage, 1)
            if ratio >= rules.num("aki_stage3_ratio") or current >= 4.0:
                stage = 3
            elif ratio >= rules.num("aki_stage2_ratio"):
                stage = max(stage, 2)
            why.append(
                f"{fmt(ratio)}x the lowest value of the last {fmt(rules.num('aki_baseline_days'))} "
                f"days ({fmt(min(lows7))} mg/dL)"
            )
    if not stage:
        return None
    return Finding(
        code="trend.aki",
        title=f"Acute kidney injury range (KDIGO stage {stage})",
        severity=FindingSeverity.CRITICAL if stage == 3 else FindingSeverity.SIGNIFICANT,
        explanation=(
            f"Creatinine {fmt(current)} mg/dL shows " + " and ".join(why) + ": this meets the "
            "KDIGO creatinine criterion for acute kidney injury (urine output not assessed)."
        ),
        evidence=(_evidence(result),),
        guideline=rules.guideline,
    )


def _rcv_finding(result: LabResult, direction: str, text: str, rules: RuleSection) -> Finding:
    # A real change matters more when the value now lies outside its range.
    abnormal = result.significance in (Significance.SIGNIFICANT, Significance.CRITICAL)
    return Finding(
        code=f"trend.{result.test_id}",
        title=f"{result.name} {'rising' if direction == 'rose' else 'falling'}",
        severity=FindingSeverity.SIGNIFICANT if abnormal else FindingSeverity.INFO,
        explanation=text,
        evidence=(_evidence(result),),
        guideline=rules.text("rcv_guideline"),
    )


def _evidence(result: LabResult) -> Evidence:
    rng = result.reference_range
    return Evidence(
        test_id=result.test_id or "",
        name=result.name,
        loinc=result.loinc,
        value=result.value,
        value_text=result.value_text,
        unit=result.unit,
        flag=result.flag,
        reference_range=rng.text if rng is not None else "",
    )


def _hb_drop(
    result: LabResult, previous: float, kb: KnowledgeBase, unit: str, rules: RuleSection
) -> Finding | None:
    now_g = kb.convert("hemoglobin", result.value or 0.0, unit, "g/dL")
    before_g = kb.convert("hemoglobin", previous, unit, "g/dL")
    if now_g is None or before_g is None or before_g - now_g < rules.num("hb_drop_g_dl"):
        return None
    return Finding(
        code="trend.hb_drop",
        title="Hemoglobin drop",
        severity=FindingSeverity.SIGNIFICANT,
        explanation=(
            f"Hemoglobin fell from {fmt(before_g)} to {fmt(now_g)} g/dL "
            f"({fmt(before_g - now_g)} g/dL, >= {fmt(rules.num('hb_drop_g_dl'))}): bleeding or "
            "haemolysis should be considered."
        ),
        evidence=(_evidence(result),),
        guideline=rules.text("hb_guideline"),
    )
