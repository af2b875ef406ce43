"""Metabolic patterns: diabetes and prediabetes (ADA), hypoglycaemia, dyslipidaemia (NCEP ATP
III), vitamin D status (Endocrine Society)."""

from __future__ import annotations

from medflow.analyzers.labs.synthesis_rules.panel import Panel, fmt
from medflow.domain.labs import FindingSeverity as Sev


def _hba1c(panel: Panel) -> float | None:
    value = panel.value("hba1c", "%")
    if value is None:
        value = panel.value("hba1c_ifcc", "%")
    return value


def diabetes(panel: Panel) -> None:
    """Diabetes / prediabetes range from HbA1c, fasting, 2-h and random glucose.

    ADA 2025: two abnormal results (two tests from one sample, or one test repeated) confirm the
    diagnosis; one abnormal result calls for a repeat test. The finding says which applies.
    """
    rules = panel.rules["diabetes"]
    a1c = _hba1c(panel)
    fpg = panel.value("glucose_fasting", "mg/dL")
    ogtt = panel.value("glucose_pp", "mg/dL")
    rpg = panel.value("glucose", "mg/dL")
    diabetic: list[str] = []
    pre: list[str] = []
    if a1c is not None:
        if a1c >= rules.num("hba1c_diabetes"):
            diabetic.append(f"HbA1c {fmt(a1c)} % (>= {fmt(rules.num('hba1c_diabetes'))})")
        elif a1c >= rules.num("hba1c_prediabetes"):
            pre.append(
                f"HbA1c {fmt(a1c)} % ({fmt(rules.num('hba1c_prediabetes'))}-"
                f"{fmt(rules.num('hba1c_diabetes') - 0.1)})"
            )
    if fpg is not None:
        if fpg >= rules.num("fpg_diabetes"):
            diabetic.append(
                f"fasting glucose {fmt(fpg)} mg/dL (>= {fmt(rules.num('fpg_diabetes'))})"
            )
        elif fpg >= rules.num("fpg_prediabetes"):
            pre.append(
                f"fasting glucose {fmt(fpg)} mg/dL ({fmt(rules.num('fpg_prediabetes'))}-"
                f"{fmt(rules.num('fpg_diabetes') - 1)}, impaired fasting glucose)"
            )
    if ogtt is not None:
        if ogtt >= rules.num("ogtt_diabetes"):
            diabetic.append(f"2-h glucose {fmt(ogtt)} mg/dL (>= {fmt(rules.num('ogtt_diabetes'))})")
        elif ogtt >= rules.num("ogtt_prediabetes"):
            pre.append(f"2-h glucose {fmt(ogtt)} mg/dL (>= {fmt(rules.num('ogtt_prediabetes'))})")
    if rpg is not None and rpg >= rules.num("random_diabetes"):
        diabetic.append(
            f"random glucose {fmt(rpg)} mg/dL (>= {fmt(rules.num('random_diabetes'))}; "
            "diagnostic only with classic symptoms of hyperglycaemia)"
        )
    ids = ["hba1c", "hba1c_ifcc", "glucose_fasting", "glucose_pp", "glucose", "eag"]
    if diabetic:
        confirmed = len(diabetic) >= 2
        panel.add(
            "diabetes",
            "Diabetes range" + (" (confirmed by two results)" if confirmed else ""),
            Sev.SIGNIFICANT,
            "In the diabetes range: "
            + "; ".join(diabetic)
            + (
                ". Two abnormal results from the same sample confirm the diagnosis."
                if confirmed
                else ". A single abnormal result needs a repeat test to confirm diabetes."
            ),
            ids,
            rules.guideline,
        )
    elif pre:
        panel.add(
            "prediabetes",
            "Prediabetes range",
            Sev.SIGNIFICANT,
            "In the prediabetes range: " + "; ".join(pre) + ".",
            ids,
            rules.guideline,
        )


