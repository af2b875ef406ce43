"""Values implausible as read are held for review with the reason, never made findings."""

from __future__ import annotations

import pytest

from medflow.analyzers.labs.interpret import interpret
from medflow.analyzers.labs.kb import default_kb
from medflow.analyzers.labs.plausibility import decimal_candidates, plausibility_limits
from medflow.analyzers.labs.synthesis import synthesize
from medflow.domain.labs import Flag, LabResult, RawLabRow, ReferenceRange, Significance
from medflow.domain.patient import PatientInfo, Sex

MAN = PatientInfo(patient_id="p2", sex=Sex.MALE, age=45)


def one(row: RawLabRow) -> LabResult:
    results, unrecognized = interpret([row], MAN, default_kb())
    assert unrecognized == []
    return results[0]


def test_every_limit_names_a_known_test_in_its_canonical_unit() -> None:
    kb = default_kb()
    limits = plausibility_limits()
    assert set(limits) <= set(kb.tests)
    for test_id, lim in limits.items():
        rng = kb.reference_range(test_id, Sex.UNKNOWN, None)
        if rng is None:
            continue
        # a plausibility limit lies outside the reference range, never inside it
        assert lim.high is None or rng.high is None or lim.high > rng.high, test_id
        assert lim.low is None or rng.low is None or lim.low < rng.low, test_id


def test_merged_decimal_cholesterol_is_held_not_summarised_as_high() -> None:
    row = RawLabRow(
        name="Total Cholesterol",
        value_text="5395",
        unit_text="mmol/L",
        range_text="3.0-6.0",
        ocr=True,
    )
    result = one(row)
    assert result.significance is Significance.REVIEW
    assert "5.95" in result.review_reason
    assert "check the printed report" in result.review_reason
    summary = synthesize([result], MAN)
    assert summary.findings == ()
    assert "is high" not in summary.text and "208625" not in summary.text
    assert summary.held == 1 and not summary.complete
    assert "held for review" in summary.headline


def test_beyond_physiological_limits_in_canonical_units() -> None:
    sodium = one(RawLabRow(name="Sodium", value_text="1400", unit_text="mmol/L"))
    assert sodium.significance is Significance.REVIEW
    assert "1400 mmol/L is above the highest plausible value (260 mmol/L)" in sodium.review_reason
    # glucose limits are in mg/dL; 170 mmol/L is ~3060 mg/dL
    glucose = one(RawLabRow(name="Glucose", value_text="170", unit_text="mmol/L"))
    assert glucose.significance is Significance.REVIEW


@pytest.mark.parametrize(
    ("name", "value", "unit"),
    [
        ("TSH", "55", "mIU/L"),
        ("CRP", "180", "mg/L"),
        ("ALT", "1450", "U/L"),
        ("Ferritin", "2", "ng/mL"),
    ],
)
def test_real_values_far_from_the_range_of_listed_tests_are_not_held(
    name: str, value: str, unit: str
) -> None:
    result = one(RawLabRow(name=name, value_text=value, unit_text=unit))
    assert result.significance is not Significance.REVIEW, result.review_reason


def test_generic_ten_times_rule_for_a_test_without_limits() -> None:
    # MPV has no plausibility limits: 10x its range's upper limit is held
    held = one(RawLabRow(name="MPV", value_text="120", unit_text="fL", range_text="7.5-11.5"))
    assert held.significance is Significance.REVIEW
    assert "more than 10x the upper limit" in held.review_reason
    assert "12" in held.review_reason  # the decimal reading that would fit
    kept = one(RawLabRow(name="MPV", value_text="13", unit_text="fL", range_text="7.5-11.5"))
    assert kept.significance is not Significance.REVIEW


def test_ambiguous_thousands_comma_is_held_when_the_readings_disagree() -> None:
    row = RawLabRow(name="Creatinine", value_text="1,100", unit_text="mg/dL", range_text="0.7-1.3")
    result = one(row)
    assert result.significance is Significance.REVIEW
    assert "ambiguous" in result.review_reason
    counts = one(RawLabRow(name="Platelets", value_text="250,000", unit_text="/cumm"))
    assert counts.significance is Significance.NORMAL


