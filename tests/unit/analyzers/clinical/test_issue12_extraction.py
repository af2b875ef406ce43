"""Issue 12: concepts real notes contain — drug names, attributes item by item, negation scope,
PHI at a note's start, anatomy with laterality, findings written as statements."""

from __future__ import annotations

from medflow.analyzers.clinical import ClinicalExtractor
from medflow.domain.clinical import ClinicalResult, Entity


def _get(result: ClinicalResult, text: str, category: str | None = None) -> Entity:
    found = [e for e in result.entities if e.text == text and category in (None, e.category)]
    assert len(found) == 1, (text, [(e.text, e.category) for e in result.entities])
    return found[0]


def _attrs(entity: Entity) -> dict[str, str]:
    return {a.type: a.text for a in entity.attributes}


def _names(result: ClinicalResult, category: str) -> list[str]:
    return [e.text for e in result.by_category(category)]  # type: ignore[arg-type]


def test_combination_product_is_one_medication_with_all_attributes(
    extractor: ClinicalExtractor,
) -> None:
    result = extractor.extract(
        "Start amoxicillin-clavulanate 875 mg by mouth every 12 hours for 10 days."
    )
    drug = _get(result, "amoxicillin-clavulanate", "MEDICATION")
    assert drug.normalized == "amoxicillin/clavulanic acid"
    assert _attrs(drug) == {
        "DOSAGE": "875 mg",
        "ROUTE_OR_MODE": "by mouth",
        "FREQUENCY": "every 12 hours",
        "DURATION": "10 days",
    }
    slash = extractor.extract("hydrocodone/acetaminophen 5/325 mg 1 tablet PO q6h PRN")
    combo = _get(slash, "hydrocodone/acetaminophen", "MEDICATION")
    assert _attrs(combo)["STRENGTH"] == "5/325 mg"
    assert _attrs(combo)["DOSAGE"] == "1 tablet"


def test_brand_of_a_combination_maps_to_its_ingredients(extractor: ClinicalExtractor) -> None:
    drug = _get(extractor.extract("Augmentin 500 mg PO TID"), "Augmentin", "MEDICATION")
    assert (drug.type, drug.normalized) == ("BRAND_NAME", "amoxicillin/clavulanic acid")


def test_hyphenated_and_digit_first_names_match_in_any_spelling(
    extractor: ClinicalExtractor,
) -> None:
    for text, generic in [
        ("co-trimoxazole", "co-trimoxazole"),
        ("cotrimoxazole", "co-trimoxazole"),
        ("5-FU", "fluorouracil"),
        ("6-mercaptopurine", "mercaptopurine"),
        ("L-dopa", "levodopa"),
    ]:
        drug = _get(extractor.extract(f"He was given {text} today."), text, "MEDICATION")
        assert drug.normalized == generic


def test_abbreviations_need_their_case_or_a_dose(extractor: ClinicalExtractor) -> None:
    assert _names(extractor.extract("Continue MTX weekly."), "MEDICATION") == ["MTX"]
    assert _names(extractor.extract("Give NS 1 L bolus; ns were checked."), "MEDICATION") == ["NS"]
    assert _names(extractor.extract("Taper pred 40 mg daily."), "MEDICATION") == ["pred"]
    assert _names(extractor.extract("FEV1 was 85% pred."), "MEDICATION") == []


def test_enzymes_genes_and_lab_headers_are_not_medications(extractor: ClinicalExtractor) -> None:
    result = extractor.extract("SGOT and SGPT were raised; caspase activity and mRNA measured.")
    assert _names(result, "MEDICATION") == []


def test_in_document_abbreviation_takes_the_drug_and_leaves_the_dose_to_it(
    extractor: ClinicalExtractor,
) -> None:
    result = extractor.extract(
        "Previously on carbamazepine (CBZ) 200 mg PO BID.\nCBZ stopped after a rash."
    )
    full = _get(result, "carbamazepine", "MEDICATION")
    assert _attrs(full) == {"DOSAGE": "200 mg", "ROUTE_OR_MODE": "PO", "FREQUENCY": "BID"}
    uses = [e for e in result.by_category("MEDICATION") if e.text == "CBZ"]
    assert len(uses) == 2
    assert all(e.normalized == "carbamazepine" and not e.attributes for e in uses)


def test_sig_wrapped_after_the_drug_name_keeps_its_attributes(
    extractor: ClinicalExtractor,
) -> None:
    result = extractor.extract("DISCHARGE MEDICATIONS:\nFAMOTIDINE\n20MG PO bid\n- Metformin\n")
    famotidine = _get(result, "FAMOTIDINE", "MEDICATION")
    assert _attrs(famotidine) == {"DOSAGE": "20MG", "ROUTE_OR_MODE": "PO", "FREQUENCY": "bid"}
    assert _get(result, "Metformin", "MEDICATION").attributes == ()


def test_next_line_item_does_not_continue_a_wrapped_sig(extractor: ClinicalExtractor) -> None:
    result = extractor.extract("Medications:\nMetformin\n- Zorblatin 5 mg PO daily")
    assert _get(result, "Metformin", "MEDICATION").attributes == ()
    assert {a.text for a in result.unmapped_attributes} == {"5 mg", "PO", "daily"}


