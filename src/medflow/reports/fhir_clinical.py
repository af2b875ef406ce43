"""FHIR R4 Bundle for a clinical extraction: Condition, MedicationStatement, AllergyIntolerance,
Observation.

Built as plain JSON and validated with ``fhir.resources`` (8.x ships R4B models under
``fhir.resources.R4B``; R4B leaves these four resources as in R4, so the bundle is valid R4).
Code systems: ICD-10-CM ``http://hl7.org/fhir/sid/icd-10-cm``, RxNorm
``http://www.nlm.nih.gov/research/umls/rxnorm``, UCUM ``http://unitsofmeasure.org``.
Status mapping (FHIR R4 value sets condition-ver-status, medication-statement-status):
NEGATION -> ``refuted`` / ``not-taken``; HYPOTHETICAL -> ``provisional``; LOW_CONFIDENCE ->
``unconfirmed``. PERTAINS_TO_FAMILY findings are left out (they are FamilyMemberHistory, not
the patient's conditions). A medication in the allergies section becomes AllergyIntolerance,
with the conditions on its line as reaction manifestations.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from medflow.domain.clinical import ClinicalResult, Entity
from medflow.errors import AnalyzerError

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
_CONDITION_VER = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
_CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
_CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
_ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
_QUANTITY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-zµ%/]+)\s*$")
_UCUM_UNITS = {"mg": "mg", "mcg": "ug", "ug": "ug", "g": "g", "ml": "mL", "units": "[U]", "%": "%"}
_NAMESPACE = uuid.UUID("6f1c1d0e-8b7a-4d0e-9a57-0c1f3f1a2b3c")


def _cc(
    text: str, system: str | None = None, code: str | None = None, display: str = ""
) -> dict[str, Any]:
    out: dict[str, Any] = {"text": text}
    if system and code:
        coding: dict[str, Any] = {"system": system, "code": code}
        if display:
            coding["display"] = display
        out["coding"] = [coding]
    return out


def _status(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def _quantity(text: str) -> dict[str, Any] | None:
    m = _QUANTITY.match(text)
    if m is None:
        return None
    unit = m.group(2)
    out: dict[str, Any] = {"value": float(m.group(1)), "unit": unit}
    code = _UCUM_UNITS.get(unit.lower())
    if code:
        out.update(system=UCUM, code=code)
    return out


def _attr(entity: Entity, type_: str) -> str | None:
    return next((a.text for a in entity.attributes if a.type == type_), None)


def _condition(e: Entity, subject: dict[str, str]) -> dict[str, Any]:
    icd = e.icd10cm[0] if e.icd10cm else None
    if e.has_trait("NEGATION"):
        verification = "refuted"
    elif e.has_trait("HYPOTHETICAL"):
        verification = "provisional"
    elif e.has_trait("LOW_CONFIDENCE"):
        verification = "unconfirmed"
    else:
        verification = "confirmed"
    kind = "encounter-diagnosis" if e.has_trait("DIAGNOSIS") else "problem-list-item"
    out: dict[str, Any] = {
        "resourceType": "Condition",
        "verificationStatus": _status(_CONDITION_VER, verification),
        "category": [_status(_CONDITION_CATEGORY, kind)],
        "code": _cc(e.text, ICD10CM, icd.code if icd else None, icd.description if icd else ""),
        "subject": subject,
    }
    if verification != "refuted":
        # FHIR R4 con-3: a problem-list item needs a clinical status; a past-history finding
        # is recorded as resolved, as the note presents it.
        clinical = (
            "resolved"
            if e.has_trait("PAST_HISTORY") and kind != "encounter-diagnosis"
            else "active"
        )
        out["clinicalStatus"] = _status(_CONDITION_CLINICAL, clinical)
    return out


def _medication(e: Entity, subject: dict[str, str]) -> dict[str, Any]:
    rx = e.rxnorm[0] if e.rxnorm else None
    sig = " ".join(a.text for a in e.attributes)
    dosage: dict[str, Any] = {"text": f"{e.text} {sig}".strip()}
    route = _attr(e, "ROUTE_OR_MODE")
    if route:
        dosage["route"] = {"text": route}
    frequency = _attr(e, "FREQUENCY")
    if frequency:
        dosage["timing"] = {"code": {"text": frequency}}
    dose = _quantity(_attr(e, "DOSAGE") or "")
    if dose:
        dosage["doseAndRate"] = [{"doseQuantity": dose}]
    return {
        "resourceType": "MedicationStatement",
        "status": "not-taken" if e.has_trait("NEGATION") else "active",
        "medicationCodeableConcept": _cc(
            e.normalized or e.text, RXNORM, rx.code if rx else None, rx.description if rx else ""
        ),
        "subject": subject,
        "dosage": [dosage],
    }


def _allergy(e: Entity, reactions: list[Entity], patient: dict[str, str]) -> dict[str, Any]:
    rx = e.rxnorm[0] if e.rxnorm else None
    out: dict[str, Any] = {
        "resourceType": "AllergyIntolerance",
        "clinicalStatus": _status(_ALLERGY_CLINICAL, "active"),
        "category": ["medication"],
        "code": _cc(e.text, RXNORM, rx.code if rx else None, rx.description if rx else ""),
        "patient": patient,
    }
    if reactions:
        out["reaction"] = [{"manifestation": [_cc(r.text) for r in reactions]}]
    return out


def _observation(e: Entity, subject: dict[str, str]) -> dict[str, Any] | None:
    value = _attr(e, "TEST_VALUE")
    if value is None:
        return None
    out: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "code": _cc(e.text),
        "subject": subject,
    }
    unit = _attr(e, "TEST_UNIT")
    quantity = (
        _quantity(f"{value} {unit}" if unit else value)
        if re.fullmatch(r"\d+(?:\.\d+)?", value)
        else None
    )
    if quantity is not None:
        out["valueQuantity"] = quantity
    elif re.fullmatch(r"\d+(?:\.\d+)?", value):
        out["valueQuantity"] = {"value": float(value)}
    else:
        out["valueString"] = f"{value} {unit}".strip() if unit else value
    return out


def _full_url(patient_id: str, e: Entity, resource_type: str) -> str:
    # Stable ids: the same note for the same patient gives the same Bundle (idempotent steps).
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{patient_id}/{e.begin}/{e.end}/{resource_type}')}"


def clinical_bundle(
    result: ClinicalResult, patient_id: str, text: str | None = None
) -> dict[str, Any]:
    """Build a FHIR R4 collection Bundle from an extraction result.

    Args:
        result: the extraction result.
        patient_id: id of the Patient resource the findings belong to (``Patient/<id>``).
        text: the original text; when given, allergy reactions are read from the same line.

    Returns:
        The Bundle as a JSON-ready dict, validated against the FHIR models.

    Raises:
        AnalyzerError: the bundle failed FHIR validation (a bug in this module).
    """
    subject = {"reference": f"Patient/{patient_id}"}
    resources: list[tuple[Entity, dict[str, Any]]] = []
    conditions = result.by_category("MEDICAL_CONDITION")
    for e in result.entities:
        if e.category == "MEDICAL_CONDITION" and not e.has_trait("PERTAINS_TO_FAMILY"):
            if e.section == "ALLERGIES":
                continue  # a reaction, written into its AllergyIntolerance
            resources.append((e, _condition(e, subject)))
        elif e.category == "MEDICATION" and e.section == "ALLERGIES":
            line_end = text.find("\n", e.end) if text else -1
            stop = line_end if line_end >= 0 else result.text_length
            reactions = [c for c in conditions if e.end <= c.begin < stop]
            resources.append((e, _allergy(e, reactions, subject)))
        elif e.category == "MEDICATION" and not e.has_trait("PERTAINS_TO_FAMILY"):
            resources.append((e, _medication(e, subject)))
        elif e.type == "TEST_NAME":
            obs = _observation(e, subject)
            if obs is not None:
                resources.append((e, obs))
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": _full_url(patient_id, e, r["resourceType"]),
                "resource": r,
            }
            for e, r in resources
        ],
    }
    try:
        from fhir.resources.R4B.bundle import Bundle

        Bundle.model_validate(bundle)
    except ModuleNotFoundError:
        pass  # validation is a check, not a requirement; fhir.resources is a core dependency
    except ValueError as exc:
        raise AnalyzerError(f"the clinical FHIR bundle failed validation: {exc}") from exc
    return bundle
