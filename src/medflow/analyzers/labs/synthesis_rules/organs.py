"""Organ patterns: chronic kidney disease (KDIGO), liver injury pattern (R ratio), thyroid
dysfunction (ATA), myocardial injury and raised natriuretic peptides."""

from __future__ import annotations

from datetime import timedelta

from medflow.analyzers.labs.synthesis_rules.panel import Panel, fmt
from medflow.domain.labs import FindingSeverity, Flag, Significance
from medflow.domain.patient import Sex

Sev = FindingSeverity

_G_NAMES = {
    "G1": "normal or high",
    "G2": "mildly decreased",
    "G3a": "mildly to moderately decreased",
    "G3b": "moderately to severely decreased",
    "G4": "severely decreased",
    "G5": "kidney failure",
}
_A_NAMES = {
    "A1": "normal to mildly increased",
    "A2": "moderately increased",
    "A3": "severely increased",
}


def ckd_epi_2021(creatinine_mg_dl: float, age: float, sex: Sex) -> float:
    """eGFR by the race-free CKD-EPI 2021 creatinine equation (Inker et al., NEJM 2021).

    ``142 x min(Scr/k, 1)^a x max(Scr/k, 1)^-1.200 x 0.9938^age (x 1.012 if female)`` with
    k = 0.7 (female) / 0.9 (male), a = -0.241 (female) / -0.302 (male).

    Raises:
        ValueError: when sex is unknown or creatinine is not positive.
    """
    if sex is Sex.UNKNOWN or creatinine_mg_dl <= 0:
        raise ValueError("CKD-EPI needs a known sex and a positive creatinine")
    female = sex is Sex.FEMALE
    kappa, alpha = (0.7, -0.241) if female else (0.9, -0.302)
    ratio = creatinine_mg_dl / kappa
    egfr: float = 142 * min(ratio, 1.0) ** alpha * max(ratio, 1.0) ** -1.200 * 0.9938**age
    return egfr * (1.012 if female else 1.0)


def _g_category(panel: Panel, egfr: float) -> str:
    rules = panel.rules["ckd"]
    for cat, key in (("G5", "g5_below"), ("G4", "g4_below"), ("G3b", "g3b_below")):
        if egfr < rules.num(key):
            return cat
    if egfr < rules.num("g3a_below"):
        return "G3a"
    return "G2" if egfr < rules.num("g2_below") else "G1"


def ckd(panel: Panel) -> None:
    """KDIGO GFR and albuminuria categories; CKD needs the abnormality for more than 3 months.

    eGFR is taken from the report, or computed from creatinine by CKD-EPI 2021 when age and sex
    are known. Earlier results in the patient's history that were also abnormal more than
    ``chronicity_days`` ago establish chronicity; otherwise the finding says one value cannot.
    """
    rules = panel.rules["ckd"]
    egfr = panel.value("egfr")
    computed = False
    creat = panel.value("creatinine", "mg/dL")
    age, sex = panel.patient.age, panel.patient.sex
    if (
        egfr is None
        and creat is not None
        and creat > 0
        and age is not None
        and sex is not Sex.UNKNOWN
    ):
        egfr = ckd_epi_2021(creat, age, sex)
        computed = True
    acr = panel.value("urine_acr", "mg/g")
    g = _g_category(panel, egfr) if egfr is not None else None
    a = None
    if acr is not None:
        a = "A3" if acr > rules.num("a3_above") else ("A2" if acr >= rules.num("a2_from") else "A1")
    reduced = g in ("G3a", "G3b", "G4", "G5")
    albuminuric = a in ("A2", "A3")
    if not reduced and not albuminuric:
        return
    parts = []
    if egfr is not None and g is not None:
        how = f" (computed by CKD-EPI 2021 from {panel.shown('creatinine')})" if computed else ""
        parts.append(f"eGFR {fmt(egfr)} mL/min/1.73 m2{how}: category {g}, {_G_NAMES[g]}")
    if acr is not None and a is not None:
        parts.append(f"urine ACR {fmt(acr)} mg/g: category {a}, albuminuria {_A_NAMES[a]}")
    chronic = _chronic(panel, rules.num("chronicity_days"))
    tail = (
        " Earlier results show the abnormality for more than 3 months: this meets the KDIGO "
        "definition of CKD."
        if chronic
        else " One measurement cannot establish chronicity: KDIGO requires the abnormality to "
        "persist for more than 3 months, so repeat eGFR/ACR before labelling this CKD."
    )
    stage = "".join(x for x in (g if reduced else "", a if albuminuric else "") if x)
    panel.add(
        f"ckd.{stage}",
        ("CKD " if chronic else "Kidney function: ")
        + " ".join(x for x in (g if reduced else None, a if albuminuric else None) if x),
        Sev.SIGNIFICANT,
        "; ".join(parts) + "." + tail,
        ["egfr", "creatinine", "urine_acr", "cystatin_c", "bun", "urea"],
        rules.guideline,
    )


