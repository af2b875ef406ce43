"""Blood count patterns: anaemia typed by MCV, polycythaemia, iron, B12 and folate deficiency,
platelet disorders."""

from __future__ import annotations

from medflow.analyzers.labs.synthesis_rules.panel import Panel, fmt
from medflow.domain.labs import FindingSeverity as Sev
from medflow.domain.patient import Sex

_WHO_SEX = {
    Sex.MALE: "men",
    Sex.FEMALE: "non-pregnant women",
    Sex.UNKNOWN: "adults (sex not given)",
}


def anemia(panel: Panel) -> None:
    """Anaemia by the WHO haemoglobin cut-off for the patient's sex, typed by MCV.

    Severity: moderate below 11 g/dL, severe below 8 g/dL; the type is microcytic (MCV < 80 fL),
    normocytic or macrocytic (MCV > 100 fL), or untyped when no MCV is on the report.
    """
    rules = panel.rules["anemia"]
    hb = panel.value("hemoglobin", "g/dL")
    if hb is None:
        return
    sex = panel.patient.sex
    cutoff = rules.by_sex("hb_below", sex)
    high = panel.rules["polycythemia"]
    if hb > high.by_sex("hb_above", sex):
        panel.add(
            "polycythemia",
            "Raised hemoglobin",
            Sev.SIGNIFICANT,
            f"{panel.shown('hemoglobin')} is above {fmt(high.by_sex('hb_above', sex))} g/dL "
            f"for {_WHO_SEX[sex]}; polycythaemia (primary or secondary) should be considered.",
            ["hemoglobin", "hematocrit"],
            high.guideline,
        )
        return
    if hb >= cutoff:
        return
    grade = (
        "severe"
        if hb < rules.num("severe_below")
        else ("moderate" if hb < rules.num("moderate_below") else "mild")
    )
    mcv = panel.value("mcv", "fL")
    if mcv is None:
        kind, typed = "", "MCV is not on the report, so the anaemia cannot be typed."
    elif mcv < rules.num("microcytic_below"):
        kind = "microcytic"
        typed = (
            f"MCV {fmt(mcv)} fL (< {fmt(rules.num('microcytic_below'))}) makes it microcytic: "
            "iron deficiency and thalassaemia trait are the usual causes."
        )
    elif mcv > rules.num("macrocytic_above"):
        kind = "macrocytic"
        typed = (
            f"MCV {fmt(mcv)} fL (> {fmt(rules.num('macrocytic_above'))}) makes it macrocytic: "
            "B12 or folate deficiency, alcohol, liver disease, hypothyroidism and drugs are "
            "the usual causes."
        )
    else:
        kind = "normocytic"
        typed = (
            f"MCV {fmt(mcv)} fL is within 80-100, so it is normocytic: chronic disease, kidney "
            "disease, acute blood loss or mixed deficiency are the usual causes."
        )
    code = f"anemia.{kind}" if kind else "anemia"
    title = f"{grade.capitalize()} {kind + ' ' if kind else ''}anemia"
    panel.add(
        code,
        title,
        Sev.SIGNIFICANT,
        f"{panel.shown('hemoglobin')} is below the WHO cut-off of {fmt(cutoff)} g/dL for "
        f"{_WHO_SEX[sex]} ({grade}). {typed}",
        ["hemoglobin", "mcv", "mch", "rdw"],
        rules.guideline,
    )


