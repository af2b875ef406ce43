"""A lab report as a FHIR R4 Bundle: Patient, DiagnosticReport and one Observation per result.

Shape follows the HL7 FHIR R4 examples ``diagnosticreport-example-f001-bloodexam`` and
``observation-example-f001-glucose``: LOINC codes (``http://loinc.org``), UCUM quantities
(``http://unitsofmeasure.org``), v3-ObservationInterpretation codes, referenceRange low/high as
UCUM quantities. Ids are uuid5 of the document id, so the same document always renders the same
Bundle, and references are ``urn:uuid:`` full URLs resolved inside the Bundle (R4 Bundle
3.3.1.4.1 "Resolving references in Bundles").

Bundle type: ``collection`` by default — the Bundle is a stored result, a set of resources with
no processing instructions, as in the f001 example. ``transaction`` is offered for posting to a
FHIR server: every entry is a conditional create (``ifNoneExist`` on its identifier, R4 HTTP
3.1.0.8.1), so posting the same document twice creates nothing new.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from html import escape
from typing import Literal

from medflow.domain.labs import LabReport, LabResult, Significance
from medflow.reports.fhir import (
    JsonDict,
    fhir_datetime,
    resource_uuid,
    system,
    terminology,
    validate_r4_bundle,
)

BundleType = Literal["collection", "transaction"]


def _coding(sys_name: str, entry: dict[str, str]) -> JsonDict:
    return {"system": system(sys_name), "code": entry["code"], "display": entry["display"]}


def _identifier(urn: str) -> JsonDict:
    # A resource's own urn:uuid as a business identifier (system urn:ietf:rfc:3986): stable
    # across renderings, searchable on a server, the key of the conditional create.
    return {"system": system("rfc3986"), "value": urn}


def _unit_display(result: LabResult) -> str:
    # Quantity.unit is for people: the printed spelling when it means the same unit as the
    # UCUM code (e.g. "mmol/l" for "mmol/L"); the value may have been converted, so never
    # show a printed unit that differs from the code.
    printed = result.printed_unit.strip()
    if printed and printed.lower().replace("µ", "u") == result.unit.lower():
        return printed
    return result.unit


def _quantity(value: float, result: LabResult, comparator: str | None = None) -> JsonDict:
    quantity: JsonDict = {"value": value}
    if comparator is not None:
        quantity["comparator"] = comparator
    if result.unit:
        quantity.update(unit=_unit_display(result), system=system("ucum"), code=result.unit)
    return quantity


def _value(result: LabResult) -> JsonDict:
    """The Observation's ``value[x]`` (or ``dataAbsentReason``) for one result."""
    if result.value is not None:
        return {"valueQuantity": _quantity(result.value, result, result.comparator)}
    text = result.value_text.strip()
    if not text:
        return {
            "dataAbsentReason": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                        "code": "unknown",
                        "display": "Unknown",
                    }
                ]
            }
        }
    coded = terminology()["qualitative_snomed"].get(text.lower().replace("-", " "))
    if coded is None:
        return {"valueString": text}
    return {"valueCodeableConcept": {"coding": [_coding("snomed", coded)], "text": text}}


def _reference_range(result: LabResult) -> list[JsonDict]:
    ref = result.reference_range
    if ref is None:
        return []
    out: JsonDict = {}
    if ref.low is not None:
        out["low"] = _quantity(ref.low, result)
    if ref.high is not None:
        out["high"] = _quantity(ref.high, result)
    if ref.applies_to:
        out["appliesTo"] = [{"text": ref.applies_to}]
    if ref.text:
        out["text"] = ref.text
    # Invariant obs-3: a referenceRange needs at least a low, a high or a text.
    return [out] if {"low", "high", "text"} & out.keys() else []


def _code(result: LabResult) -> JsonDict:
    if result.loinc:
        # Coding.display must be the code system's display; we hold our own name, not the
        # LOINC long common name, so it goes in CodeableConcept.text.
        return {"coding": [{"system": system("loinc"), "code": result.loinc}], "text": result.name}
    return {"text": result.printed_name or result.name}


