"""A lab report as a FHIR R4 Bundle: Patient, DiagnosticReport and one Observation per result.

Shape follows the HL7 FHIR R4 examples ``diagnosticreport-example-f001-bloodexam`` and
``observation-example-f001-glucose``: LOINC codes (``http://loinc.org``), UCUM quantities
(``http://unitsofmeasure.org``), v3-ObservationInterpretation codes, referenceRange low/high as
UCUM quantities. Ids are uuid5 of the document id, so the same document always renders the same
Bundle, and references are ``urn:uuid:`` full URLs resolved inside the Bundle (R4 Bundle
3.3.1.4.1 "Resolving references in Bundles").

For servers (US Core Laboratory Result Observation: status, category ``laboratory``, code,
subject, effective[x] when known, value[x] or dataAbsentReason): the Patient identifier always
carries a ``system`` (the hospital's MRN namespace, ``urn:medflow:patient-id`` by default); a
result in a molar unit is coded with the molar LOINC term (cholesterol in mmol/L is 14647-2, not
2093-3) and the report with its panel's code (CBC 58410-2, CMP 24323-8...) when a
:class:`LabCoding` (the labs knowledge base) is given; a printed collection date without a time
stays a FHIR ``date``; a value read by OCR says so in a note; each reference range names where it
came from (printed on the report, the lab's configuration, or the knowledge base and its source).

Bundle type: ``collection`` by default — the Bundle is a stored result, a set of resources with
no processing instructions, as in the f001 example. ``transaction`` is offered for posting to a
FHIR server: every entry is a conditional create (``ifNoneExist`` on its identifier, R4 HTTP
3.1.0.8.1), so posting the same document twice creates nothing new.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Collection, Sequence
from datetime import datetime, time
from html import escape
from typing import Literal, Protocol

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

DEFAULT_PATIENT_IDENTIFIER_SYSTEM = "urn:medflow:patient-id"
"""The Patient identifier namespace when the site configures none (``labs.fhir_patient_system``)."""

OCR_NOTE = "Value read by OCR from a scanned page; check it against the original report."


class Panel(Protocol):
    """A LOINC order panel as the knowledge base describes it."""

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def loinc(self) -> str: ...

    @property
    def members(self) -> tuple[str, ...]: ...


class LabCoding(Protocol):
    """What the Bundle needs from the labs knowledge base (``KnowledgeBase`` satisfies it)."""

    def loinc_for(self, test_id: str, ucum: str) -> str | None:
        """The LOINC code of ``test_id`` for a result in ``ucum`` (molar or mass term)."""

    def range_source(self, test_id: str) -> str:
        """Where the knowledge base's range for ``test_id`` comes from, in words."""

    def panels_for(self, test_ids: Collection[str]) -> Sequence[Panel]:
        """The order panels a report with these tests holds."""


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


def _range_source(result: LabResult, coding: LabCoding | None) -> str:
    ref = result.reference_range
    assert ref is not None
    if ref.source_detail:  # set by interpretation, as the page and the email show it
        return ref.source_detail
    if ref.source == "report":
        return "printed on the report"
    cited = coding.range_source(result.test_id) if coding and result.test_id else ""
    if ref.source == "lab_config":
        return cited if cited.startswith("laboratory configuration") else "laboratory configuration"
    return f"knowledge base: {cited}" if cited else "knowledge base"


def _reference_range(result: LabResult, coding: LabCoding | None = None) -> list[JsonDict]:
    ref = result.reference_range
    if ref is None:
        return []
    source = _range_source(result, coding)
    out: JsonDict = {
        "extension": [{"url": terminology()["extensions"]["range_source"], "valueString": source}]
    }
    if ref.low is not None:
        out["low"] = _quantity(ref.low, result)
    if ref.high is not None:
        out["high"] = _quantity(ref.high, result)
    if ref.applies_to:
        out["appliesTo"] = [{"text": ref.applies_to}]
    out["text"] = f"{ref.text} ({source})" if ref.text else f"({source})"
    # Invariant obs-3: a referenceRange needs at least a low, a high or a text.
    return [out] if {"low", "high", "text"} & out.keys() else []


