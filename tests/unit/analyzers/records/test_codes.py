"""Code validity: LOINC check digits, SNOMED CT Verhoeff digits, ICD-10-CM FY2026 membership."""

from __future__ import annotations

import pytest

from medflow.analyzers.records.codes import (
    invalid_codes,
    invalid_icd10cm,
    invalid_loinc,
    known_loinc_codes,
    loinc_check_digit_ok,
    snomed_id_ok,
)


@pytest.mark.parametrize("code", ["2345-7", "718-7", "2160-0", "4548-4", "33914-3"])
def test_real_loinc_codes_pass_the_mod10_check(code: str) -> None:
    assert loinc_check_digit_ok(code)


@pytest.mark.parametrize("code", ["2345-8", "718-5", "12A45-3", "2345", "-7", "2345-77"])
def test_malformed_or_misdigited_loinc_codes_fail(code: str) -> None:
    assert not loinc_check_digit_ok(code)
    assert code in invalid_loinc([code])


def test_knowledge_base_codes_all_have_valid_check_digits() -> None:
    assert all(loinc_check_digit_ok(c) for c in known_loinc_codes())


def test_icd10cm_accepts_categories_and_billable_codes_with_or_without_dot() -> None:
    assert invalid_icd10cm(["I10", "E11.9", "E119", "S72.001A", "O80"]) == set()


def test_icd10cm_rejects_codes_that_do_not_exist() -> None:
    assert invalid_icd10cm(["E11.999", "XYZ1", "I10.X", "12345"]) == {
        "E11.999",
        "XYZ1",
        "I10.X",
        "12345",
    }


@pytest.mark.parametrize("code", ["8302-2", "29463-7", "72514-3", "39156-5", "8867-4"])
def test_loinc_codes_outside_the_knowledge_base_are_valid(code: str) -> None:
    # Synthea's vital signs (Body Height, Body Weight, Pain severity, BMI, Heart rate).
    assert invalid_loinc([code]) == set()


@pytest.mark.parametrize("code", ["185345009", "162673000", "38341003", "10939881000119105"])
def test_real_snomed_ct_identifiers_pass_verhoeff_and_partition(code: str) -> None:
    assert snomed_id_ok(code)
    assert invalid_codes("snomedct", [code]) == set()


@pytest.mark.parametrize("code", ["185345008", "12345678", "018534500", "185345", "E11.9"])
def test_mistyped_or_malformed_snomed_ct_identifiers_fail(code: str) -> None:
    assert not snomed_id_ok(code)
