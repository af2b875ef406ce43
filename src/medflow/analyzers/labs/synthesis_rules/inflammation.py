"""Inflammation and infection patterns: CRP, procalcitonin, leukocytosis / leukopenia,
neutrophilia / neutropenia."""

from __future__ import annotations

from medflow.analyzers.labs.synthesis_rules.panel import Panel, fmt
from medflow.domain.labs import FindingSeverity as Sev


def inflammation(panel: Panel) -> None:
    """An inflammatory response from CRP, and a bacterial-infection pattern when CRP is marked,
    procalcitonin >= 0.5 ng/mL, or neutrophilia accompanies a raised CRP."""
    rules = panel.rules["inflammation"]
    crp = panel.value("crp", "mg/L")
    pct = panel.value("procalcitonin", "ng/mL")
    wbc = panel.value("wbc", "10*3/uL")
    anc = panel.value("neutrophils_abs", "10*3/uL")
    crp_up = crp is not None and crp > rules.num("crp_elevated_above")
    pct_up = pct is not None and pct >= rules.num("pct_bacterial_from")
    neutrophilia = anc is not None and anc > rules.num("anc_high_above")
    leukocytosis = wbc is not None and wbc > rules.num("wbc_high_above")
    signs: list[str] = []
    if crp_up and crp is not None:
        signs.append(f"CRP {fmt(crp)} mg/L (> {fmt(rules.num('crp_elevated_above'))})")
    if leukocytosis and wbc is not None:
        signs.append(f"WBC {fmt(wbc)} x10^3/uL (> {fmt(rules.num('wbc_high_above'))})")
    if neutrophilia and anc is not None:
        signs.append(f"neutrophils {fmt(anc)} x10^3/uL (> {fmt(rules.num('anc_high_above'))})")
    if pct is not None and (pct_up or crp_up):
        signs.append(f"procalcitonin {fmt(pct)} ng/mL")
    ids = ["crp", "procalcitonin", "wbc", "neutrophils_abs", "neutrophils_pct", "esr"]
    bacterial = (
        pct_up
        or (crp is not None and crp > rules.num("crp_marked_above"))
        or (crp_up and (neutrophilia or leukocytosis))
    )
    if bacterial:
        unlikely = pct is not None and pct < rules.num("pct_unlikely_below")
        panel.add(
            "inflammation.bacterial_pattern",
            "Inflammation with a bacterial-infection pattern",
            Sev.SIGNIFICANT,
            "; ".join(signs)
            + (
                f". Procalcitonin below {fmt(rules.num('pct_unlikely_below'))} ng/mL argues "
                "against a bacterial cause."
                if unlikely
                else ". This combination suggests a bacterial infection; correlate clinically."
            ),
            ids,
            rules.guideline,
        )
    elif crp_up or leukocytosis:
        panel.add(
            "inflammation.raised_markers",
            "Raised inflammatory markers",
            Sev.SIGNIFICANT,
            "; ".join(signs)
            + ": an acute-phase response (infection, inflammation, tissue injury).",
            ids if crp_up else ["wbc", *ids],
            rules.guideline,
        )
    low_wbc = wbc is not None and wbc < rules.num("wbc_low_below")
    if anc is not None and anc < rules.num("anc_low_below"):
        if anc < rules.num("anc_severe_below"):
            grade = "severe"
        elif anc < rules.num("anc_moderate_below"):
            grade = "moderate"
        else:
            grade = "mild"
        panel.add(
            "hematology.neutropenia",
            f"Neutropenia ({grade})",
            Sev.CRITICAL if grade == "severe" else Sev.SIGNIFICANT,
            f"Absolute neutrophil count {fmt(anc)} x10^3/uL is below "
            f"{fmt(rules.num('anc_low_below'))} ({grade}: mild 1.0-1.5, moderate 0.5-1.0, "
            "severe < 0.5, when infection risk is high).",
            ["neutrophils_abs", "wbc"],
            rules.guideline,
        )
    elif low_wbc and wbc is not None:
        panel.add(
            "hematology.leukopenia",
            "Leukopenia",
            Sev.SIGNIFICANT,
            f"WBC {fmt(wbc)} x10^3/uL is below {fmt(rules.num('wbc_low_below'))}.",
            ["wbc", "neutrophils_abs", "lymphocytes_abs"],
            rules.guideline,
        )
