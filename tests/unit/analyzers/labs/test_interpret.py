"""Interpretation of parsed rows: test identity, units, range choice, flags, significance."""

from __future__ import annotations

import pytest

from medflow.analyzers.labs.interpret import interpret
from medflow.analyzers.labs.kb import KnowledgeBase, default_kb
from medflow.domain.labs import Flag, LabResult, RawLabRow, Significance
from medflow.domain.patient import PatientInfo, Sex

WOMAN = PatientInfo(patient_id="p1", sex=Sex.FEMALE, age=52)
MAN = PatientInfo(patient_id="p2", sex=Sex.MALE, age=45)


def one(row: RawLabRow, patient: PatientInfo = WOMAN, kb: KnowledgeBase | None = None) -> LabResult:
    results, unrecognized = interpret([row], patient, kb or default_kb())
    assert unrecognized == []
    assert len(results) == 1
    return results[0]


def test_result_carries_identity_value_and_ucum_unit() -> None:
    row = RawLabRow(name="Haemoglobin", value_text="13.1", unit_text="gm/dl", section="CBC")
    result = one(row)
    assert (result.test_id, result.loinc, result.name) == ("hemoglobin", "718-7", "Hemoglobin")
    assert (result.value, result.unit, result.printed_unit) == (13.1, "g/dL", "gm/dl")
    assert result.printed_name == "Haemoglobin"
    assert result.row == row
    assert (result.flag, result.significance) == (Flag.NORMAL, Significance.NORMAL)


def test_unknown_names_and_unreadable_values_are_returned_unrecognized() -> None:
    rows = [
        RawLabRow(name="Colour", value_text="Pale yellow"),
        RawLabRow(name="Sodium", value_text="pending"),
        RawLabRow(name="Sodium", value_text="140", unit_text="mmol/L"),
    ]
    results, unrecognized = interpret(rows, WOMAN, default_kb())
    assert [r.test_id for r in results] == ["sodium"]
    assert [r.name for r in unrecognized] == ["Colour", "Sodium"]


def test_printed_range_beats_the_knowledge_base() -> None:
    # KB female Hb range is 12.0-15.5; this lab prints 11.5-15.0, so 11.8 is normal here.
    result = one(RawLabRow(name="Hb", value_text="11.8", unit_text="g/dL", range_text="11.5-15.0"))
    assert result.reference_range is not None
    assert (result.reference_range.low, result.reference_range.source) == (11.5, "report")
    assert result.flag is Flag.NORMAL


def test_knowledge_base_range_by_sex_when_none_printed() -> None:
    row = RawLabRow(name="Hb", value_text="13.0", unit_text="g/dL")
    woman, man = one(row, WOMAN), one(row, MAN)
    assert woman.flag is Flag.NORMAL
    assert man.flag is Flag.LOW
    assert man.reference_range is not None
    assert man.reference_range.source == "knowledge_base"
    assert man.reference_range.applies_to.startswith("male")


def test_sex_split_printed_range_uses_the_patients_line() -> None:
    row = RawLabRow(
        name="Hemoglobin", value_text="13.0", unit_text="g/dL", range_text="M: 13.5-17.5 F: 12-15.5"
    )
    assert one(row, WOMAN).flag is Flag.NORMAL
    assert one(row, MAN).flag is Flag.LOW


def test_kb_range_is_converted_into_the_printed_unit() -> None:
    result = one(RawLabRow(name="Fasting Blood Sugar", value_text="7.2", unit_text="mmol/L"))
    assert result.unit == "mmol/L"
    assert result.reference_range is not None
    assert result.reference_range.high == pytest.approx(5.495, rel=1e-3)
    assert result.flag is Flag.HIGH


def test_lab_override_beats_the_knowledge_base_but_not_the_report() -> None:
    lab = KnowledgeBase.load(
        {"lab": "Acme", "tests": {"potassium": {"ranges": [{"range": "3.4-4.8"}]}}}
    )
    configured = one(RawLabRow(name="K", value_text="5.0", unit_text="mmol/L"), kb=lab)
    assert configured.reference_range is not None
    assert configured.reference_range.source == "lab_config"
    assert configured.flag is Flag.HIGH
    printed = one(
        RawLabRow(name="K", value_text="5.0", unit_text="mmol/L", range_text="3.5-5.1"), kb=lab
    )
    assert printed.flag is Flag.NORMAL


def test_lab_override_of_critical_limits() -> None:
    lab = KnowledgeBase.load({"tests": {"potassium": {"critical": {"low": 2.5, "high": 6.5}}}})
    row = RawLabRow(name="Potassium", value_text="6.3", unit_text="mmol/L")
    assert one(row).flag is Flag.CRITICAL_HIGH
    assert one(row, kb=lab).flag is Flag.HIGH