def _chronic(panel: Panel, days: float) -> bool:
    if not panel.history or panel.collected_at is None:
        return False
    cutoff = panel.collected_at - timedelta(days=days)
    rules = panel.rules["ckd"]
    for old in panel.history:
        if old.collected_at > cutoff:
            continue
        if old.test_id == "egfr" and old.value < rules.num("g3a_below"):
            return True
        if old.test_id == "urine_acr":
            value = panel.kb.convert("urine_acr", old.value, old.unit, "mg/g")
            if value is not None and value >= rules.num("a2_from"):
                return True
    return False


def state(panel: Panel, test_id: str) -> str | None:
    """``high``/``low``/``normal`` by the result's flag; noise counts as normal."""
    result = panel.result(test_id)
    if result is None:
        return None
    if result.significance in (Significance.NORMAL, Significance.NOISE):
        return "normal"
    if result.flag in (Flag.HIGH, Flag.CRITICAL_HIGH):
        return "high"
    if result.flag in (Flag.LOW, Flag.CRITICAL_LOW):
        return "low"
    return "normal"


def liver(panel: Panel) -> None:
    """Liver injury pattern by the R ratio (ALT/ULN) / (ALP/ULN): >= 5 hepatocellular, <= 2
    cholestatic, between mixed; Hy's-law pattern; isolated hyperbilirubinaemia."""
    rules = panel.rules["liver"]
    alt, alp = panel.value("alt", "U/L"), panel.value("alp", "U/L")
    alt_uln, alp_uln = panel.uln("alt"), panel.uln("alp")
    alt_up, alp_up = state(panel, "alt") == "high", state(panel, "alp") == "high"
    ids = ["alt", "ast", "alp", "ggt", "bilirubin_total", "bilirubin_direct", "albumin", "inr"]
    if alt_up or alp_up:
        alt_x = alt / alt_uln if alt is not None and alt_uln else None
        alp_x = alp / alp_uln if alp is not None and alp_uln else None
        text = []
        if alt_x is not None:
            text.append(f"ALT {fmt(alt or 0)} U/L is {fmt(alt_x)}x the upper limit")
        if alp_x is not None:
            text.append(f"ALP {fmt(alp or 0)} U/L is {fmt(alp_x)}x the upper limit")
        if alt_x is not None and alp_x is not None:
            r = alt_x / alp_x
            if r >= rules.num("hepatocellular_from"):
                kind = "hepatocellular"
            elif r <= rules.num("cholestatic_to"):
                kind = "cholestatic"
            else:
                kind = "mixed"
            text.append(f"R ratio {fmt(r)} indicates a {kind} pattern")
        else:
            kind = "hepatocellular" if alt_up else "cholestatic"
            text.append(f"the R ratio needs both ALT and ALP; the raised enzyme suggests {kind}")
        bili = panel.value("bilirubin_total", "mg/dL")
        bili_uln = panel.uln("bilirubin_total")
        bili_res = panel.result("bilirubin_total")
        hy = (
            alt_x is not None
            and alt_x > rules.num("hy_alt_uln")
            and bili is not None
            and bili_uln
            and bili_res is not None
            and bili_res.value is not None
            and bili_res.value / bili_uln > rules.num("hy_bilirubin_uln")
        )
        if hy:
            text.append("with bilirubin above 2x the upper limit (Hy's law pattern: severe injury)")
        grade = ""
        if alt_x is not None and alt_x > rules.num("severe_alt_uln"):
            grade = "Severe "
        elif alt_x is not None and alt_x > rules.num("marked_alt_uln"):
            grade = "Marked "
        panel.add(
            f"liver.{kind}",
            f"{grade}{kind} liver injury pattern".capitalize(),
            Sev.CRITICAL if hy else Sev.SIGNIFICANT,
            "; ".join(text) + ".",
            ids,
            rules.guideline,
        )
        return
    if state(panel, "bilirubin_total") == "high":
        direct = panel.value("bilirubin_direct", "mg/dL")
        total = panel.value("bilirubin_total", "mg/dL") or 0.0
        share = f" Direct bilirubin is {fmt(direct)} mg/dL" if direct is not None else ""
        if direct is not None and total > 0:
            mostly = "unconjugated" if direct / total < 0.2 else "conjugated"
            share += f", so it is mostly {mostly}"
            share += (
                " (Gilbert syndrome or haemolysis are the usual causes)."
                if mostly == "unconjugated"
                else " (hepatobiliary causes should be sought)."
            )
        elif share:
            share += "."
        panel.add(
            "liver.isolated_hyperbilirubinemia",
            "Isolated hyperbilirubinemia",
            Sev.SIGNIFICANT,
            f"{panel.shown('bilirubin_total')} is raised with normal ALT and ALP.{share}",
            ["bilirubin_total", "bilirubin_direct", "bilirubin_indirect", "alt", "alp"],
            rules.guideline,
        )