def iron(panel: Panel) -> None:
    """Iron deficiency from ferritin (thresholds depend on anaemia and inflammation) and TSAT;
    iron overload when ferritin and TSAT are both high."""
    rules = panel.rules["iron"]
    ferritin = panel.value("ferritin", "ng/mL")
    tsat = panel.value("transferrin_saturation", "%")
    crp = panel.value("crp", "mg/L")
    hb = panel.value("hemoglobin", "g/dL")
    anemic = hb is not None and hb < panel.rules["anemia"].by_sex("hb_below", panel.patient.sex)
    inflamed = crp is not None and crp > rules.num("crp_inflammation_above")
    tsat_low = tsat is not None and tsat < rules.num("tsat_low_below")
    ids = ["ferritin", "transferrin_saturation", "iron", "tibc", "crp", "hemoglobin"]
    if ferritin is not None:
        if ferritin > rules.num("ferritin_overload_above") and (
            tsat is not None and tsat > rules.num("tsat_overload_above")
        ):
            panel.add(
                "iron.overload",
                "Possible iron overload",
                Sev.SIGNIFICANT,
                f"{panel.shown('ferritin')} with transferrin saturation {fmt(tsat)} % "
                f"(> {fmt(rules.num('tsat_overload_above'))} %): haemochromatosis or another "
                "cause of iron overload should be excluded.",
                ids,
                rules.guideline,
            )
            return
        if ferritin < rules.num("ferritin_deficient_below"):
            why = f"below {fmt(rules.num('ferritin_deficient_below'))} ng/mL (WHO)"
        elif anemic and ferritin < rules.num("ferritin_anemia_below"):
            why = (
                f"below {fmt(rules.num('ferritin_anemia_below'))} ng/mL in the presence of anaemia"
            )
        elif inflamed and tsat_low and ferritin < rules.num("ferritin_inflammation_below"):
            why = (
                f"below {fmt(rules.num('ferritin_inflammation_below'))} ng/mL with inflammation "
                f"(CRP {fmt(crp or 0)} mg/L) and transferrin saturation {fmt(tsat or 0)} %"
            )
        else:
            return
        title = "Iron deficiency anemia" if anemic else "Iron deficiency"
        panel.add(
            "iron.deficiency",
            title,
            Sev.SIGNIFICANT,
            f"{panel.shown('ferritin')} is {why}, which indicates depleted iron stores.",
            ids,
            rules.guideline,
        )
    elif tsat_low and tsat is not None:
        mcv = panel.value("mcv", "fL")
        micro = mcv is not None and mcv < panel.rules["anemia"].num("microcytic_below")
        panel.add(
            "iron.possible_deficiency",
            "Possible iron deficiency",
            Sev.SIGNIFICANT if micro else Sev.INFO,
            f"Transferrin saturation {fmt(tsat)} % is below {fmt(rules.num('tsat_low_below'))} % "
            "and ferritin is not on the report; a ferritin would confirm or exclude iron "
            "deficiency.",
            [*ids, "mcv"],
            rules.guideline,
        )


def b12_folate(panel: Panel) -> None:
    """Vitamin B12 deficiency (borderline zone flagged for confirmation) and folate deficiency."""
    rules = panel.rules["b12_folate"]
    b12 = panel.value("vitamin_b12", "pg/mL")
    if b12 is not None and b12 < rules.num("b12_borderline_below"):
        deficient = b12 < rules.num("b12_deficient_below")
        panel.add(
            "b12.deficiency" if deficient else "b12.borderline",
            "Vitamin B12 deficiency" if deficient else "Borderline vitamin B12",
            Sev.SIGNIFICANT if deficient else Sev.INFO,
            f"{panel.shown('vitamin_b12')} is below "
            + (
                f"{fmt(rules.num('b12_deficient_below'))} pg/mL, consistent with deficiency."
                if deficient
                else f"{fmt(rules.num('b12_borderline_below'))} pg/mL (indeterminate zone); "
                "methylmalonic acid or homocysteine would confirm deficiency."
            ),
            ["vitamin_b12", "mcv", "hemoglobin", "homocysteine"],
            rules.guideline,
        )
    folate = panel.value("folate", "ng/mL")
    if folate is not None and folate < rules.num("folate_deficient_below"):
        panel.add(
            "folate.deficiency",
            "Folate deficiency",
            Sev.SIGNIFICANT,
            f"{panel.shown('folate')} is below {fmt(rules.num('folate_deficient_below'))} ng/mL "
            "(10 nmol/L), consistent with folate deficiency.",
            ["folate", "mcv", "hemoglobin"],
            rules.guideline,
        )


def platelets(panel: Panel) -> None:
    """Thrombocytopenia graded by CTCAE v5.0; thrombocytosis (extreme above 1000)."""
    rules = panel.rules["platelets"]
    plt = panel.value("platelets", "10*3/uL")
    if plt is None:
        return
    if plt < rules.num("low_below"):
        grade = 1
        for level, key in ((2, "grade2_below"), (3, "grade3_below"), (4, "grade4_below")):
            if plt < rules.num(key):
                grade = level
        panel.add(
            "platelets.low",
            "Thrombocytopenia" + (" (severe)" if grade >= 3 else ""),
            Sev.SIGNIFICANT,
            f"Platelet count {fmt(plt)} x10^3/uL is below {fmt(rules.num('low_below'))}: "
            f"CTCAE grade {grade}." + (" Bleeding risk rises below 50." if grade >= 3 else ""),
            ["platelets", "mpv"],
            rules.guideline,
        )
    elif plt > rules.num("high_above"):
        extreme = plt > rules.num("extreme_above")
        panel.add(
            "platelets.high",
            "Extreme thrombocytosis" if extreme else "Thrombocytosis",
            Sev.SIGNIFICANT,
            f"Platelet count {fmt(plt)} x10^3/uL is above {fmt(rules.num('high_above'))}; "
            "reactive causes (infection, inflammation, iron deficiency) are most common, "
            "a myeloproliferative neoplasm is considered when it persists.",
            ["platelets", "mpv"],
            rules.guideline,
        )
