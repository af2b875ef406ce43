"""Clinical patterns of the summary, at their guideline boundaries, and the summary itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from medflow.analyzers.labs.interpret import interpret
from medflow.analyzers.labs.kb import default_kb
from medflow.analyzers.labs.synthesis import synthesize
from medflow.analyzers.labs.synthesis_rules.organs import ckd_epi_2021
from medflow.analyzers.labs.trends import HistoricalResult
from medflow.domain.labs import FindingSeverity, LabSummary, RawLabRow
from medflow.domain.patient import PatientInfo, Sex

WOMAN = PatientInfo(patient_id="p1", sex=Sex.FEMALE, age=52)
MAN = PatientInfo(patient_id="p2", sex=Sex.MALE, age=60)
NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def summary(
    rows: list[tuple[str, str, str]],
    patient: PatientInfo = WOMAN,
    history: tuple[HistoricalResult, ...] = (),
) -> LabSummary:
    raw = [RawLabRow(name=n, value_text=v, unit_text=u) for n, v, u in rows]
    results, unrecognized = interpret(raw, patient, default_kb())
    assert unrecognized == []
    return synthesize(results, patient, history, collected_at=NOW)


def codes(s: LabSummary) -> list[str]:
    return [f.code for f in s.findings]


# -- anaemia --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("patient", "hb", "anemic"),
    [(WOMAN, "11.9", True), (WOMAN, "12.0", False), (MAN, "12.9", True), (MAN, "13.0", False)],
)
def test_who_hemoglobin_cutoff_by_sex(patient: PatientInfo, hb: str, anemic: bool) -> None:
    s = summary([("Hb", hb, "g/dL"), ("MCV", "88", "fL")], patient)
    assert ("anemia.normocytic" in codes(s)) is anemic


@pytest.mark.parametrize(
    ("mcv", "code"),
    [
        ("79.9", "anemia.microcytic"),
        ("80", "anemia.normocytic"),
        ("100", "anemia.normocytic"),
        ("100.1", "anemia.macrocytic"),
    ],
)
def test_anemia_typed_by_mcv(mcv: str, code: str) -> None:
    s = summary([("Hb", "10.5", "g/dL"), ("MCV", mcv, "fL")])
    assert codes(s) == [code]
    finding = s.findings[0]
    assert "10.5 g/dL" in finding.explanation
    assert {e.test_id for e in finding.evidence} == {"hemoglobin", "mcv"}
    assert "WHO" in finding.guideline


def test_anemia_grades_and_untyped_without_mcv() -> None:
    s = summary([("Hb", "7.5", "g/dL")])
    assert codes(s) == ["anemia"]
    assert s.findings[0].title.startswith("Severe")
    assert "cannot be typed" in s.findings[0].explanation
    assert s.findings[0].severity is FindingSeverity.SIGNIFICANT


def test_critical_hemoglobin_makes_the_anemia_finding_critical() -> None:
    s = summary([("Hb", "6.2", "g/dL"), ("MCV", "70", "fL")])
    assert s.findings[0].severity is FindingSeverity.CRITICAL
    assert s.headline.startswith("Critical")


# -- iron, B12, folate ----------------------------------------------------------------------


def test_ferritin_below_15_is_iron_deficiency() -> None:
    assert codes(summary([("Ferritin", "14", "ng/mL")])) == ["iron.deficiency"]
    assert codes(summary([("Ferritin", "15", "ng/mL")])) == []


def test_ferritin_below_45_with_anemia_is_iron_deficiency_anemia() -> None:
    s = summary([("Hb", "10.9", "g/dL"), ("MCV", "74", "fL"), ("Ferritin", "30", "ng/mL")])
    assert "iron.deficiency" in codes(s)
    assert any(f.title == "Iron deficiency anemia" for f in s.findings)


def test_ferritin_with_inflammation_and_low_tsat() -> None:
    rows = [
        ("Ferritin", "60", "ng/mL"),
        ("CRP", "20", "mg/L"),
        ("Transferrin Saturation", "12", "%"),
    ]
    assert "iron.deficiency" in codes(summary(rows))


def test_iron_overload() -> None:
    s = summary([("Ferritin", "1200", "ng/mL"), ("TSAT", "60", "%")], MAN)
    assert codes(s) == ["iron.overload"]


@pytest.mark.parametrize(
    ("value", "code"),
    [("190", "b12.deficiency"), ("250", "b12.borderline"), ("300", None)],
)
def test_b12_thresholds(value: str, code: str | None) -> None:
    s = summary([("Vitamin B12", value, "pg/mL")])
    assert codes(s) == ([code] if code else [])


def test_b12_in_pmol_is_converted() -> None:
    assert codes(summary([("Vitamin B12", "120", "pmol/L")])) == ["b12.deficiency"]


@pytest.mark.parametrize(("value", "deficient"), [("3.9", True), ("4.0", False)])
def test_folate_threshold(value: str, deficient: bool) -> None:
    assert (codes(summary([("Folate", value, "ng/mL")])) == ["folate.deficiency"]) is deficient


# -- diabetes, hypoglycaemia, lipids, vitamin D ---------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "unit", "code"),
    [
        ("HbA1c", "6.5", "%", "diabetes"),
        ("HbA1c", "6.4", "%", "prediabetes"),
        ("HbA1c", "5.7", "%", "prediabetes"),
        ("HbA1c", "5.6", "%", None),
        ("HbA1c", "48", "mmol/mol", "diabetes"),
        ("Fasting Blood Sugar", "126", "mg/dL", "diabetes"),
        ("Fasting Blood Sugar", "125", "mg/dL", "prediabetes"),
        ("Fasting Blood Sugar", "100", "mg/dL", "prediabetes"),
        ("Fasting Blood Sugar", "99", "mg/dL", None),
        ("Fasting Blood Sugar", "7.0", "mmol/L", "diabetes"),
        ("PPBS", "200", "mg/dL", "diabetes"),
        ("PPBS", "150", "mg/dL", "prediabetes"),
    ],
)
def test_ada_thresholds(name: str, value: str, unit: str, code: str | None) -> None:
    assert codes(summary([(name, value, unit)])) == ([code] if code else [])


def test_one_diabetic_value_asks_for_a_repeat_two_confirm() -> None:
    single = summary([("HbA1c", "7.1", "%")])
    assert "repeat test" in single.findings[0].explanation
    double = summary([("HbA1c", "7.1", "%"), ("FBS", "140", "mg/dL")])
    assert "confirm" in double.findings[0].title


@pytest.mark.parametrize(("value", "level"), [("53", 2), ("69", 1)])
def test_hypoglycemia_levels(value: str, level: int) -> None:
    s = summary([("Glucose", value, "mg/dL")])
    assert s.findings[0].code == "hypoglycemia"
    assert f"level {level}" in s.findings[0].title
    expected = FindingSeverity.CRITICAL if level == 2 else FindingSeverity.SIGNIFICANT
    assert s.findings[0].severity is expected


@pytest.mark.parametrize(
    ("rows", "title"),
    [
        ([("LDL", "160", "mg/dL")], "Dyslipidemia"),
        ([("LDL", "130", "mg/dL")], "Borderline lipid values"),
        ([("LDL", "129", "mg/dL")], None),
        ([("HDL", "39", "mg/dL")], "Dyslipidemia"),
        ([("Triglycerides", "500", "mg/dL")], "Dyslipidemia"),
        ([("Total Cholesterol", "240", "mg/dL")], "Dyslipidemia"),
        ([("Total Cholesterol", "5.5", "mmol/L")], "Borderline lipid values"),
    ],
)
def test_ncep_atp3_categories(rows: list[tuple[str, str, str]], title: str | None) -> None:
    s = summary(rows, MAN)
    assert [f.title for f in s.findings] == ([title] if title else [])


def test_very_high_triglycerides_name_pancreatitis() -> None:
    s = summary([("TG", "620", "mg/dL")])
    assert "pancreatitis" in s.findings[0].explanation


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("11", "vitamin_d.deficiency"),
        ("19.9", "vitamin_d.deficiency"),
        ("20", "vitamin_d.insufficiency"),
        ("29.9", "vitamin_d.insufficiency"),
        ("30", None),
    ],
)
def test_vitamin_d_thresholds(value: str, code: str | None) -> None:
    assert codes(summary([("Vitamin D", value, "ng/mL")])) == ([code] if code else [])


# -- kidney ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("egfr", "code"), [("59", "ckd.G3a"), ("60", None), ("44", "ckd.G3b"), ("14", "ckd.G5")]
)
def test_kdigo_g_categories(egfr: str, code: str | None) -> None:
    s = summary([("eGFR", egfr, "mL/min/1.73m2")])
    assert codes(s) == ([code] if code else [])
    if code:
        assert "cannot establish chronicity" in s.findings[0].explanation


@pytest.mark.parametrize(("acr", "code"), [("29", None), ("30", "ckd.A2"), ("301", "ckd.A3")])
def test_kdigo_albuminuria(acr: str, code: str | None) -> None:
    s = summary([("eGFR", "95", "mL/min/1.73m2"), ("Urine ACR", acr, "mg/g")])
    assert codes(s) == ([code] if code else [])


def test_egfr_computed_from_creatinine_when_absent() -> None:
    assert ckd_epi_2021(1.0, 60, Sex.MALE) == pytest.approx(86.0, abs=1.0)
    assert ckd_epi_2021(1.0, 60, Sex.FEMALE) == pytest.approx(64.0, abs=1.0)
    s = summary([("Creatinine", "1.9", "mg/dL")], MAN)
    assert codes(s) == ["ckd.G3b"]
    assert "CKD-EPI 2021" in s.findings[0].explanation


def test_chronicity_from_history() -> None:
    old = HistoricalResult(
        test_id="egfr", value=52, unit="mL/min/{1.73_m2}", collected_at=NOW - timedelta(days=120)
    )
    s = summary([("eGFR", "50", "mL/min/1.73m2")], history=(old,))
    assert s.findings[0].title == "CKD G3a"
    assert "meets the KDIGO definition" in s.findings[0].explanation


# -- liver ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alt", "alp", "kind"),
    [
        ("225", "104", "hepatocellular"),  # R = (225/45)/(104/104) = 5.0
        ("90", "208", "cholestatic"),  # R = 2 / 2 = 1.0
        ("90", "104", "cholestatic"),  # R = 2.0 exactly
        ("135", "104", "mixed"),  # R = 3.0
    ],
)
def test_r_ratio_patterns(alt: str, alp: str, kind: str) -> None:
    s = summary([("ALT", alt, "U/L"), ("ALP", alp, "U/L")])
    assert codes(s) == [f"liver.{kind}"]
    assert "R ratio" in s.findings[0].explanation


def test_hys_law_pattern_is_critical() -> None:
    s = summary([("ALT", "500", "U/L"), ("ALP", "110", "U/L"), ("Total Bilirubin", "3.0", "mg/dL")])
    assert s.findings[0].severity is FindingSeverity.CRITICAL
    assert "Hy's law" in s.findings[0].explanation


def test_isolated_unconjugated_hyperbilirubinemia() -> None:
    rows = [("Total Bilirubin", "2.4", "mg/dL"), ("Direct Bilirubin", "0.3", "mg/dL")]
    s = summary([*rows, ("ALT", "30", "U/L"), ("ALP", "80", "U/L")])
    assert codes(s) == ["liver.isolated_hyperbilirubinemia"]
    assert "unconjugated" in s.findings[0].explanation


def test_alt_within_noise_margin_makes_no_liver_finding() -> None:
    s = summary([("ALT", "50", "U/L"), ("ALP", "80", "U/L")])
    assert codes(s) == []
    assert [n.test_id for n in s.noise] == ["alt"]


# -- thyroid --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tsh", "ft4", "code"),
    [
        ("12", "0.6", "thyroid.overt_hypo"),
        ("7.0", "1.2", "thyroid.subclinical_hypo"),
        ("0.01", "2.5", "thyroid.overt_hyper"),
        ("0.05", "1.2", "thyroid.subclinical_hyper"),
        ("0.3", "0.5", "thyroid.central"),
        ("4.9", "1.2", None),  # within TSH's noise margin
        ("2.0", "1.2", None),
    ],
)
def test_thyroid_patterns(tsh: str, ft4: str, code: str | None) -> None:
    s = summary([("TSH", tsh, "uIU/mL"), ("Free T4", ft4, "ng/dL")])
    assert codes(s) == ([code] if code else [])


def test_subclinical_hypothyroidism_above_10_recommends_treatment() -> None:
    s = summary([("TSH", "11", "mIU/L"), ("FT4", "1.1", "ng/dL")])
    assert "treatment is generally recommended" in s.findings[0].explanation


# -- electrolytes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("na", "title"),
    [
        ("134", "Hyponatremia (mild)"),
        ("129", "Hyponatremia (moderate)"),
        ("124", "Hyponatremia (profound)"),
        ("135", None),
        ("146", "Hypernatremia"),
    ],
)
def test_sodium(na: str, title: str | None) -> None:
    s = summary([("Sodium", na, "mmol/L")])
    assert [f.title for f in s.findings] == ([title] if title else [])


@pytest.mark.parametrize(
    ("k", "code", "severity"),
    [
        ("3.4", "electrolytes.hypokalemia", FindingSeverity.SIGNIFICANT),
        ("2.4", "electrolytes.hypokalemia", FindingSeverity.CRITICAL),
        ("5.6", "electrolytes.hyperkalemia", FindingSeverity.SIGNIFICANT),
        ("6.5", "electrolytes.hyperkalemia", FindingSeverity.CRITICAL),
    ],
)
def test_potassium(k: str, code: str, severity: FindingSeverity) -> None:
    s = summary([("Potassium", k, "mmol/L")])
    assert (s.findings[0].code, s.findings[0].severity) == (code, severity)


def test_calcium_is_corrected_for_albumin() -> None:
    # 8.0 + 0.8 * (4.0 - 2.5) = 9.2 mg/dL: normal once corrected
    assert codes(summary([("Calcium", "8.0", "mg/dL"), ("Albumin", "2.5", "g/dL")])) == []
    assert codes(summary([("Calcium", "8.0", "mg/dL"), ("Albumin", "4.0", "g/dL")])) == [
        "electrolytes.hypocalcemia"
    ]
    # 10.2 is within the range, but corrected for albumin 3.0 it is 11.0
    high = summary([("Calcium", "10.2", "mg/dL"), ("Albumin", "3.0", "g/dL")])
    assert codes(high) == ["electrolytes.hypercalcemia"]
    assert "11 mg/dL" in high.findings[0].explanation


def test_ionized_calcium_is_preferred() -> None:
    s = summary([("Ionized Calcium", "1.05", "mmol/L"), ("Calcium", "9.0", "mg/dL")])
    assert codes(s) == ["electrolytes.hypocalcemia"]


def test_magnesium_noise_is_not_a_finding_but_a_real_low_is() -> None:
    assert codes(summary([("Magnesium", "1.65", "mg/dL")])) == []
    assert codes(summary([("Magnesium", "1.5", "mg/dL")])) == ["electrolytes.hypomagnesemia"]


def test_severe_hypophosphatemia() -> None:
    s = summary([("Phosphorus", "0.9", "mg/dL")])
    assert s.findings[0].title == "Hypophosphatemia (severe)"


# -- inflammation, white cells, platelets, cardiac ------------------------------------------


@pytest.mark.parametrize(
    ("rows", "code"),
    [
        ([("CRP", "12", "mg/L")], "inflammation.raised_markers"),
        ([("CRP", "120", "mg/L")], "inflammation.bacterial_pattern"),
        ([("CRP", "20", "mg/L"), ("ANC", "9.0", "10^3/uL")], "inflammation.bacterial_pattern"),
        ([("Procalcitonin", "0.6", "ng/mL")], "inflammation.bacterial_pattern"),
        ([("CRP", "9", "mg/L")], None),
    ],
)
def test_inflammation_patterns(rows: list[tuple[str, str, str]], code: str | None) -> None:
    assert codes(summary(rows)) == ([code] if code else [])


def test_severe_neutropenia_is_critical() -> None:
    s = summary([("ANC", "0.4", "10^3/uL")])
    assert s.findings[0].code == "hematology.neutropenia"
    assert s.findings[0].severity is FindingSeverity.CRITICAL


@pytest.mark.parametrize(
    ("plt", "text"),
    [("140", "grade 1"), ("74", "grade 2"), ("49", "grade 3"), ("24", "grade 4")],
)
def test_thrombocytopenia_ctcae_grades(plt: str, text: str) -> None:
    s = summary([("Platelets", plt, "10^3/uL")])
    assert s.findings[0].code == "platelets.low"
    assert text in s.findings[0].explanation


def test_platelets_within_the_noise_margin_are_set_aside() -> None:
    s = summary([("Platelets", "146", "10^3/uL")])
    assert s.findings == ()
    assert [n.test_id for n in s.noise] == ["platelets"]


def test_thrombocytosis() -> None:
    assert summary([("Platelets", "480", "10^3/uL")]).findings[0].title == "Thrombocytosis"
    extreme = summary([("Platelets", "1100", "10^3/uL")]).findings[0]
    assert (extreme.title, extreme.severity) == ("Extreme thrombocytosis", FindingSeverity.CRITICAL)


def test_raised_troponin_and_nt_probnp() -> None:
    s = summary([("hs Troponin T", "20", "ng/L"), ("NT-proBNP", "300", "pg/mL")])
    assert codes(s) == ["cardiac.myocardial_injury", "cardiac.natriuretic_peptide"]
    assert s.findings[0].severity is FindingSeverity.CRITICAL


# -- the summary ----------------------------------------------------------------------------


def test_findings_are_ordered_critical_first_and_text_explains_them() -> None:
    rows = [
        ("LDL", "175", "mg/dL"),
        ("Potassium", "6.9", "mmol/L"),
        ("Chloride", "108", "mmol/L"),
        ("MCHC", "36.4", "g/dL"),
    ]
    s = summary(rows)
    assert [f.severity for f in s.findings] == [
        FindingSeverity.CRITICAL,
        FindingSeverity.SIGNIFICANT,
    ]
    assert s.headline.startswith("Critical: Hyperkalemia")
    assert {n.test_id for n in s.noise} == {"chloride", "mchc"}
    assert all("noise margin" in n.reason for n in s.noise)
    assert "6.9 mmol/L" in s.text
    assert "LDL cholesterol 175 mg/dL is high" in s.text
    assert "Set aside as noise" in s.text
    assert "Chloride 108" in s.text


def test_uncovered_critical_value_becomes_its_own_finding() -> None:
    s = summary([("Lactate", "5.2", "mmol/L")])
    assert codes(s) == ["critical.lactate"]
    assert s.findings[0].severity is FindingSeverity.CRITICAL


def test_significant_result_without_a_pattern_is_listed_in_the_text() -> None:
    s = summary([("GGT", "150", "U/L")])
    assert s.findings == ()
    assert "Other results outside the reference range" in s.text
    assert "Gamma-glutamyl transferase 150 U/L" in s.text


def test_all_normal_headline() -> None:
    s = summary([("Hb", "13.5", "g/dL"), ("Sodium", "140", "mmol/L")])
    assert s.headline == "All 2 results within their reference ranges"
    assert s.findings == ()
    assert s.noise == ()


# -- coagulation, urate ---------------------------------------------------------------------


@pytest.mark.parametrize(("inr", "found"), [("1.5", True), ("1.4", False)])
def test_prolonged_inr(inr: str, found: bool) -> None:
    s = summary([("INR", inr, "")])
    assert ("coagulation.prolonged" in codes(s)) is found


def test_critical_inr_makes_the_coagulation_finding_critical() -> None:
    s = summary([("INR", "6.1", "")])
    assert codes(s) == ["coagulation.prolonged"]
    assert s.findings[0].severity is FindingSeverity.CRITICAL


def test_inr_above_warfarin_target_says_so() -> None:
    s = summary([("INR", "3.6", "")])
    assert "warfarin target" in s.findings[0].explanation


def test_raised_d_dimer() -> None:
    s = summary([("D-Dimer", "1.2", "ug/mL FEU")])
    assert codes(s) == ["coagulation.d_dimer"]
    assert codes(summary([("D-Dimer", "0.3", "ug/mL FEU")])) == []


@pytest.mark.parametrize(("urate", "found"), [("6.8", False), ("7.5", True)])
def test_hyperuricemia(urate: str, found: bool) -> None:
    s = summary([("Uric Acid", urate, "mg/dL")], MAN)
    assert ("metabolic.hyperuricemia" in codes(s)) is found


def _printed(rows: list[tuple[str, str, str, str]], patient: PatientInfo = MAN) -> LabSummary:
    raw = [RawLabRow(name=n, value_text=v, unit_text=u, range_text=r) for n, v, u, r in rows]
    results, unrecognized = interpret(raw, patient, default_kb())
    assert unrecognized == []
    return synthesize(results, patient, collected_at=NOW)


def test_a_guideline_threshold_crossed_inside_the_printed_range_is_information() -> None:
    # all-normal tuning seed 11: haemoglobin 16.6 g/dL inside its printed 13.5-17.5 was a
    # "significant" raised haemoglobin (WHO 16.5 for men): an alarm the report contradicts
    inside = _printed([("Hemoglobin", "16.6", "g/dL", "13.5-17.5")])
    assert [(f.code, f.severity) for f in inside.findings] == [
        ("polycythemia", FindingSeverity.INFO)
    ]
    assert "inside the range printed on the report (13.5-17.5)" in inside.findings[0].explanation
    assert inside.headline == "All 1 results within their reference ranges"
    # outside the printed range, or with no range printed, the finding stays significant
    above = _printed([("Hemoglobin", "17.8", "g/dL", "13.5-17.5")])
    assert [f.severity for f in above.findings] == [FindingSeverity.SIGNIFICANT]
    kb_range = summary([("Hemoglobin", "17.2", "g/dL")], MAN)
    assert [f.severity for f in kb_range.findings] == [FindingSeverity.SIGNIFICANT]


def test_an_incomplete_report_with_an_information_finding_does_not_claim_normality() -> None:
    # all-normal tuning seed 11: the raised haemoglobin (information: inside the printed
    # range) kept the headline "All 12 results within their reference ranges; 1 row(s) not
    # read...", which claims normality over a row not read
    raw = [
        RawLabRow(name="Hemoglobin", value_text="16.6", unit_text="g/dL", range_text="13.5-17.5")
    ]
    results, _ = interpret(raw, MAN, default_kb())
    unread = [RawLabRow(name="Reticulocyte Count", value_text="1.9", line="Retic 1.9 %")]
    s = synthesize(results, MAN, collected_at=NOW, unrecognized=unread)
    assert [f.severity for f in s.findings] == [FindingSeverity.INFO]
    assert s.headline.startswith("Incomplete: 1 row(s) not read or not recognised")
    assert "within their reference ranges" not in s.headline