def thyroid(panel: Panel) -> None:
    """Overt and subclinical hypo- and hyperthyroidism from TSH with free T4 (and free T3)."""
    rules = panel.rules["thyroid"]
    tsh_state = state(panel, "tsh")
    if tsh_state is None:
        return
    ft4 = state(panel, "free_t4") or state(panel, "t4_total")
    ft3 = state(panel, "free_t3") or state(panel, "t3_total")
    tsh = panel.value("tsh", "m[IU]/L") or 0.0
    ids = ["tsh", "free_t4", "free_t3", "t4_total", "t3_total", "anti_tpo"]
    shown = panel.shown("tsh")
    tpo = (
        " Raised anti-TPO antibodies point to autoimmune (Hashimoto) thyroiditis."
        if (state(panel, "anti_tpo") == "high")
        else ""
    )
    if tsh_state == "high":
        if ft4 == "low":
            code, title = "thyroid.overt_hypo", "Overt primary hypothyroidism"
            text = f"{shown} is raised and free T4 is low."
        elif ft4 == "normal":
            treat = rules.num("tsh_treat_above")
            code, title = "thyroid.subclinical_hypo", "Subclinical hypothyroidism"
            text = f"{shown} is raised with a normal free T4." + (
                f" TSH >= {fmt(treat)} mIU/L: treatment is generally recommended."
                if tsh >= treat
                else " Repeat TSH with free T4 in 6-12 weeks before acting on it."
            )
        elif ft4 == "high":
            code, title = "thyroid.discordant", "Raised TSH with raised free T4"
            text = (
                f"{shown} and free T4 are both raised: assay interference, thyroid hormone "
                "resistance or a TSH-secreting adenoma should be considered."
            )
        else:
            code, title = "thyroid.high_tsh", "Raised TSH"
            text = f"{shown} is raised; free T4 is not on the report and is needed to classify it."
    elif tsh_state == "low":
        if ft4 == "high" or ft3 == "high":
            code, title = "thyroid.overt_hyper", "Overt hyperthyroidism"
            text = f"{shown} is suppressed with raised thyroid hormones."
        elif ft4 == "normal":
            grade = 2 if tsh < rules.num("tsh_suppressed_below") else 1
            code, title = (
                "thyroid.subclinical_hyper",
                f"Subclinical hyperthyroidism (grade {grade})",
            )
            text = f"{shown} is low with a normal free T4" + (
                " and free T3." if ft3 == "normal" else "."
            )
        elif ft4 == "low":
            code, title = "thyroid.central", "Low TSH with low free T4"
            text = (
                f"{shown} is low with a low free T4: central (pituitary) hypothyroidism or "
                "non-thyroidal illness should be considered."
            )
        else:
            code, title = "thyroid.low_tsh", "Low TSH"
            text = f"{shown} is low; free T4 and free T3 are needed to classify it."
    elif ft4 == "low":
        code, title = "thyroid.central", "Low free T4 with normal TSH"
        text = (
            "Free T4 is low while TSH is not raised: central hypothyroidism or non-thyroidal "
            "illness should be considered."
        )
    else:
        return
    panel.add(code, title, Sev.SIGNIFICANT, text + tpo, ids, rules.guideline)


def cardiac(panel: Panel) -> None:
    """Troponin above the 99th-percentile limit (myocardial injury); raised BNP / NT-proBNP."""
    rules = panel.rules["cardiac"]
    for test_id in ("troponin_i_hs", "troponin_t_hs", "troponin_i", "troponin_t"):
        if state(panel, test_id) == "high":
            panel.add(
                "cardiac.myocardial_injury",
                "Myocardial injury (raised troponin)",
                Sev.CRITICAL,
                f"{panel.shown(test_id)} is above the 99th-percentile upper reference limit. "
                "Myocardial infarction additionally needs a rise and/or fall on serial testing "
                "and clinical evidence of ischaemia.",
                [test_id, "ck_mb", "ck"],
                rules.guideline,
            )
            break
    for test_id, key in (("nt_probnp", "nt_probnp_above"), ("bnp", "bnp_above")):
        if state(panel, test_id) == "high":
            panel.add(
                "cardiac.natriuretic_peptide",
                "Raised natriuretic peptide",
                Sev.SIGNIFICANT,
                f"{panel.shown(test_id)} is above the heart-failure rule-out threshold "
                f"({fmt(rules.num(key))} pg/mL in the non-acute setting): heart failure should "
                "be evaluated (echocardiography).",
                [test_id, "egfr", "creatinine"],
                rules.guideline,
            )
            break
