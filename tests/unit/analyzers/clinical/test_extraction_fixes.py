"""Extraction errors found on realistic sentences, each held in place by a test."""

from __future__ import annotations

from medflow.analyzers.clinical import ClinicalExtractor
from medflow.domain.clinical import ClinicalResult, Entity


def _get(result: ClinicalResult, text: str) -> Entity:
    found = [e for e in result.entities if e.text == text]
    assert len(found) == 1, (text, [(e.text, e.category) for e in result.entities])
    return found[0]


def _negated(result: ClinicalResult) -> dict[str, bool]:
    return {e.text: e.has_trait("NEGATION") for e in result.by_category("MEDICAL_CONDITION")}


def test_lab_test_names_win_over_drug_dictionary_hits(extractor: ClinicalExtractor) -> None:
    result = extractor.extract(
        "Ferritin was 12 ng/mL and transferrin saturation low; start ferrous sulfate 325 mg PO "
        "daily for iron deficiency anemia."
    )
    ferritin = _get(result, "Ferritin")
    assert (ferritin.category, ferritin.type) == ("TEST_TREATMENT_PROCEDURE", "TEST_NAME")
    assert {a.type: a.text for a in ferritin.attributes} == {
        "TEST_VALUE": "12",
        "TEST_UNIT": "ng/mL",
    }
    assert [e.text for e in result.by_category("MEDICATION")] == ["ferrous sulfate"]


def test_drug_level_is_a_test_and_the_dose_a_medication(extractor: ClinicalExtractor) -> None:
    result = extractor.extract("Digoxin level 2.4 ng/mL; hold digoxin 0.125 mg PO daily.")
    assert _get(result, "Digoxin level").type == "TEST_NAME"
    med = _get(result, "digoxin")
    assert med.category == "MEDICATION"
    assert {a.type for a in med.attributes} >= {"DOSAGE", "ROUTE_OR_MODE", "FREQUENCY"}


def test_negation_covers_every_item_of_a_coordinated_list(extractor: ClinicalExtractor) -> None:
    result = extractor.extract("She denies vomiting, weight loss or black stools.")
    assert _negated(result) == {"vomiting": True, "weight loss": True, "black stools": True}
    result = extractor.extract("Patient denies headache nor dizziness and night sweats.")
    assert _negated(result) == {"headache": True, "dizziness": True, "night sweats": True}


def test_negation_list_ends_at_a_termination_cue(extractor: ClinicalExtractor) -> None:
    result = extractor.extract(
        "He denies fever, chills or night sweats, but has had a productive cough."
    )
    assert _negated(result) == {
        "fever": True,
        "chills": True,
        "night sweats": True,
        "productive cough": False,
    }
    result = extractor.extract("Denies chest pain, palpitations, reports dyspnea on exertion.")
    negated = _negated(result)
    assert negated["chest pain"] and negated["palpitations"]
    assert not any(v for k, v in negated.items() if "dyspnea" in k)
    result = extractor.extract("No melena or hematochezia, which were present last year.")
    assert _negated(result) == {"melena": True, "hematochezia": True}


def test_bare_history_heading_is_the_present_illness(extractor: ClinicalExtractor) -> None:
    text = (
        "History: 54-year-old man with 3 days of chest pain and shortness of breath.\n"
        "Past Medical History: Hypertension."
    )
    result = extractor.extract(text)
    pain = _get(result, "chest pain")
    assert pain.section == "HISTORY_OF_PRESENT_ILLNESS"
    assert not pain.has_trait("PAST_HISTORY")
    htn = _get(result, "Hypertension")
    assert htn.section == "PAST_MEDICAL_HISTORY"
    assert htn.has_trait("PAST_HISTORY")


def test_history_heading_variants(extractor: ClinicalExtractor) -> None:
    text = (
        "HISTORY:\nCough for 2 weeks. History of asthma.\n"
        "Past History: Appendicitis.\n"
        "History of Present Illness: Fever since Monday."
    )
    result = extractor.extract(text)
    assert [s.name for s in result.sections] == [
        "HISTORY_OF_PRESENT_ILLNESS",
        "PAST_MEDICAL_HISTORY",
        "HISTORY_OF_PRESENT_ILLNESS",
    ]
    assert not _get(result, "Cough").has_trait("PAST_HISTORY")
    assert _get(result, "asthma").has_trait("PAST_HISTORY")  # ConText cue, not the section
    assert _get(result, "Appendicitis").has_trait("PAST_HISTORY")
    assert not _get(result, "Fever").has_trait("PAST_HISTORY")


def test_phrases_match_across_extra_spaces_and_line_breaks(extractor: ClinicalExtractor) -> None:
    text = "Admitted with staph   bacteremia; to rule\nout endocarditis.  Denies chest   pain."
    result = extractor.extract(text)
    bacteremia = _get(result, "staph   bacteremia")
    assert text[bacteremia.begin : bacteremia.end] == "staph   bacteremia"
    assert _get(result, "chest   pain").has_trait("NEGATION")


def test_colon_no_before_a_finding_negates_forward(extractor: ClinicalExtractor) -> None:
    result = extractor.extract("Extremities: No clubbing or cyanosis.\nFever: no.")
    assert _negated(result) == {"clubbing": True, "cyanosis": True, "Fever": True}
