"""FHIR R4 Bundle from a clinical result."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.bundle import Bundle

from medflow.analyzers.clinical import ClinicalExtractor
from medflow.reports.fhir_clinical import ICD10CM, RXNORM, clinical_bundle

NOTE = (
    "HPI: Patient denies chest pain. Father with colon cancer.\n"
    "Medications: Metformin 500 mg PO BID.\n"
    "Allergies: Penicillin (hives).\n"
    "Labs: Hemoglobin A1c was 8.2 %.\n"
    "Assessment and Plan: Type 2 diabetes mellitus."
)


def _resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def test_bundle_validates_and_maps_each_kind(extractor: ClinicalExtractor) -> None:
    bundle = clinical_bundle(extractor.extract(NOTE), "p-1", NOTE)
    Bundle.model_validate(bundle)
    conditions = {c["code"]["text"]: c for c in _resources(bundle, "Condition")}
    assert conditions["chest pain"]["verificationStatus"]["coding"][0]["code"] == "refuted"
    dm = conditions["Type 2 diabetes mellitus"]
    assert dm["code"]["coding"][0] == {
        "system": ICD10CM,
        "code": "E11.9",
        "display": "Type 2 diabetes mellitus without complications",
    }
    assert "colon cancer" not in conditions  # family history is not the patient's condition
    assert "hives" not in conditions  # a reaction, inside the allergy
    (med,) = _resources(bundle, "MedicationStatement")
    assert med["medicationCodeableConcept"]["coding"][0]["system"] == RXNORM
    assert med["dosage"][0]["doseAndRate"][0]["doseQuantity"]["value"] == 500.0
    assert med["dosage"][0]["timing"]["code"]["text"] == "BID"
    (allergy,) = _resources(bundle, "AllergyIntolerance")
    assert allergy["reaction"][0]["manifestation"][0]["text"] == "hives"
    (obs,) = _resources(bundle, "Observation")
    assert obs["valueQuantity"]["value"] == 8.2
    assert all(e["resource"].get("subject", e["resource"].get("patient")) for e in bundle["entry"])


def test_bundle_ids_are_stable(extractor: ClinicalExtractor) -> None:
    result = extractor.extract(NOTE)
    first = [e["fullUrl"] for e in clinical_bundle(result, "p-1", NOTE)["entry"]]
    assert first == [e["fullUrl"] for e in clinical_bundle(result, "p-1", NOTE)["entry"]]
    assert first != [e["fullUrl"] for e in clinical_bundle(result, "p-2", NOTE)["entry"]]