def observation(
    result: LabResult, *, obs_id: str, subject: str, issued: str, effective: str | None
) -> JsonDict:
    """One FHIR R4 Observation for one interpreted lab result.

    Args:
        result: the interpreted result.
        obs_id: the Observation's uuid.
        subject: the patient's ``urn:uuid:`` reference.
        issued: the FHIR instant the result was released.
        effective: the collection time as FHIR dateTime, or None when unknown.

    Returns:
        The Observation as a JSON-ready dict (status final, category laboratory).
    """
    interp = terminology()["interpretation"]
    obs: JsonDict = {
        "resourceType": "Observation",
        "id": obs_id,
        "identifier": [_identifier(f"urn:uuid:{obs_id}")],
        "status": "final",
        "category": [
            {"coding": [_coding("observation_category", terminology()["observation_category"])]}
        ],
        "code": _code(result),
        "subject": {"reference": subject},
    }
    if effective is not None:
        obs["effectiveDateTime"] = effective
    obs["issued"] = issued
    obs.update(_value(result))
    flag = result.flag.value
    obs["interpretation"] = [
        {
            "coding": [{"system": system("interpretation"), "code": flag, "display": interp[flag]}],
            "text": interp[flag],
        }
    ]
    if result.significance is not Significance.NORMAL or result.note:
        note = f"Significance: {result.significance.value}."
        obs["note"] = [{"text": f"{note} {result.note}".strip()}]
    ranges = _reference_range(result)
    if ranges:
        obs["referenceRange"] = ranges
    return obs


def _patient(report: LabReport, pat_id: str, identifier_system: str | None) -> JsonDict:
    ident: JsonDict = {
        "use": "usual",
        "type": {"coding": [_coding("identifier_type", terminology()["patient_identifier_type"])]},
        "value": report.patient.patient_id,
    }
    if identifier_system:
        ident["system"] = identifier_system
    patient: JsonDict = {"resourceType": "Patient", "id": pat_id, "identifier": [ident]}
    if report.patient.name:
        patient["name"] = [{"text": report.patient.name}]
    patient["gender"] = report.patient.sex.value  # AdministrativeGender: male|female|unknown
    return patient


def _narrative(report: LabReport) -> JsonDict:
    items = "".join(
        f"<li><b>{escape(f.title)}</b>: {escape(f.explanation)}</li>"
        for f in report.summary.findings
    )
    div = f"<p>{escape(report.summary.headline)}</p>" + (f"<ul>{items}</ul>" if items else "")
    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{div}</div>'}


def _presented_form(pdf: bytes, title: str) -> JsonDict:
    # Attachment.hash is the base64 of the SHA-1 of the data (R4 2.24.0.6 Attachment).
    return {
        "contentType": "application/pdf",
        "data": base64.b64encode(pdf).decode("ascii"),
        "size": len(pdf),
        "hash": base64.b64encode(hashlib.sha1(pdf).digest()).decode("ascii"),
        "title": title,
    }


