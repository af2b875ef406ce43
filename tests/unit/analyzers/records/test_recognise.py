"""Columns recognised by meaning, one test per column family: names (English words, common
abbreviations, units in names) and values (codes, contacts, dates, numbers)."""

from __future__ import annotations

import polars as pl
import pytest

from medflow.analyzers.records.recognise import meaning_from_name, recognise_column


@pytest.mark.parametrize(
    ("name", "meaning"),
    [
        ("patient_id", "patient_id"),
        ("PatientID", "patient_id"),
        ("MRN", "patient_id"),
        ("subject_id", "patient_id"),
        ("Encounter Number", "encounter_id"),
        ("hadm_id", "encounter_id"),
        ("visitId", "encounter_id"),
        ("record_key", "identifier"),
    ],
)
def test_identifiers(name: str, meaning: str) -> None:
    assert meaning_from_name(name)[0] == meaning


@pytest.mark.parametrize(
    ("name", "meaning"),
    [
        ("DOB", "date_of_birth"),
        ("Date of Birth", "date_of_birth"),
        ("birthDate", "date_of_birth"),
        ("BIRTHDATE", "date_of_birth"),
        ("admission_date", "admission_date"),
        ("ADMIT_DT", "admission_date"),
        ("admittime", "admission_date"),
        ("AdmitDateTime", "admission_date"),
        ("DISCH_DT", "discharge_date"),
        ("Date of Discharge", "discharge_date"),
        ("visit_date", "visit_date"),
        ("date_of_service", "visit_date"),
        ("DEATHDATE", "date_of_death"),
    ],
)
def test_dates_by_name(name: str, meaning: str) -> None:
    assert meaning_from_name(name)[0] == meaning


@pytest.mark.parametrize(
    ("name", "meaning", "unit"),
    [
        ("age", "age", None),
        ("Age (years)", "age", "a"),
        ("sex", "sex", None),
        ("Gender", "sex", None),
        ("HR", "heart_rate", None),
        ("Heart Rate (bpm)", "heart_rate", "/min"),
        ("PulseRate", "heart_rate", None),
        ("SBP", "systolic_bp", None),
        ("BpSystolic", "systolic_bp", None),
        ("Diastolic BP (mmHg)", "diastolic_bp", "mm[Hg]"),
        ("TEMP_F", "temperature", "[degF]"),
        ("Temperature (°C)", "temperature", "Cel"),
        ("WT_KG", "weight", "kg"),
        ("weight_lbs", "weight", "[lb_av]"),
        ("Height (in)", "height", "[in_i]"),
        ("SpO2 (%)", "spo2", "%"),
        ("oxygen_saturation", "spo2", None),
        ("RR", "respiratory_rate", None),
        ("Respiratory Rate (/min)", "respiratory_rate", "/min"),
    ],
)
def test_age_sex_and_vitals_with_units(name: str, meaning: str, unit: str | None) -> None:
    assert meaning_from_name(name) == (meaning, unit)


@pytest.mark.parametrize(
    ("name", "meaning"),
    [
        ("icd10_code", "icd10cm"),
        ("DX_CODE", "icd10cm"),
        ("Diagnosis (ICD-10)", "icd10cm"),
        ("loinc_num", "loinc"),
        ("Test Code (LOINC)", "loinc"),
        ("snomedCode", "snomedct"),
        ("lab_value", "value"),
        ("resultUnits", "unit"),
        ("zip", "postal_code"),
        ("Postal Code", "postal_code"),
        ("phone_number", "phone"),
        ("E-mail", "email"),
    ],
)
def test_codes_lab_values_and_contacts_by_name(name: str, meaning: str) -> None:
    assert meaning_from_name(name)[0] == meaning


def _col(values: list[str]) -> pl.Series:
    return pl.Series("c", values * 20)


@pytest.mark.parametrize(
    ("values", "meaning"),
    [
        (["I10", "E11.9", "J18.9", "S72.001A"], "icd10cm"),
        (["8302-2", "2345-7", "718-7", "29463-7"], "loinc"),
        (["185345009", "162673000", "410620009", "38341003"], "snomedct"),
        (["ana@example.org", "ben@example.com"], "email"),
        (["(617) 555-0101", "+1-617-555-0199", "617.555.0123"], "phone"),
        (["2020-01-05", "2021-11-30", "2019-07-04"], "date"),
        (["F", "M", "F", "male"], "sex"),
        (["00012", "00345", "01852"], "identifier"),
        (
            ["3f159c1c-34c9-dbd4-6cbb-1e66a7239564", "74ff53ad-75a7-9045-2f90-193df099e8ec"],
            "identifier",
        ),
        (["12.5", "13.1", "99"], "number"),
    ],
)
def test_unknown_names_are_recognised_by_their_values(values: list[str], meaning: str) -> None:
    assert recognise_column("c", "col_7", _col(values)).meaning == meaning


def test_a_name_the_values_contradict_is_not_trusted() -> None:
    found = recognise_column("heart_rate", "heart_rate", _col(["Cardiology", "Neurology"]))
    assert found.meaning == "category"


def test_a_vitals_unit_is_read_from_its_values_when_the_name_has_none() -> None:
    assert recognise_column("t", "temperature", _col(["98.6", "99.1", "97.9"])).unit == "[degF]"
    assert recognise_column("t", "temperature", _col(["36.9", "37.4", "38.0"])).unit == "Cel"
    assert recognise_column("w", "weight", _col(["172.5", "150.2", "201.0"])).unit == "[lb_av]"
    assert recognise_column("h", "height", _col(["170", "182", "158"])).unit == "cm"
