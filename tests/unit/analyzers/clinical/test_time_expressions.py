"""TIME_EXPRESSION entities: found, typed by what they date, linked, never frequencies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

from medflow.analyzers.clinical import ClinicalExtractor, to_comprehend
from medflow.domain.clinical import ClinicalResult


def _times(result: ClinicalResult) -> dict[str, tuple[str, list[str]]]:
    return {
        t.text: (t.type, [a.text for a in t.attributes])
        for t in result.by_category("TIME_EXPRESSION")
    }


def test_durations_onsets_and_relative_times_date_their_findings(
    extractor: ClinicalExtractor,
) -> None:
    result = extractor.extract(
        "Cough and fever for 3 days. Headache x3 days, nausea since yesterday. "
        "Chest pain since Monday. Started lisinopril 2 weeks ago for HTN. "
        "Colonoscopy last year showed polyps."
    )
    assert _times(result) == {
        "for 3 days": ("TIME_TO_DX_NAME", ["Cough", "fever"]),
        "x3 days": ("TIME_TO_DX_NAME", ["Headache"]),
        "since yesterday": ("TIME_TO_DX_NAME", ["nausea"]),
        "since Monday": ("TIME_TO_DX_NAME", ["Chest pain"]),
        "2 weeks ago": ("TIME_TO_MEDICATION_NAME", ["lisinopril"]),
        "last year": ("TIME_TO_TEST_NAME", ["Colonoscopy"]),
    }


def test_a_time_that_dates_no_entity_is_not_reported(extractor: ClinicalExtractor) -> None:
    assert not _times(extractor.extract("Yesterday, the patient walked the dog."))
    assert not _times(extractor.extract("She has COPD and quit smoking 10 years ago."))
    result = extractor.extract("Yesterday, the patient took 200 mg of ibuprofen.")
    assert _times(result) == {"Yesterday": ("TIME_TO_MEDICATION_NAME", ["ibuprofen"])}


def test_frequencies_and_medication_durations_stay_attributes(
    extractor: ClinicalExtractor,
) -> None:
    result = extractor.extract(
        "Acetaminophen 650 mg every 6 hours as needed for pain. "
        "Azithromycin 500 mg PO daily for 3 days. Wheezing twice a day for the past 2 weeks."
    )
    assert _times(result) == {"for the past 2 weeks": ("TIME_TO_DX_NAME", ["Wheezing"])}
    azithro = next(e for e in result.entities if e.text == "Azithromycin")
    assert {a.type: a.text for a in azithro.attributes}["DURATION"] == "3 days"


def test_ages_are_not_durations(extractor: ClinicalExtractor) -> None:
    result = extractor.extract("She is a 45-year-old woman with diabetes for 10 years.")
    assert _times(result) == {"for 10 years": ("TIME_TO_DX_NAME", ["diabetes"])}
    assert [e.text for e in result.by_category("PROTECTED_HEALTH_INFORMATION")] == ["45-year-old"]


def test_a_date_stays_phi_and_is_also_a_time_expression(extractor: ClinicalExtractor) -> None:
    text = "Colonoscopy on 03/14/2023 showed polyps."
    result = extractor.extract(text)
    dates = [e for e in result.entities if e.text == "03/14/2023"]
    assert sorted((e.category, e.type) for e in dates) == [
        ("PROTECTED_HEALTH_INFORMATION", "DATE"),
        ("TIME_EXPRESSION", "TIME_TO_TEST_NAME"),
    ]


def test_comprehend_shape_links_by_id_with_overlap(extractor: ClinicalExtractor) -> None:
    out: dict[str, Any] = to_comprehend(extractor.extract("Abdominal pain since last night."))
    time = next(e for e in out["Entities"] if e["Category"] == "TIME_EXPRESSION")
    pain = next(e for e in out["Entities"] if e["Text"] == "Abdominal pain")
    assert (time["Text"], time["Type"]) == ("since last night", "TIME_TO_DX_NAME")
    (attr,) = time["Attributes"]
    assert (attr["Id"], attr["Type"], attr["Category"], attr["RelationshipType"]) == (
        pain["Id"],
        "DX_NAME",
        "MEDICAL_CONDITION",
        "OVERLAP",
    )
    assert attr["BeginOffset"] == pain["BeginOffset"]
    schema = Path(__file__).resolve().parents[4] / "tests/fixtures/clinical/comprehend_schema.json"
    jsonschema.validate(out, json.loads(schema.read_text(encoding="utf-8")))


def test_gold_notes_give_linked_time_expressions(
    extractor: ClinicalExtractor, gold: list[dict[str, Any]]
) -> None:
    times = [
        t
        for record in gold
        for t in extractor.extract(record["text"]).by_category("TIME_EXPRESSION")
    ]
    assert len(times) >= 5
    assert all(t.attributes and t.type.startswith("TIME_TO_") for t in times)


def test_medical_resume_takes_each_symptoms_own_onset(extractor: ClinicalExtractor) -> None:
    from medflow.reports.resume import medical_resume

    text = "Headache x3 days, nausea since yesterday."
    resume = medical_resume(extractor.extract(text), text)
    assert {s["text"]: s["onset"] for s in resume["symptoms"]} == {
        "Headache": "x3 days",
        "nausea": "since yesterday",
    }