def test_unknown_drugs_dose_is_unmapped_not_given_to_its_neighbour(
    extractor: ClinicalExtractor,
) -> None:
    result = extractor.extract("metoprolol 25 mg PO BID, Zentravix 10 mg PO daily.")
    assert _attrs(_get(result, "metoprolol", "MEDICATION")) == {
        "DOSAGE": "25 mg",
        "ROUTE_OR_MODE": "PO",
        "FREQUENCY": "BID",
    }
    assert [a.text for a in result.unmapped_attributes] == ["10 mg", "PO", "daily"]
    numbered = extractor.extract("1. Atorvastatin 40 mg qhs 2. Flurbox 10 mg PO BID")
    assert _attrs(_get(numbered, "Atorvastatin")) == {"DOSAGE": "40 mg", "FREQUENCY": "qhs"}


def test_negation_scope_ends_at_field_labels_and_bullets(extractor: ClinicalExtractor) -> None:
    labels = extractor.extract(
        "Changes since last visit: no new complaints. Immunomeds: Prograf 2 mg"
    )
    assert not _get(labels, "Prograf").has_trait("NEGATION")
    labs = extractor.extract("Morphine 2 mg IV q4h Labs: None today")
    assert not _get(labs, "Morphine").has_trait("NEGATION")
    bullet = extractor.extract("Denies chest pain - Aspirin 81 mg daily")
    assert _get(bullet, "chest pain").has_trait("NEGATION")
    assert not _get(bullet, "Aspirin").has_trait("NEGATION")


def test_no_evidence_of_metastasis_and_no_chemo_are_negated_entities(
    extractor: ClinicalExtractor,
) -> None:
    result = extractor.extract("No evidence of metastasis. She is not receiving any chemo.")
    assert _get(result, "metastasis", "MEDICAL_CONDITION").has_trait("NEGATION")
    assert _get(result, "chemo", "TEST_TREATMENT_PROCEDURE").has_trait("NEGATION")


def test_names_opening_a_note_labelled_in_capitals_and_in_signatures_are_phi(
    extractor: ClinicalExtractor,
) -> None:
    def phi(text: str) -> dict[str, str]:
        return {
            e.text: e.type
            for e in extractor.extract(text).by_category("PROTECTED_HEALTH_INFORMATION")
        }

    assert phi("Maria Gonzalez\nDOB: 03/04/1970\nCough for 3 days.")["Maria Gonzalez"] == "NAME"
    assert phi("Jonathan Reyes, 58M, presents with chest pain.")["Jonathan Reyes"] == "NAME"
    assert phi("PATIENT NAME: SMITH, JOHN A\nSeen for cough.")["SMITH, JOHN A"] == "NAME"
    assert phi("Seen today.\nSincerely,\nEmily Carter")["Emily Carter"] == "NAME"
    assert phi("Electronically signed by: Paul Novak, MD")["Paul Novak"] == "NAME"
    # A heading or a problem opening a line is not a name.
    assert phi("Discharge Summary\nAtrial Fibrillation\nCongestive Heart Failure, stable.") == {}


def test_record_and_account_numbers_in_common_formats(extractor: ClinicalExtractor) -> None:
    text = "MRN: 553-21-908\nMR# 0042-7781\nAcct #: A99120345\nmrn 4455667\nMed Rec No. 8812345"
    ids = [e.text for e in extractor.extract(text).by_category("PROTECTED_HEALTH_INFORMATION")]
    assert ids == ["553-21-908", "0042-7781", "A99120345", "4455667", "8812345"]


def test_a_name_is_never_also_a_drug(extractor: ClinicalExtractor) -> None:
    result = extractor.extract("Sincerely,\nTomas Lindqvist")
    assert _names(result, "MEDICATION") == []


def test_anatomy_with_laterality_and_spinal_levels(extractor: ClinicalExtractor) -> None:
    result = extractor.extract(
        "Opacity in the left lower lobe. MRI of the lumbar spine: L4-L5 bulge."
    )
    lobe = _get(result, "lower lobe", "ANATOMY")
    assert (lobe.type, _attrs(lobe)) == ("SYSTEM_ORGAN_SITE", {"DIRECTION": "left"})
    assert _get(result, "lumbar spine", "ANATOMY").type == "SYSTEM_ORGAN_SITE"
    assert _get(result, "L4-L5", "ANATOMY").type == "SYSTEM_ORGAN_SITE"
    assert "left" not in _names(result, "ANATOMY")


def test_missing_common_terms_british_spellings_and_kidney_variants(
    extractor: ClinicalExtractor,
) -> None:
    for term in [
        "acute renal failure",
        "kidney failure",
        "status epilepticus",
        "anaphylaxis",
        "vasculitis",
        "QT prolongation",
        "hepatotoxicity",
        "haemorrhage",
        "anaemia",
        "oedema",
        "tumour",
        "Stevens-Johnson syndrome",
    ]:
        result = extractor.extract(f"Course complicated by {term} last week.")
        assert term in _names(result, "MEDICAL_CONDITION"), term
    assert _get(extractor.extract("He has anaemia."), "anaemia").icd10cm[0].code == "D64.9"


def test_findings_written_as_statements_are_signs(extractor: ClinicalExtractor) -> None:
    result = extractor.extract(
        "Left ventricular size is normal. Abdomen soft, nontender. Thickened aortic valve. "
        "He is in no acute distress."
    )
    conditions = {e.text: e for e in result.by_category("MEDICAL_CONDITION")}
    assert set(conditions) == {
        "Left ventricular size is normal",
        "Abdomen soft, nontender",
        "Thickened aortic valve",
        "acute distress",
    }
    assert all(e.has_trait("SIGN") for e in conditions.values())
    assert conditions["acute distress"].has_trait("NEGATION")