def hypoglycemia(panel: Panel) -> None:
    """Hypoglycaemia level 1 (< 70 mg/dL) and level 2 (< 54 mg/dL) on any glucose result."""
    rules = panel.rules["hypoglycemia"]
    found = panel.first("glucose", "glucose_fasting", "glucose_pp")
    if found is None or found[1] >= rules.num("level1_below"):
        return
    test_id, value = found
    level = 2 if value < rules.num("level2_below") else 1
    panel.add(
        "hypoglycemia",
        f"Hypoglycemia (level {level})",
        Sev.CRITICAL if level == 2 else Sev.SIGNIFICANT,
        f"{panel.shown(test_id)} is below "
        f"{fmt(rules.num('level2_below' if level == 2 else 'level1_below'))} mg/dL "
        f"(ADA level {level}"
        + ("; clinically significant hypoglycaemia)." if level == 2 else " alert value)."),
        [test_id],
        rules.guideline,
    )


def lipids(panel: Panel) -> None:
    """Dyslipidaemia by the NCEP ATP III categories of LDL, total and HDL cholesterol and TG."""
    rules = panel.rules["lipids"]
    parts: list[str] = []
    major = False
    ldl_id = "ldl" if panel.value("ldl") is not None else "ldl_direct"
    ldl = panel.value(ldl_id, "mg/dL")
    if ldl is not None and ldl >= rules.num("ldl.borderline"):
        if ldl >= rules.num("ldl.very_high"):
            cat = "very high"
        elif ldl >= rules.num("ldl.high"):
            cat = "high"
        else:
            cat = "borderline high"
        major = major or ldl >= rules.num("ldl.high")
        parts.append(f"LDL cholesterol {fmt(ldl)} mg/dL is {cat}")
    total = panel.value("cholesterol_total", "mg/dL")
    if total is not None and total >= rules.num("total.borderline"):
        cat = "high" if total >= rules.num("total.high") else "borderline high"
        major = major or cat == "high"
        parts.append(f"total cholesterol {fmt(total)} mg/dL is {cat}")
    hdl = panel.value("hdl", "mg/dL")
    if hdl is not None and hdl < rules.num("hdl_low_below"):
        major = True
        parts.append(
            f"HDL cholesterol {fmt(hdl)} mg/dL is low (< {fmt(rules.num('hdl_low_below'))})"
        )
    tg = panel.value("triglycerides", "mg/dL")
    if tg is not None and tg >= rules.num("tg.borderline"):
        if tg >= rules.num("tg.very_high"):
            cat = "very high (risk of pancreatitis)"
        elif tg >= rules.num("tg.high"):
            cat = "high"
        else:
            cat = "borderline high"
        major = major or tg >= rules.num("tg.high")
        parts.append(f"triglycerides {fmt(tg)} mg/dL are {cat}")
    if not parts:
        return
    panel.add(
        "dyslipidemia",
        "Dyslipidemia" if major else "Borderline lipid values",
        Sev.SIGNIFICANT if major else Sev.INFO,
        "By NCEP ATP III categories: " + "; ".join(parts) + ".",
        [ldl_id, "cholesterol_total", "hdl", "triglycerides", "non_hdl"],
        rules.guideline,
    )


def vitamin_d(panel: Panel) -> None:
    """Vitamin D deficiency (< 20 ng/mL; severe < 12) and insufficiency (20-29 ng/mL)."""
    rules = panel.rules["vitamin_d"]
    value = panel.value("vitamin_d", "ng/mL")
    if value is None or value >= rules.num("insufficient_below"):
        return
    if value < rules.num("deficient_below"):
        severe = value < rules.num("severe_below")
        panel.add(
            "vitamin_d.deficiency",
            "Severe vitamin D deficiency" if severe else "Vitamin D deficiency",
            Sev.SIGNIFICANT,
            f"{panel.shown('vitamin_d')} is below {fmt(rules.num('deficient_below'))} ng/mL "
            "(50 nmol/L), the Endocrine Society threshold for deficiency"
            + (f"; below {fmt(rules.num('severe_below'))} ng/mL it is severe." if severe else "."),
            ["vitamin_d", "calcium", "phosphorus", "alp"],
            rules.guideline,
        )
        return
    panel.add(
        "vitamin_d.insufficiency",
        "Vitamin D insufficiency",
        Sev.INFO,
        f"{panel.shown('vitamin_d')} is between {fmt(rules.num('deficient_below'))} and "
        f"{fmt(rules.num('insufficient_below'))} ng/mL: insufficient by Endocrine Society "
        "criteria.",
        ["vitamin_d"],
        rules.guideline,
    )
