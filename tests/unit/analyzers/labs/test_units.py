"""Printed lab unit spellings to UCUM, and same-dimension conversions."""

from __future__ import annotations

import pytest

from medflow.analyzers.labs.units import UnitTable, normalize_spelling


@pytest.fixture(scope="module")
def table() -> UnitTable:
    return UnitTable.load()


@pytest.mark.parametrize(
    ("printed", "ucum"),
    [
        ("mg/dl", "mg/dL"),
        ("mg%", "mg/dL"),
        ("gm/dL", "g/dL"),
        ("g%", "g/dL"),
        ("mEq/L", "meq/L"),
        ("uIU/mL", "u[IU]/mL"),
        ("µIU/mL", "u[IU]/mL"),
        ("mIU/L", "m[IU]/L"),
        ("IU/L", "U/L"),
        ("µmol/L", "umol/L"),
        ("10^3/uL", "10*3/uL"),
        ("x10^9/L", "10*9/L"),
        ("x 10³/µL", "10*3/uL"),
        ("10*9/L", "10*9/L"),
        ("10e9/L", "10*9/L"),
        ("K/uL", "10*3/uL"),
        ("/cumm", "/uL"),
        ("cells/cumm", "/uL"),
        ("/mm3", "/uL"),
        ("lakhs/cumm", "10*5/uL"),
        ("million/cumm", "10*6/uL"),
        ("x10^12/L", "10*12/L"),
        ("fl", "fL"),
        ("mm/1st hr", "mm/h"),
        ("sec", "s"),
        ("/hpf", "/[HPF]"),
        ("mU/L", "m[IU]/L"),
        ("ng/mL FEU", "ng/mL{FEU}"),
        ("Ratio", "{ratio}"),
        ("mL/min/1.73m2", "mL/min/{1.73_m2}"),
        ("", ""),
    ],
)
def test_printed_spelling_maps_to_ucum(table: UnitTable, printed: str, ucum: str) -> None:
    assert table.to_ucum(printed) == ucum


def test_unknown_spelling_is_none(table: UnitTable) -> None:
    assert table.to_ucum("furlongs/fortnight") is None


def test_normalize_spelling_folds_case_micro_and_superscripts() -> None:
    assert normalize_spelling(" x 10³/µL ") == "x10^3/ul"


@pytest.mark.parametrize(
    ("value", "src", "dst", "expected"),
    [
        (135.0, "g/L", "g/dL", 13.5),
        (1.2, "mg/dL", "mg/L", 12.0),
        (7500.0, "/uL", "10*3/uL", 7.5),
        (7.5, "10*9/L", "10*3/uL", 7.5),
        (2.5, "10*5/uL", "10*3/uL", 250.0),
        (4.5, "10*12/L", "10*6/uL", 4.5),
        (2.0, "u[IU]/mL", "m[IU]/L", 2.0),
        (0.45, "L/L", "%", 45.0),
        (1.0, "ukat/L", "U/L", 60.0),
        (14.0, "ng/L", "ng/mL", 0.014),
        (450.0, "ng/mL{FEU}", "ug/mL{FEU}", 0.45),  # a UCUM annotation is unity
        (2.0, "{ratio}", "1", 2.0),
    ],
)
def test_same_dimension_conversion(
    table: UnitTable, value: float, src: str, dst: str, expected: float
) -> None:
    assert table.convert(value, src, dst) == pytest.approx(expected)


def test_units_of_different_dimensions_do_not_convert(table: UnitTable) -> None:
    # mmol/L -> mg/dL needs the analyte's molar mass: the unit table must refuse it.
    assert table.convert(5.5, "mmol/L", "mg/dL") is None
    assert table.convert(50.0, "%", "10*3/uL") is None