def _code(result: LabResult, coding: LabCoding | None = None) -> JsonDict:
    loinc = result.loinc
    if coding is not None and result.test_id:
        # the term for the unit the value is in: mass and molar results have different codes
        loinc = coding.loinc_for(result.test_id, result.unit) or loinc
    if loinc:
        # Coding.display must be the code system's display; we hold our own name, not the
        # LOINC long common name, so it goes in CodeableConcept.text.
        return {"coding": [{"system": system("loinc"), "code": loinc}], "text": result.name}
    return {"text": result.printed_name or result.name}


def _effective(effective: str | None) -> JsonDict:
    # effectiveDateTime is a FHIR dateTime, which admits a bare date ("2026-03-14")
    return {} if effective is None else {"effectiveDateTime": effective}


def _observation(
    obs_id: str, code: JsonDict, subject: str, effective: str | None, issued: str
) -> JsonDict:
    """The parts every lab Observation of a bundle shares: identity, status final, category
    laboratory, code, subject, effective and issued times."""
    return {
        "resourceType": "Observation",
        "id": obs_id,
        "identifier": [_identifier(f"urn:uuid:{obs_id}")],
        "status": "final",
        "category": [
            {"coding": [_coding("observation_category", terminology()["observation_category"])]}
        ],
        "code": code,
        "subject": {"reference": subject},
        **_effective(effective),
        "issued": issued,
    }


def observation(
    result: LabResult,
    *,
    obs_id: str,
    subject: str,
    issued: str,
    effective: str | None,
    coding: LabCoding | None = None,
) -> JsonDict:
    """One FHIR R4 Observation for one interpreted lab result.

    Args:
        result: the interpreted result.
        obs_id: the Observation's uuid.
        subject: the patient's ``urn:uuid:`` reference.
        issued: the FHIR instant the result was released.
        effective: the collection time as FHIR dateTime (or date), or None when unknown.
        coding: the knowledge base, for the LOINC term of the result's unit and the source of
            its range; None: the result's own LOINC code.

    Returns:
        The Observation as a JSON-ready dict (status final, category laboratory).
    """
    interp = terminology()["interpretation"]
    obs = _observation(obs_id, _code(result, coding), subject, effective, issued)
    obs.update(_value(result))
    flag = result.flag.value
    obs["interpretation"] = [
        {
            "coding": [{"system": system("interpretation"), "code": flag, "display": interp[flag]}],
            "text": interp[flag],
        }
    ]
    notes = []
    if result.significance is not Significance.NORMAL or result.note:
        note = f"Significance: {result.significance.value}."
        notes.append({"text": f"{note} {result.note}".strip()})
    if result.row.ocr:
        notes.append({"text": OCR_NOTE})
    for correction in result.row.corrections:
        notes.append({"text": f"OCR reading corrected: {correction}."})
    if notes:
        obs["note"] = notes
    ranges = _reference_range(result, coding)
    if ranges:
        obs["referenceRange"] = ranges
    return obs


