"""Printed values and reference ranges, in every notation the labs print."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medflow.analyzers.labs.values import bounds_inclusive, parse_number, parse_range, parse_value
from medflow.domain.labs import ReferenceRange
from medflow.domain.patient import Sex


@pytest.mark.parametrize(
    ("text", "number", "comparator", "flag"),
    [
        ("12.1", 12.1, None, ""),
        ("12.1 L", 12.1, None, "L"),
        ("12.1L", 12.1, None, "L"),
        ("H 240", 240.0, None, "H"),
        ("240 (H)", 240.0, None, "H"),
        ("2.1 LL", 2.1, None, "LL"),
        ("5.6*", 5.6, None, "A"),
        ("<0.5", 0.5, "<", ""),
        ("< 0.5", 0.5, "<", ""),
        (">90", 90.0, ">", ""),
        ("≥ 60", 60.0, ">=", ""),
        ("1,234", 1234.0, None, ""),
        ("150,000", 150000.0, None, ""),
        ("1,5", 1.5, None, ""),
        (".5", 0.5, None, ""),
        ("2-4", 4.0, None, ""),  # urine sediment cells per field: the upper end decides
        ("8 - 10", 10.0, None, ""),
    ],
)
def test_numeric_values(text: str, number: float, comparator: str | None, flag: str) -> None:
    parsed = parse_value(text)
    assert parsed is not None
    assert parsed.number == pytest.approx(number)
    assert parsed.comparator == comparator
    assert parsed.flag == flag


@pytest.mark.parametrize(
    ("text", "term", "abnormal", "weak"),
    [
        ("Positive", "positive", True, False),
        ("Non-reactive", "non reactive", False, False),
        ("NON REACTIVE", "non reactive", False, False),
        ("Negative", "negative", False, False),
        ("Nil", "nil", False, False),
        ("Absent", "absent", False, False),
        ("Trace", "trace", True, True),
        ("1+", "1+", True, False),
        ("+++", "+++", True, False),
        ("Positive (2+)", "positive", True, False),
    ],
)
def test_qualitative_values(text: str, term: str, abnormal: bool, weak: bool) -> None:
    parsed = parse_value(text)
    assert parsed is not None
    assert parsed.number is None
    assert (parsed.term, parsed.abnormal, parsed.weak) == (term, abnormal, weak)


@pytest.mark.parametrize("text", ["", "   ", "pending", "see note", "12.1.3"])
def test_unreadable_values(text: str) -> None:
    assert parse_value(text) is None


def test_comma_is_thousands_only_before_three_digits() -> None:
    assert parse_number("12,34") == pytest.approx(12.34)  # decimal comma
    assert parse_number("1,2345") is None
    assert parse_number("1,234,567") == 1234567.0


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("13.5-17.5", 13.5, 17.5),
        ("13.5 - 17.5", 13.5, 17.5),
        ("13.5 – 17.5", 13.5, 17.5),
        ("13.5 — 17.5", 13.5, 17.5),
        ("4 to 11", 4.0, 11.0),
        ("150,000 - 450,000", 150000.0, 450000.0),
        ("(4.0-11.0) x10^3/uL", 4.0, 11.0),
        ("< 200", None, 200.0),
        ("<= 5.0", None, 5.0),
        ("≤ 5.0", None, 5.0),
        ("> 60", 60.0, None),
        (">= 60", 60.0, None),
        ("up to 40", None, 40.0),
        ("Upto 40", None, 40.0),
        ("Desirable: <200", None, 200.0),
        ("Normal: 70-99", 70.0, 99.0),
    ],
)
def test_range_notations(text: str, low: float | None, high: float | None) -> None:
    rng = parse_range(text)
    assert rng is not None
    assert (rng.low, rng.high) == (low, high)
    assert rng.source == "report"


def test_multiline_category_range_takes_the_desirable_line() -> None:
    text = "Desirable: <200\nBorderline high: 200-239\nHigh: >=240"
    rng = parse_range(text)
    assert rng is not None
    assert (rng.low, rng.high, rng.applies_to) == (None, 200.0, "desirable")


def test_hba1c_category_range_takes_non_diabetic() -> None:
    rng = parse_range("Non-diabetic: < 5.7 %  Pre-diabetic: 5.7 - 6.4  Diabetic: >= 6.5")
    assert rng is not None
    assert (rng.low, rng.high) == (None, 5.7)


def test_vitamin_d_category_range_takes_sufficiency() -> None:
    rng = parse_range("Deficiency: <20 Insufficiency: 20-29 Sufficiency: 30-100")
    assert rng is not None
    assert (rng.low, rng.high) == (30.0, 100.0)


@pytest.mark.parametrize(
    "text",
    [
        "M: 13.5-17.5 F: 12.0-15.5",
        "Male 13.5-17.5; Female 12.0-15.5",
        "Men: 13.5-17.5 Women: 12.0-15.5",
        "Male: 13.5 - 17.5 / Female: 12.0 - 15.5",
        "Adult Male: 13.5-17.5\nAdult Female: 12.0-15.5",
    ],
)
def test_sex_split_ranges_choose_by_patient_sex(text: str) -> None:
    male = parse_range(text, Sex.MALE)
    female = parse_range(text, Sex.FEMALE)
    assert male is not None
    assert female is not None
    assert (male.low, male.high) == (13.5, 17.5)
    assert (female.low, female.high) == (12.0, 15.5)
    assert "female" in female.applies_to


def test_sex_split_with_unknown_sex_spans_both() -> None:
    rng = parse_range("M: 13.5-17.5 F: 12.0-15.5", Sex.UNKNOWN)
    assert rng is not None
    assert (rng.low, rng.high) == (12.0, 17.5)
    assert "sex not given" in rng.applies_to


def test_age_split_chooses_adult_or_child() -> None:
    text = "Adult: 0.7-1.3 Child: 0.3-0.7"
    adult = parse_range(text, Sex.MALE, 45)
    child = parse_range(text, Sex.MALE, 8)
    assert adult is not None
    assert child is not None
    assert (adult.low, adult.high) == (0.7, 1.3)
    assert (child.low, child.high) == (0.3, 0.7)


def test_qualitative_range() -> None:
    rng = parse_range("Negative")
    assert rng == ReferenceRange(text="negative", source="report")
    assert parse_range("Non Reactive") == ReferenceRange(text="non reactive", source="report")


@pytest.mark.parametrize("text", ["", "see comment", "17.5-13.5", "Borderline: 200-239"])
def test_unreadable_or_inverted_ranges_are_none(text: str) -> None:
    assert parse_range(text) is None


def test_bounds_inclusive_follow_the_notation() -> None:
    assert bounds_inclusive(ReferenceRange(high=200, text="<200")) == (True, False)
    assert bounds_inclusive(ReferenceRange(high=200, text="<=200")) == (True, True)
    assert bounds_inclusive(ReferenceRange(low=60, text=">60")) == (False, True)
    assert bounds_inclusive(ReferenceRange(low=60, text=">=60")) == (True, True)
    assert bounds_inclusive(ReferenceRange(low=1, high=2, text="1-2")) == (True, True)


_PRINTED = st.text(alphabet=st.sampled_from(list("0123456789.,-–<>=: ;/\nMFmaleNorIUp tohH%()")))


@settings(max_examples=300, deadline=None)
@given(_PRINTED, st.sampled_from(list(Sex)), st.none() | st.floats(0, 120))
def test_parsers_never_raise_and_ranges_are_ordered(text: str, sex: Sex, age: float | None) -> None:
    parse_value(text)
    rng = parse_range(text, sex, age)
    if rng is not None and rng.low is not None and rng.high is not None:
        assert rng.low < rng.high


@pytest.mark.parametrize(
    ("text", "age", "bounds"),
    [
        ("18-60 yrs: 0.7-1.3 >60 yrs: 0.9-1.5", 30, (0.7, 1.3)),
        ("18-60 yrs: 0.7-1.3 >60 yrs: 0.9-1.5", 70, (0.9, 1.5)),
        ("Age 20-49: 0-15; Age >50: 0-20", 55, (0.0, 20.0)),
        ("< 50 years: 0-15 mm/hr > 50 years: 0-20 mm/hr", 50, (0.0, 20.0)),
        ("< 50 years: 0-15 mm/hr > 50 years: 0-20 mm/hr", None, (0.0, 15.0)),
    ],
)
def test_numeric_age_bands(text: str, age: float | None, bounds: tuple[float, float]) -> None:
    rng = parse_range(text, Sex.MALE, age)
    assert rng is not None
    assert (rng.low, rng.high) == bounds
    assert rng.applies_to.startswith("age")


def test_age_and_sex_bands_together() -> None:
    text = "Men <50y: 0-15; Men >50y: 0-20; Women <50y: 0-20; Women >50y: 0-30"
    rng = parse_range(text, Sex.FEMALE, 62)
    assert rng is not None
    assert (rng.low, rng.high) == (0.0, 30.0)