@pytest.mark.parametrize(
    ("name", "value", "unit", "flag"),
    [
        ("Potassium", "6.8", "mmol/L", Flag.CRITICAL_HIGH),
        ("Potassium", "2.5", "mEq/L", Flag.CRITICAL_LOW),
        ("Sodium", "118", "mmol/L", Flag.CRITICAL_LOW),
        ("Glucose", "2.5", "mmol/L", Flag.CRITICAL_LOW),
        ("Glucose", "450", "mg/dL", Flag.CRITICAL_HIGH),
        ("Hemoglobin", "65", "g/L", Flag.CRITICAL_LOW),
        ("Platelet Count", "0.15", "lakhs/cumm", Flag.CRITICAL_LOW),
        ("hs Troponin T", "80", "ng/L", Flag.CRITICAL_HIGH),
    ],
)
def test_critical_flags(name: str, value: str, unit: str, flag: Flag) -> None:
    result = one(RawLabRow(name=name, value_text=value, unit_text=unit))
    assert result.flag is flag
    assert result.significance is Significance.CRITICAL
    assert "critical limit" in result.note


def test_critical_deviation_is_measured_from_the_range_limit() -> None:
    result = one(RawLabRow(name="K", value_text="6.8", unit_text="mmol/L", range_text="3.5-5.0"))
    assert result.deviation == pytest.approx(0.36)
    assert (result.critical_low, result.critical_high) == (2.8, 6.2)


def test_small_deviation_on_a_tolerant_test_is_noise() -> None:
    result = one(
        RawLabRow(name="Chloride", value_text="108", unit_text="mEq/L", range_text="98-107")
    )
    assert result.flag is Flag.HIGH
    assert result.significance is Significance.NOISE
    assert result.deviation == pytest.approx(1 / 107, abs=1e-4)
    assert "noise margin" in result.note


def test_same_deviation_beyond_the_margin_is_significant() -> None:
    result = one(
        RawLabRow(name="Chloride", value_text="112", unit_text="mEq/L", range_text="98-107")
    )
    assert result.significance is Significance.SIGNIFICANT


@pytest.mark.parametrize(
    ("name", "value", "unit", "range_text"),
    [
        ("Potassium", "5.2", "mmol/L", "3.5-5.1"),
        ("Sodium", "134", "mmol/L", "135-145"),
        ("hs Troponin I", "36", "ng/L", "<=34"),
    ],
)
def test_zero_margin_tests_are_never_noise(
    name: str, value: str, unit: str, range_text: str
) -> None:
    result = one(RawLabRow(name=name, value_text=value, unit_text=unit, range_text=range_text), MAN)
    assert result.significance is Significance.SIGNIFICANT
    assert "any deviation" in result.note


def test_mchc_and_rdw_small_deviations_are_noise() -> None:
    mchc = one(RawLabRow(name="MCHC", value_text="36.5", unit_text="g/dL", range_text="32-36"))
    rdw = one(RawLabRow(name="RDW-CV", value_text="14.9", unit_text="%", range_text="11.5-14.5"))
    assert mchc.significance is Significance.NOISE
    assert rdw.significance is Significance.NOISE


def test_exclusive_upper_limit() -> None:
    at_limit = one(RawLabRow(name="LDL", value_text="100", unit_text="mg/dL", range_text="<100"))
    below = one(RawLabRow(name="LDL", value_text="99", unit_text="mg/dL", range_text="<100"))
    assert at_limit.flag is Flag.HIGH
    assert below.flag is Flag.NORMAL


@pytest.mark.parametrize(
    ("value", "range_text", "flag"),
    [
        ("<0.5", "<5", Flag.NORMAL),  # CRP below detection, range < 5: normal
        ("<10", "<5", Flag.NORMAL),  # cannot tell: not flagged, said in the note
        (">90", ">=60", Flag.NORMAL),  # eGFR above 90
        (">200", "<5", Flag.HIGH),  # beyond the upper limit whatever the true value
    ],
)
def test_censored_values(value: str, range_text: str, flag: Flag) -> None:
    result = one(RawLabRow(name="CRP", value_text=value, unit_text="mg/L", range_text=range_text))
    assert result.flag is flag
    assert result.comparator == value[0]


def test_censored_value_that_cannot_be_placed_says_so() -> None:
    result = one(RawLabRow(name="CRP", value_text="<10", unit_text="mg/L", range_text="<5"))
    assert "cannot be placed" in result.note


def test_censored_low_value_below_the_range_is_low() -> None:
    result = one(
        RawLabRow(name="Ferritin", value_text="<5", unit_text="ng/mL", range_text="15-150")
    )
    assert result.flag is Flag.LOW


