"""Coagulation and other single-analyte patterns: prolonged INR / aPTT, low fibrinogen, raised
D-dimer, hyperuricaemia."""

from __future__ import annotations

from medflow.analyzers.labs.synthesis_rules.organs import state
from medflow.analyzers.labs.synthesis_rules.panel import Panel, fmt
from medflow.domain.labs import FindingSeverity as Sev


def coagulation(panel: Panel) -> None:
    """Prolonged clotting times (INR >= 1.5, or aPTT above its range), low fibrinogen, and a
    raised D-dimer (non-specific; it cannot exclude venous thromboembolism)."""
    rules = panel.rules["coagulation"]
    inr = panel.value("inr")
    aptt_long = state(panel, "aptt") == "high"
    parts: list[str] = []
    if inr is not None and inr >= rules.num("inr_prolonged_from"):
        parts.append(
            f"INR {fmt(inr)} (>= {fmt(rules.num('inr_prolonged_from'))})"
            + (
                ", above the usual warfarin target range of 2-3"
                if inr > rules.num("inr_warfarin_high_above")
                else ""
            )
        )
    if aptt_long:
        parts.append(f"{panel.shown('aptt')} above its range")
    fibrinogen = panel.value("fibrinogen", "mg/dL")
    if fibrinogen is not None and fibrinogen < rules.num("fibrinogen_low_below"):
        parts.append(
            f"fibrinogen {fmt(fibrinogen)} mg/dL (< {fmt(rules.num('fibrinogen_low_below'))})"
        )
    if parts:
        panel.add(
            "coagulation.prolonged",
            "Abnormal coagulation",
            Sev.SIGNIFICANT,
            "; ".join(parts).capitalize()
            + ". Anticoagulant therapy, liver disease, vitamin K deficiency and consumptive "
            "coagulopathy (DIC) are the usual causes.",
            ["inr" if inr is not None else "aptt", "pt", "aptt", "fibrinogen", "platelets"],
            rules.guideline,
        )
    if state(panel, "d_dimer") == "high":
        panel.add(
            "coagulation.d_dimer",
            "Raised D-dimer",
            Sev.SIGNIFICANT,
            f"{panel.shown('d_dimer')} is above the exclusion cut-off: venous thromboembolism "
            "cannot be excluded by D-dimer; it also rises with age, infection, surgery, "
            "pregnancy and cancer.",
            ["d_dimer", "fibrinogen", "platelets"],
            rules.guideline,
        )


def urate(panel: Panel) -> None:
    """Hyperuricaemia above the urate saturation point of 6.8 mg/dL (ACR 2020)."""
    rules = panel.rules["urate"]
    value = panel.value("uric_acid", "mg/dL")
    if value is None or value <= rules.num("high_above"):
        return
    panel.add(
        "metabolic.hyperuricemia",
        "Hyperuricemia",
        Sev.SIGNIFICANT,
        f"{panel.shown('uric_acid')} is above {fmt(rules.num('high_above'))} mg/dL, the point at "
        "which urate crystallises; it raises the risk of gout and urate stones.",
        ["uric_acid", "creatinine", "egfr"],
        rules.guideline,
    )