def test_held_critical_value_is_not_a_critical_finding() -> None:
    row = RawLabRow(
        name="Potassium", value_text="47", unit_text="mmol/L", range_text="3.5-5.1", ocr=True
    )
    result = one(row)
    assert result.flag is Flag.CRITICAL_HIGH
    assert result.significance is Significance.REVIEW
    assert "4.7" in result.review_reason
    assert synthesize([result], MAN).findings == ()


def test_decimal_candidates_prefer_a_point_read_as_a_digit() -> None:
    rng = ReferenceRange(low=3.0, high=6.0, text="3-6")
    assert decimal_candidates("5395", rng)[0] == 5.95
    assert decimal_candidates("47", ReferenceRange(low=3.5, high=5.1)) == [4.7]
    assert decimal_candidates("5.95", rng) == []


def test_printed_critical_flag_makes_the_result_critical() -> None:
    row = RawLabRow(
        name="Potassium", value_text="6.0", unit_text="mmol/L", range_text="3.5-5.1", flag_text="HH"
    )
    result = one(row)
    assert (result.flag, result.significance, result.printed_flag) == (
        Flag.CRITICAL_HIGH,
        Significance.CRITICAL,
        "HH",
    )
    assert result.flag_disagreement == ""


@pytest.mark.parametrize(
    ("printed", "code"),
    [("↑", "H"), ("[↑]", "H"), ("(H)", "H"), ("High", "H"), ("H", "H"), ("[*]", "A"), ("↓", "L")],
)
def test_printed_flags_in_their_common_forms(printed: str, code: str) -> None:
    row = RawLabRow(name="Potassium", value_text="5.6", unit_text="mmol/L", flag_text=printed)
    assert one(row).printed_flag == code


def test_printed_flag_over_a_knowledge_base_range_is_taken_and_shown() -> None:
    # No range printed: the laboratory's own (unprinted) range flagged it, ours did not.
    row = RawLabRow(name="Potassium", value_text="5.0", unit_text="mmol/L", flag_text="H")
    result = one(row)
    assert result.flag is Flag.HIGH
    assert result.significance is Significance.SIGNIFICANT
    assert result.flag_disagreement.startswith("printed H, computed N against the range 3.5-5.1")


def test_range_source_detail_names_where_the_range_came_from() -> None:
    printed = one(
        RawLabRow(name="Sodium", value_text="140", unit_text="mmol/L", range_text="136-146")
    )
    assert printed.reference_range is not None
    assert printed.reference_range.source_detail == "printed on the report"
    known = one(RawLabRow(name="Sodium", value_text="140", unit_text="mmol/L"))
    assert known.reference_range is not None
    assert known.reference_range.source_detail.startswith("medflow knowledge base for male")


@pytest.mark.parametrize(
    ("line", "held"),
    [
        ("Potassium 3.5 - 5.1 6.2 mmol/L", True),  # the result column came after the range
        ("Potassium 3.5-5.1 mmol/L", True),  # the value is printed only inside the range
        ("Potassium 3.5 mmol/L 3.5 - 5.1", False),  # a value at the limit, printed apart
        ("25-OH Vitamin D 30 ng/mL 30-100", False),  # numbers in the name are not values
    ],
)
def test_a_range_limit_read_as_the_value(line: str, held: bool) -> None:
    value = line.split(" ")[-3] if "Vitamin" in line else "3.5"
    name = "Vitamin D" if "Vitamin" in line else "Potassium"
    unit = "ng/mL" if "Vitamin" in line else "mmol/L"
    rng = "30-100" if "Vitamin" in line else "3.5-5.1"
    row = RawLabRow(name=name, value_text=value, unit_text=unit, range_text=rng, line=line)
    assert (one(row).significance is Significance.REVIEW) is held


def test_ocr_lost_decimal_point_on_a_two_sided_range_is_held() -> None:
    # As read from a noisy scan of the generated fixtures (noisy_scan, seed 102): 5.2 -> 52.
    row = RawLabRow(
        name="WBC", value_text="52", unit_text="x10^3/uL", range_text="4.0-11.0", ocr=True
    )
    result = one(row)
    assert result.significance is Significance.REVIEW
    assert "it may be 5.2" in result.review_reason
    printed = one(row.model_copy(update={"ocr": False}))
    assert printed.significance is not Significance.REVIEW


