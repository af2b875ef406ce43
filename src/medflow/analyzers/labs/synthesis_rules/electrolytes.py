"""Electrolyte disorders: sodium, potassium, albumin-corrected (or ionised) calcium, magnesium,
phosphate."""

from __future__ import annotations

from medflow.analyzers.labs.synthesis_rules.panel import Panel, fmt
from medflow.domain.labs import FindingSeverity as Sev


def sodium(panel: Panel) -> None:
    """Hyponatraemia graded mild / moderate / profound (European guideline 2014); hypernatraemia."""
    rules = panel.rules["electrolytes"].sub("sodium")
    na = panel.value("sodium", "mmol/L")
    if na is None:
        return
    if na < rules.num("low_below"):
        if na < rules.num("profound_below"):
            grade = "profound"
        elif na < rules.num("moderate_below"):
            grade = "moderate"
        else:
            grade = "mild"
        panel.add(
            "electrolytes.hyponatremia",
            f"Hyponatremia ({grade})",
            Sev.SIGNIFICANT,
            f"{panel.shown('sodium')} is below {fmt(rules.num('low_below'))} mmol/L: {grade} "
            f"hyponatraemia (mild 130-134, moderate 125-129, profound < 125).",
            ["sodium", "glucose", "osmolality"],
            rules.guideline,
        )
    elif na > rules.num("high_above"):
        severe = na > rules.num("severe_high_above")
        panel.add(
            "electrolytes.hypernatremia",
            "Hypernatremia" + (" (severe)" if severe else ""),
            Sev.SIGNIFICANT,
            f"{panel.shown('sodium')} is above {fmt(rules.num('high_above'))} mmol/L"
            + (f" and above {fmt(rules.num('severe_high_above'))}." if severe else "."),
            ["sodium", "osmolality"],
            rules.guideline,
        )


def potassium(panel: Panel) -> None:
    """Hypokalaemia (< 3.5; severe < 2.5) and hyperkalaemia (> 5.5; severe >= 6.5) per ERC 2021."""
    rules = panel.rules["electrolytes"].sub("potassium")
    k = panel.value("potassium", "mmol/L")
    if k is None:
        return
    if k < rules.num("low_below"):
        severe = k < rules.num("severe_low_below")
        panel.add(
            "electrolytes.hypokalemia",
            "Hypokalemia" + (" (severe)" if severe else ""),
            Sev.CRITICAL if severe else Sev.SIGNIFICANT,
            f"{panel.shown('potassium')} is below {fmt(rules.num('low_below'))} mmol/L"
            + ("; below 2.5 it risks arrhythmia and needs urgent treatment." if severe else "."),
            ["potassium", "magnesium"],
            rules.guideline,
        )
    elif k > rules.num("high_above"):
        severe = k >= rules.num("severe_high_from")
        panel.add(
            "electrolytes.hyperkalemia",
            "Hyperkalemia" + (" (severe)" if severe else ""),
            Sev.CRITICAL if severe else Sev.SIGNIFICANT,
            f"{panel.shown('potassium')} is above {fmt(rules.num('high_above'))} mmol/L"
            + (
                f"; at {fmt(rules.num('severe_high_from'))} or more it is severe and needs "
                "an ECG and urgent treatment (exclude haemolysis of the sample)."
                if severe
                else "; a haemolysed sample should be excluded."
            ),
            ["potassium", "creatinine", "egfr"],
            rules.guideline,
        )


def calcium(panel: Panel) -> None:
    """Hypo- and hypercalcaemia on ionised calcium when measured, else albumin-corrected total
    calcium: corrected = Ca + 0.8 x (4.0 - albumin) (mg/dL, g/dL)."""
    rules = panel.rules["electrolytes"].sub("calcium")
    ionized = panel.value("ionized_calcium", "mmol/L")
    ca = panel.value("calcium", "mg/dL")
    albumin = panel.value("albumin", "g/dL")
    if ionized is not None:
        low, high = rules.num("ionized_low_below"), rules.num("ionized_high_above")
        value, unit, basis, ids = (
            ionized,
            "mmol/L",
            panel.shown("ionized_calcium"),
            [
                "ionized_calcium",
                "calcium",
                "albumin",
            ],
        )
    elif ca is not None:
        low, high = rules.num("low_below"), rules.num("high_above")
        unit, ids = "mg/dL", ["calcium", "albumin", "phosphorus", "magnesium", "vitamin_d"]
        if albumin is not None:
            value = ca + rules.num("correction_per_g") * (rules.num("albumin_reference") - albumin)
            basis = (
                f"{panel.shown('calcium')} corrected for albumin {fmt(albumin)} g/dL is "
                f"{fmt(value)} mg/dL"
            )
        else:
            value, basis = ca, f"{panel.shown('calcium')} (albumin not measured, uncorrected)"
    else:
        return
    derived = (
        ionized is None and albumin is not None
    )  # corrected calcium: the raw value may be noise
    if value < low:
        panel.add(
            "electrolytes.hypocalcemia",
            "Hypocalcemia",
            Sev.SIGNIFICANT,
            f"{basis}, below {fmt(low)} {unit}.",
            ids,
            rules.guideline,
            noise_check=not derived,
        )
    elif value > high:
        severe = unit == "mg/dL" and value > rules.num("severe_high_above")
        panel.add(
            "electrolytes.hypercalcemia",
            "Hypercalcemia" + (" (severe)" if severe else ""),
            Sev.CRITICAL if severe else Sev.SIGNIFICANT,
            f"{basis}, above {fmt(high)} {unit}; primary hyperparathyroidism and malignancy "
            "are the commonest causes (PTH is the next test).",
            ids,
            rules.guideline,
            noise_check=not derived,
        )


def magnesium_phosphate(panel: Panel) -> None:
    """Hypomagnesaemia (< 1.7 mg/dL; severe < 1.2) and hypophosphataemia (< 2.5; severe < 1.0)."""
    for test_id, sub, code, title in (
        ("magnesium", "magnesium", "electrolytes.hypomagnesemia", "Hypomagnesemia"),
        ("phosphorus", "phosphorus", "electrolytes.hypophosphatemia", "Hypophosphatemia"),
    ):
        rules = panel.rules["electrolytes"].sub(sub)
        value = panel.value(test_id, "mg/dL")
        if value is None or value >= rules.num("low_below"):
            continue
        severe = value < rules.num("severe_low_below")
        panel.add(
            code,
            title + (" (severe)" if severe else ""),
            Sev.SIGNIFICANT,
            f"{panel.shown(test_id)} is below {fmt(rules.num('low_below'))} mg/dL"
            + (f" and below {fmt(rules.num('severe_low_below'))} (severe)." if severe else "."),
            [test_id, "calcium", "potassium"],
            rules.guideline,
        )
