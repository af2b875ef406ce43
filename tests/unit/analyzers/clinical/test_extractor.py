"""Behaviour of ClinicalExtractor.extract on clinical sentences and notes."""

from __future__ import annotations

from medflow.analyzers.clinical import ClinicalExtractor
from medflow.domain.clinical import Entity


def _one(entities: tuple[Entity, ...], text: str) -> Entity:
    found = [e for e in entities if e.text == text]
    assert len(found) == 1, [e.text for e in entities]
    return found[0]


def _attrs(e: Entity) -> dict[str, str]:
    return {a.type: a.text for a in e.attributes}


def test_medication_gets_dose_route_frequency_and_codes(extractor: ClinicalExtractor) -> None:
    result = extractor.extract("Metformin 500 mg PO BID for type 2 diabetes mellitus.")
    med = _one(result.entities, "Metformin")
    assert (med.category, med.type) == ("MEDICATION", "GENERIC_NAME")
    assert _attrs(med) == {"DOSAGE": "500 mg", "ROUTE_OR_MODE": "PO", "FREQUENCY": "BID"}
    assert {a.relationship_type for a in med.attributes} == {
        "WITH_DOSAGE",
        "ADMINISTERED_VIA",
        "FREQUENCY",
    }
    assert med.rxnorm[0].code == "6809"
    dm = _one(result.entities, "type 2 diabetes mellitus")
    assert dm.icd10cm[0].code == "E11.9"
    assert dm.has_trait("DIAGNOSIS")


def test_brand_name_maps_to_generic(extractor: ClinicalExtractor) -> None:
    med = _one(extractor.extract("Lasix 40 mg IV BID.").entities, "Lasix")
    assert med.type == "BRAND_NAME"
    assert med.normalized == "furosemide"
    assert med.rxnorm[0].code == "4603"


def test_count_dose_makes_amount_a_strength(extractor: ClinicalExtractor) -> None:
    med = _one(extractor.extract("Tylenol 2 tablets 500 mg every 8 hours.").entities, "Tylenol")
    assert _attrs(med)["DOSAGE"] == "2 tablets"
    assert _attrs(med)["STRENGTH"] == "500 mg"


def test_abbreviations_are_coded(extractor: ClinicalExtractor) -> None:
    result = extractor.extract("PMH: HTN, CHF, COPD and AFib.")
    codes = {e.text: e.icd10cm[0].code for e in result.by_category("MEDICAL_CONDITION")}
    assert codes == {"HTN": "I10", "CHF": "I50.9", "COPD": "J44.9", "AFib": "I48.91"}


def test_negation_family_history_and_hypothetical(extractor: ClinicalExtractor) -> None:
    result = extractor.extract(
        "Patient denies chest pain. Mother had breast cancer. History of myocardial "
        "infarction. If fever recurs, return to clinic. Reports nausea."
    )
    assert _one(result.entities, "chest pain").has_trait("NEGATION")
    assert _one(result.entities, "breast cancer").has_trait("PERTAINS_TO_FAMILY")
    assert _one(result.entities, "myocardial infarction").has_trait("PAST_HISTORY")
    assert _one(result.entities, "fever").has_trait("HYPOTHETICAL")
    nausea = _one(result.entities, "nausea")
    assert not {t.name for t in nausea.traits} & {"NEGATION", "HYPOTHETICAL", "PAST_HISTORY"}


def test_negation_stops_at_the_sentence_end(extractor: ClinicalExtractor) -> None:
    result = extractor.extract("No fever.\nCough for two days.")
    assert _one(result.entities, "fever").has_trait("NEGATION")
    assert not _one(result.entities, "Cough").has_trait("NEGATION")