def test_qualitative_abnormal_and_trace() -> None:
    rows = [
        RawLabRow(name="Nitrite", value_text="Positive", section="URINE ROUTINE"),
        RawLabRow(name="Protein", value_text="Trace", section="URINE ROUTINE"),
        RawLabRow(name="Glucose", value_text="Nil", section="URINE ROUTINE"),
        RawLabRow(name="HBsAg", value_text="Non-reactive", range_text="Non Reactive"),
    ]
    results, _ = interpret(rows, WOMAN, default_kb())
    got = {r.test_id: (r.flag, r.significance, r.unit) for r in results}
    assert got["urine_nitrite"] == (Flag.ABNORMAL, Significance.SIGNIFICANT, "")
    assert got["urine_protein"] == (Flag.ABNORMAL, Significance.NOISE, "")
    assert got["urine_glucose"] == (Flag.NORMAL, Significance.NORMAL, "")
    assert got["hbsag"] == (Flag.NORMAL, Significance.NORMAL, "")


def test_urine_colour_and_appearance() -> None:
    rows = [
        RawLabRow(name="Colour", value_text="Amber", range_text="Yellow", section="URINALYSIS"),
        RawLabRow(name="Appearance", value_text="Clear", range_text="Clear", section="URINALYSIS"),
    ]
    results, _ = interpret(rows, WOMAN, default_kb())
    assert [(r.test_id, r.flag) for r in results] == [
        ("urine_color", Flag.ABNORMAL),
        ("urine_appearance", Flag.NORMAL),
    ]


def test_unitless_ratio_gets_its_ucum_annotation() -> None:
    result = one(RawLabRow(name="INR", value_text="1.0", range_text="0.8-1.2"))
    assert result.unit == "{INR}"
    d_dimer = one(RawLabRow(name="D-Dimer", value_text="450", unit_text="ng/mL FEU"))
    assert d_dimer.unit == "ng/mL{FEU}"
    assert d_dimer.reference_range is not None
    assert d_dimer.reference_range.high == pytest.approx(500.0)
    assert d_dimer.flag is Flag.NORMAL


def test_printed_flag_disagreement_is_noted() -> None:
    result = one(
        RawLabRow(name="ALT", value_text="80", unit_text="U/L", range_text="7-45", flag_text="N")
    )
    assert result.flag is Flag.HIGH
    assert "disagrees" in result.note
    agreeing = one(
        RawLabRow(name="ALT", value_text="80", unit_text="U/L", range_text="7-45", flag_text="H")
    )
    assert "disagrees" not in agreeing.note


def test_printed_flag_is_used_when_no_range_can_be_applied() -> None:
    result = one(RawLabRow(name="Ferritin", value_text="12", unit_text="furlongs", flag_text="L"))
    assert result.flag is Flag.LOW
    assert result.significance is Significance.SIGNIFICANT
    assert "not recognised" in result.note


def test_neutrophil_percent_and_absolute_rows_are_told_apart() -> None:
    rows = [
        RawLabRow(name="Neutrophils", value_text="62", unit_text="%", range_text="40-80"),
        RawLabRow(
            name="Neutrophils", value_text="6,500", unit_text="/cumm", range_text="2000-7000"
        ),
    ]
    results, _ = interpret(rows, WOMAN, default_kb())
    assert [r.test_id for r in results] == ["neutrophils_pct", "neutrophils_abs"]
    assert results[1].value == 6500.0
    assert results[1].unit == "/uL"


def test_platelets_in_lakhs_get_the_kb_range_in_lakhs() -> None:
    result = one(RawLabRow(name="Platelet Count", value_text="1.2", unit_text="lakhs/cumm"))
    assert result.reference_range is not None
    assert (result.reference_range.low, result.reference_range.high) == pytest.approx((1.5, 4.5))
    assert result.flag is Flag.LOW


def test_ocr_noise_after_a_unit_is_tolerated() -> None:
    result = one(RawLabRow(name="MPV", value_text="9.1", unit_text="fL £5", ocr=True))
    assert result.unit == "fL"


def test_ocr_lost_decimal_point_is_pointed_out_but_still_flagged() -> None:
    row = RawLabRow(
        name="Glucose", value_text="47", unit_text="mmol/L", range_text="3.9 - 5.5", ocr=True
    )
    result = one(row)
    assert result.flag is Flag.CRITICAL_HIGH
    assert "lost decimal point" in result.note
    printed = one(row.model_copy(update={"ocr": False}))
    assert "lost decimal point" not in printed.note


def test_adult_kb_range_on_a_child_is_said_in_the_note() -> None:
    child = PatientInfo(patient_id="c1", sex=Sex.MALE, age=8)
    result = one(RawLabRow(name="ALP", value_text="250", unit_text="U/L"), child)
    assert "no paediatric range" in result.note
    printed = one(
        RawLabRow(name="ALP", value_text="250", unit_text="U/L", range_text="100-390"), child
    )
    assert "paediatric" not in printed.note