def _patient(report: LabReport, pat_id: str, identifier_system: str) -> JsonDict:
    ident: JsonDict = {
        "use": "usual",
        "type": {"coding": [_coding("identifier_type", terminology()["patient_identifier_type"])]},
        "system": identifier_system,
        "value": report.patient.patient_id,
    }
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
    coding: LabCoding | None = None,
    date_only: bool | None = None,
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
        patient_identifier_system: the hospital's MRN namespace URI;
            :data:`DEFAULT_PATIENT_IDENTIFIER_SYSTEM` when None or empty.
        pdf_title: the title of the attached PDF.
        validate: validate the result with fhir.resources (R4B models, see ``reports.fhir``).
        coding: the labs knowledge base: molar/mass LOINC terms by unit, panel codes, range
            sources. None: each result's own LOINC code and the generic report code.
        date_only: whether ``report.collected_at`` is a date without a time of day (written
            as a FHIR ``date``); None: a collection time of exactly midnight is read as a date
            (the report header prints dates, not times).

    Returns:
        The Bundle as a JSON-ready dict: DiagnosticReport, Patient, then one Observation per
        result in printed order, then one panel Observation (``hasMember``) per order panel
        found.

    Raises:
        FhirValidationError: ``validate`` is true and the Bundle does not validate.
    """
    pat_id = resource_uuid("patient", report.patient.patient_id)
    dr_id = resource_uuid(document_id, "diagnosticreport")
    subject = f"urn:uuid:{pat_id}"
    issued_s = fhir_datetime(issued)
    effective = _collection(report.collected_at, date_only)
    observations = [
        observation(
            r,
            obs_id=resource_uuid(document_id, "observation", str(i)),
            subject=subject,
            issued=issued_s,
            effective=effective,
            coding=coding,
        )
        for i, r in enumerate(report.results)
    ]
    panels = _panels(report, observations, coding, document_id, subject, issued_s, effective)
    dr: JsonDict = {
        "resourceType": "DiagnosticReport",
        "id": dr_id,
        "text": _narrative(report),
        "identifier": [_identifier(f"urn:uuid:{dr_id}")],
        "status": "final",
        "category": [
            {"coding": [_coding("diagnostic_service_section", terminology()["report_category"])]}
        ],
        "code": _report_code(panels),
        "subject": {"reference": subject},
        **_effective(effective),
    }
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
    patient = _patient(
        report, pat_id, patient_identifier_system or DEFAULT_PATIENT_IDENTIFIER_SYSTEM
    )
    panel_obs = [obs for obs, _ in panels]
    entries = [_entry(res, bundle_type) for res in (dr, patient, *observations, *panel_obs)]
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


def _collection(collected: datetime | None, date_only: bool | None) -> str | None:
    """The collection moment as FHIR ``date`` (no time printed) or ``dateTime``."""
    if collected is None:
        return None
    if date_only is None:
        date_only = collected.timetz().replace(tzinfo=None) == time(0, 0)
    return collected.date().isoformat() if date_only else fhir_datetime(collected)


def _panels(
    report: LabReport,
    observations: list[JsonDict],
    coding: LabCoding | None,
    document_id: str,
    subject: str,
    issued: str,
    effective: str | None,
) -> list[tuple[JsonDict, Panel]]:
    """One panel Observation per order panel the report holds, grouping its members.

    A panel has no value of its own: ``hasMember`` points to the results (US Core us-core-2
    accepts an Observation with members in place of a value).
    """
    if coding is None:
        return []
    ids = [r.test_id for r in report.results]
    out = []
    for panel in coding.panels_for({i for i in ids if i}):
        members = [
            {"reference": f"urn:uuid:{obs['id']}"}
            for test_id, obs in zip(ids, observations, strict=True)
            if test_id in panel.members
        ]
        obs_id = resource_uuid(document_id, "panel", panel.id)
        code = {
            "coding": [{"system": system("loinc"), "code": panel.loinc, "display": panel.name}],
            "text": panel.name,
        }
        panel_obs = _observation(obs_id, code, subject, effective, issued)
        panel_obs["hasMember"] = members
        out.append((panel_obs, panel))
    return out


def _report_code(panels: list[tuple[JsonDict, Panel]]) -> JsonDict:
    """The report's code: its panel when it holds exactly one, else "Laboratory report"."""
    if len(panels) == 1:
        _, panel = panels[0]
        coded = {"system": system("loinc"), "code": panel.loinc, "display": panel.name}
        return {"coding": [coded], "text": panel.name}
    return {"coding": [_coding("loinc", terminology()["report_code"])]}


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