def lab_bundle(
    report: LabReport,
    *,
    document_id: str,
    pdf: bytes | None,
    issued: datetime,
    bundle_type: BundleType = "collection",
    patient_identifier_system: str | None = None,
    pdf_title: str = "Original laboratory report",
    validate: bool = True,
) -> JsonDict:
    """The FHIR R4 Bundle of one lab report.

    Args:
        report: the interpreted report.
        document_id: the document's id in medflow; seeds every uuid, so the same document
            gives the same Bundle.
        pdf: the original PDF, attached as ``DiagnosticReport.presentedForm``; None to omit.
        issued: when the results were released (``issued`` of every resource; naive = UTC).
        bundle_type: ``collection`` (a stored result) or ``transaction`` (conditional creates
            for posting to a FHIR server).
        patient_identifier_system: the hospital's MRN namespace URI, when known.
        pdf_title: the title of the attached PDF.
        validate: validate the result with fhir.resources (R4B models, see ``reports.fhir``).

    Returns:
        The Bundle as a JSON-ready dict: DiagnosticReport, Patient, then one Observation per
        result in printed order.

    Raises:
        FhirValidationError: ``validate`` is true and the Bundle does not validate.
    """
    pat_id = resource_uuid("patient", report.patient.patient_id)
    dr_id = resource_uuid(document_id, "diagnosticreport")
    subject = f"urn:uuid:{pat_id}"
    issued_s = fhir_datetime(issued)
    effective = fhir_datetime(report.collected_at) if report.collected_at else None
    observations = [
        observation(
            r,
            obs_id=resource_uuid(document_id, "observation", str(i)),
            subject=subject,
            issued=issued_s,
            effective=effective,
        )
        for i, r in enumerate(report.results)
    ]
    dr: JsonDict = {
        "resourceType": "DiagnosticReport",
        "id": dr_id,
        "text": _narrative(report),
        "identifier": [_identifier(f"urn:uuid:{dr_id}")],
        "status": "final",
        "category": [
            {"coding": [_coding("diagnostic_service_section", terminology()["report_category"])]}
        ],
        "code": {"coding": [_coding("loinc", terminology()["report_code"])]},
        "subject": {"reference": subject},
    }
    if effective is not None:
        dr["effectiveDateTime"] = effective
    dr["issued"] = issued_s
    if report.lab_name:
        dr["performer"] = [{"display": report.lab_name}]
    dr["result"] = [{"reference": f"urn:uuid:{o['id']}"} for o in observations]
    dr["conclusion"] = report.summary.text or report.summary.headline
    if report.summary.findings:
        # Our finding codes ("anemia.microcytic") belong to no published code system, so each
        # finding is a text-only CodeableConcept rather than a coding with an invented system.
        dr["conclusionCode"] = [{"text": f.title} for f in report.summary.findings]
    if pdf is not None:
        dr["presentedForm"] = [_presented_form(pdf, pdf_title)]
    patient = _patient(report, pat_id, patient_identifier_system)
    entries = [_entry(res, bundle_type) for res in (dr, patient, *observations)]
    bundle_id = resource_uuid(document_id, "bundle")
    bundle: JsonDict = {
        "resourceType": "Bundle",
        "id": bundle_id,
        "identifier": _identifier(f"urn:uuid:{bundle_id}"),
        "type": bundle_type,
        "timestamp": issued_s,
        "entry": entries,
    }
    if validate:
        validate_r4_bundle(_without_pdf_bytes(bundle))
    return bundle


def _without_pdf_bytes(bundle: JsonDict) -> JsonDict:
    """A copy of ``bundle`` whose attachments carry one byte instead of the whole PDF.

    The attachment's base64 comes from ``base64.b64encode`` and is valid by construction;
    decoding megabytes again inside validation would cost more than the rest of the Bundle.
    """
    entries = []
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if "presentedForm" in resource:
            forms = [{**form, "data": "AA=="} for form in resource["presentedForm"]]
            entry = {**entry, "resource": {**resource, "presentedForm": forms}}
        entries.append(entry)
    return {**bundle, "entry": entries}


def _entry(resource: JsonDict, bundle_type: BundleType) -> JsonDict:
    entry: JsonDict = {"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource}
    if bundle_type == "transaction":
        ident = resource["identifier"][0]
        token = f"{ident['system']}|{ident['value']}" if "system" in ident else ident["value"]
        # A server ignores the id of a created resource (R4 HTTP 3.1.0.4 create); the
        # urn:uuid fullUrl carries the references instead.
        entry["resource"] = {k: v for k, v in resource.items() if k != "id"}
        entry["request"] = {
            "method": "POST",
            "url": resource["resourceType"],
            "ifNoneExist": f"identifier={token}",
        }
    return entry