def test_sections_are_carried_and_give_traits(extractor: ClinicalExtractor) -> None:
    text = (
        "Family History: Father with diabetes.\n"
        "Assessment and Plan: Start lisinopril 10 mg daily for hypertension."
    )
    result = extractor.extract(text)
    diabetes = _one(result.entities, "diabetes")
    assert diabetes.section == "FAMILY_HISTORY"
    assert diabetes.has_trait("PERTAINS_TO_FAMILY")
    med = _one(result.entities, "lisinopril")
    assert med.section == "ASSESSMENT_AND_PLAN"
    assert not med.has_trait("PERTAINS_TO_FAMILY")
    assert [s.name for s in result.sections] == ["FAMILY_HISTORY", "ASSESSMENT_AND_PLAN"]


def test_test_values_and_units(extractor: ClinicalExtractor) -> None:
    result = extractor.extract("Blood pressure 158/94 mmHg. Hemoglobin A1c was 8.2 % today.")
    assert _attrs(_one(result.entities, "Blood pressure")) == {
        "TEST_VALUE": "158/94",
        "TEST_UNIT": "mmHg",
    }
    assert _attrs(_one(result.entities, "Hemoglobin A1c"))["TEST_VALUE"] == "8.2"


def test_dose_without_a_drug_is_unmapped(extractor: ClinicalExtractor) -> None:
    result = extractor.extract("Take 2 tablets by mouth twice daily.")
    assert not result.by_category("MEDICATION")
    assert {a.type for a in result.unmapped_attributes} >= {"DOSAGE", "FREQUENCY"}


def test_offsets_are_exact_and_ids_unique(extractor: ClinicalExtractor, gold: list[dict]) -> None:
    for record in gold:
        text = record["text"]
        result = extractor.extract(text)
        # A time expression's OVERLAP attributes are the entities it dates: same Id as they.
        ids = [e.id for e in result.entities] + [
            a.id for e in result.entities for a in e.attributes if a.relationship_type != "OVERLAP"
        ]
        assert len(ids) == len(set(ids))
        by_id = {e.id: e for e in result.entities}
        for t in result.by_category("TIME_EXPRESSION"):
            for a in t.attributes:
                assert (by_id[a.id].begin, by_id[a.id].type) == (a.begin, a.type)
        for e in result.entities:
            assert text[e.begin : e.end] == e.text
            for a in e.attributes:
                assert text[a.begin : a.end] == a.text


def test_long_document_is_processed_whole(extractor: ClinicalExtractor) -> None:
    paragraph = "Metformin 500 mg PO BID for diabetes. Patient denies chest pain.\n\n"
    text = paragraph * 1200  # ~80 KB: past Comprehend's 20,000-byte limit and one chunk
    result = extractor.extract(text)
    meds = result.by_category("MEDICATION")
    assert len(meds) == 1200
    last = meds[-1]
    assert text[last.begin : last.end] == "Metformin"
    assert last.begin > 60_000
    assert {a.type for a in last.attributes} == {"DOSAGE", "ROUTE_OR_MODE", "FREQUENCY"}
    pains = [e for e in result.entities if e.text == "chest pain"]
    assert len(pains) == 1200
    assert all(e.has_trait("NEGATION") for e in pains)


def test_phi_types(extractor: ClinicalExtractor) -> None:
    text = (
        "Patient: John Carter, 67-year-old male, MRN 4482913, seen on 03/14/2024 by "
        "Dr. Alice Nguyen. Call (617) 555-0142 or jcarter@example.org."
    )
    phi = {
        (e.type, e.text)
        for e in extractor.extract(text).by_category("PROTECTED_HEALTH_INFORMATION")
    }
    assert phi == {
        ("NAME", "John Carter"),
        ("AGE", "67-year-old"),
        ("ID", "4482913"),
        ("DATE", "03/14/2024"),
        ("NAME", "Alice Nguyen"),
        ("PHONE_OR_FAX", "(617) 555-0142"),
        ("EMAIL", "jcarter@example.org"),
    }


def test_traits_for_a_given_span(extractor: ClinicalExtractor) -> None:
    sentence = "The patient has no evidence of pneumonia."
    begin = sentence.index("pneumonia")
    traits = extractor.traits_for(sentence, begin, begin + len("pneumonia"))
    assert [t.name for t in traits] == ["NEGATION"]