def test_a_negative_value_against_a_range_that_is_not_negative_is_held() -> None:
    # all-normal tuning seed 6: a T4 of 10.1 read as "-10.1" (a mark before the value read
    # as a minus sign) was summarised as low
    row = RawLabRow(
        name="Thyroxine (T4) Total", value_text="-10.1", unit_text="ug/dL", range_text="5.0 to 12.0"
    )
    held = one(row.model_copy(update={"ocr": True}))
    assert held.significance is Significance.REVIEW
    assert "negative" in held.review_reason and "minus" in held.review_reason
    assert synthesize([held], MAN).findings == ()
    # a test whose range goes below zero keeps its negative values
    excess = one(
        RawLabRow(name="Base Excess", value_text="-4.5", unit_text="mmol/L", range_text="-2 - 3")
    )
    assert excess.significance is not Significance.REVIEW, excess.review_reason
    assert excess.flag is Flag.LOW


def test_a_critical_value_inside_its_own_printed_range_is_held_not_critical() -> None:
    # all-normal tuning seed 10: platelets 364 x10^3/uL read with the unit "/uL"; inside the
    # printed 150-450 yet below the critical limit in /uL: summarised as severe thrombocytopenia
    row = RawLabRow(
        name="Platelet Count", value_text="364", unit_text="/uL", range_text="150 to 450", ocr=True
    )
    held = one(row)
    assert held.significance is Significance.REVIEW
    assert "inside its printed range" in held.review_reason
    assert "critical limit" in held.review_reason
    assert synthesize([held], MAN).findings == ()
    # outside the printed range, a critical value stays critical
    low = one(row.model_copy(update={"value_text": "9", "unit_text": "x10^3/uL"}))
    assert low.significance is Significance.CRITICAL


@pytest.mark.parametrize(
    ("name", "value", "unit", "rng", "line"),
    [
        # all-normal tuning seed 30: 0.5-2.5 re-read as "05-25", 2.3 called low
        ("Reticulocyte Count", "2.3", "%", "05-25", "Reticulocyte Count 2.3 % 05-25"),
        # seed 27: "< 5.0" read as "<.5.0", the range taken as "<.5", 4.8 called high
        ("CRP", "4.8", "mg/L", "<.5", "C-Reactive Protein (CRP) 4.8 mg/L <.5.0"),
    ],
)
def test_an_ocr_value_outside_a_range_that_lost_a_decimal_point_is_held(
    name: str, value: str, unit: str, rng: str, line: str
) -> None:
    row = RawLabRow(
        name=name, value_text=value, unit_text=unit, range_text=rng, line=line, ocr=True
    )
    held = one(row)
    assert held.significance is Significance.REVIEW
    assert "looks misread" in held.review_reason
    # the same reading from a text layer, or against a range read cleanly, is interpreted
    assert one(row.model_copy(update={"ocr": False})).significance is Significance.SIGNIFICANT
    clean = one(row.model_copy(update={"range_text": "0.5-2.5", "line": f"{name} {value}"}))
    assert clean.significance is not Significance.REVIEW


def test_an_ocr_value_outside_a_range_a_re_read_changed_is_held() -> None:
    # all-normal tuning seed 34: 1.1 - 2.5 first read as "(bas 2.5", re-read as "11 - 25": an
    # A/G ratio of 1.6 was called low
    row = RawLabRow(
        name="Albumin/Globulin Ratio",
        value_text="1.6",
        range_text="11 - 25",
        ocr=True,
        changed=("range_text",),
    )
    held = one(row)
    assert held.significance is Significance.REVIEW
    assert "second reading" in held.review_reason
    # a range read once, or a value inside the re-read range, is interpreted as read
    assert one(row.model_copy(update={"changed": ()})).significance is Significance.SIGNIFICANT
    inside = one(row.model_copy(update={"range_text": "1.1 - 2.5"}))
    assert inside.significance is Significance.NORMAL
