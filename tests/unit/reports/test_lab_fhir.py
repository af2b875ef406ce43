"""The FHIR R4 lab Bundle: validity, determinism, value kinds, and the shape of HL7's examples."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from medflow.domain.labs import LabReport
from medflow.reports.fhir import FhirValidationError, validate_r4_bundle
from medflow.reports.fhir_labs import lab_bundle

EXAMPLES = Path("/work/shared/data/fhir-examples")
ISSUED = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
PDF = b"%PDF-1.4\n% synthetic lab report\n%%EOF\n"
UCUM = "http://unitsofmeasure.org"
INTERP = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"


def _bundle(report: LabReport, **kw: Any) -> dict[str, Any]:
    kw.setdefault("pdf", PDF)
    return lab_bundle(report, document_id="doc-123", issued=ISSUED, **kw)


def _resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def _obs(bundle: dict[str, Any], text: str) -> dict[str, Any]:
    (found,) = [o for o in _resources(bundle, "Observation") if o["code"]["text"] == text]
    return found


def test_bundles_validate_against_the_r4_models(
    full_report: LabReport, normal_report: LabReport
) -> None:
    for report in (full_report, normal_report):
        for kind in ("collection", "transaction"):
            bundle = _bundle(report, bundle_type=kind, validate=False)
            validate_r4_bundle(bundle)
            assert bundle["type"] == kind


def test_one_observation_per_result_referenced_by_the_report(full_report: LabReport) -> None:
    bundle = _bundle(full_report)
    (report,) = _resources(bundle, "DiagnosticReport")
    (patient,) = _resources(bundle, "Patient")
    observations = _resources(bundle, "Observation")
    assert len(observations) == len(full_report.results)
    full_urls = {e["fullUrl"] for e in bundle["entry"]}
    assert all(u.startswith("urn:uuid:") for u in full_urls)
    assert [r["reference"] for r in report["result"]] == [
        f"urn:uuid:{o['id']}" for o in observations
    ]
    patient_url = f"urn:uuid:{patient['id']}"
    assert {o["subject"]["reference"] for o in observations} == {patient_url}
    assert report["subject"]["reference"] == patient_url
    assert patient["identifier"][0]["value"] == "MRN-0042"
    assert patient["gender"] == "female"


def test_same_document_gives_the_same_bundle(full_report: LabReport) -> None:
    first = json.dumps(_bundle(full_report), sort_keys=True)
    assert first == json.dumps(_bundle(full_report), sort_keys=True)
    other = lab_bundle(full_report, document_id="doc-999", pdf=PDF, issued=ISSUED)
    ids = {e["resource"]["id"] for e in _bundle(full_report)["entry"]}
    other_ids = {e["resource"]["id"] for e in other["entry"]}
    # Only the Patient (keyed by the patient id, not the document) is shared.
    assert len(ids & other_ids) == 1


def test_diagnostic_report_fields(full_report: LabReport) -> None:
    (report,) = _resources(_bundle(full_report), "DiagnosticReport")
    assert report["status"] == "final"
    assert report["category"][0]["coding"][0] == {
        "system": "http://terminology.hl7.org/CodeSystem/v2-0074",
        "code": "LAB",
        "display": "Laboratory",
    }
    assert report["code"]["coding"][0]["code"] == "11502-2"
    assert report["effectiveDateTime"] == "2026-03-14T08:30:00+00:00"
    assert report["issued"] == "2026-03-14T12:00:00+00:00"
    assert report["conclusion"] == full_report.summary.text
    assert report["performer"] == [{"display": "Example Diagnostics"}]
    assert report["conclusionCode"] == [
        {"text": "Hyperkalemia (critical)"},
        {"text": "Microcytic anemia"},
    ]


def test_presented_form_is_the_original_pdf_with_sha1(full_report: LabReport) -> None:
    (report,) = _resources(_bundle(full_report), "DiagnosticReport")
    (form,) = report["presentedForm"]
    assert form["contentType"] == "application/pdf"
    assert base64.b64decode(form["data"]) == PDF
    assert form["hash"] == base64.b64encode(hashlib.sha1(PDF).digest()).decode()
    assert form["size"] == len(PDF)
    (without,) = _resources(_bundle(full_report, pdf=None), "DiagnosticReport")
    assert "presentedForm" not in without


def test_numeric_critical_value(full_report: LabReport) -> None:
    obs = _obs(_bundle(full_report), "Potassium")
    assert obs["code"]["coding"] == [{"system": "http://loinc.org", "code": "2823-3"}]
    assert obs["category"][0]["coding"][0]["code"] == "laboratory"
    assert obs["valueQuantity"] == {
        "value": 6.9,
        "unit": "mmol/L",
        "system": UCUM,
        "code": "mmol/L",
    }
    assert obs["interpretation"][0]["coding"][0] == {
        "system": INTERP,
        "code": "HH",
        "display": "Critical high",
    }
    (rr,) = obs["referenceRange"]
    assert rr["low"]["value"] == 3.5
    assert rr["high"] == {"value": 5.1, "unit": "mmol/L", "system": UCUM, "code": "mmol/L"}
    assert "critical" in obs["note"][0]["text"]


def test_censored_value_keeps_its_comparator(full_report: LabReport) -> None:
    obs = _obs(_bundle(full_report), "C-reactive protein")
    assert obs["valueQuantity"]["comparator"] == "<"
    assert obs["valueQuantity"]["value"] == 0.5
    assert obs["referenceRange"][0]["high"]["value"] == 5.0
    assert "low" not in obs["referenceRange"][0]


def test_qualitative_value_is_coded_in_snomed(full_report: LabReport) -> None:
    obs = _obs(_bundle(full_report), "Protein, urine (dipstick)")
    assert "valueQuantity" not in obs
    assert obs["valueCodeableConcept"]["coding"][0]["code"] == "10828004"
    assert obs["valueCodeableConcept"]["text"] == "Positive"
    assert obs["interpretation"][0]["coding"][0]["code"] == "A"
    (rr,) = obs["referenceRange"]
    assert rr["text"] == "Negative (printed on the report)"
    assert rr["extension"][0]["valueString"] == "printed on the report"


def test_unknown_qualitative_word_is_a_string(full_report: LabReport) -> None:
    result = full_report.results[-2].model_copy(update={"value_text": "Cloudy"})
    report = full_report.model_copy(update={"results": (result,)})
    obs = _resources(_bundle(report), "Observation")[0]
    assert obs["valueString"] == "Cloudy"


def test_unknown_test_has_text_only_code(full_report: LabReport) -> None:
    obs = _obs(_bundle(full_report), "Lp-PLA2 activity")
    assert "coding" not in obs["code"]
    assert obs["valueQuantity"]["code"] == "nmol/min/mL"


def test_one_sided_range_and_normal_value_without_note(full_report: LabReport) -> None:
    bundle = _bundle(full_report)
    hdl = _obs(bundle, "HDL cholesterol")
    assert hdl["referenceRange"][0]["low"]["value"] == 40.0
    assert "high" not in hdl["referenceRange"][0]
    wbc = _obs(bundle, "WBC")
    assert "note" not in wbc
    assert wbc["interpretation"][0]["coding"][0]["code"] == "N"


def test_transaction_entries_are_conditional_creates(full_report: LabReport) -> None:
    bundle = _bundle(
        full_report, bundle_type="transaction", patient_identifier_system="urn:oid:1.2.3"
    )
    for entry in bundle["entry"]:
        request = entry["request"]
        assert request["method"] == "POST"
        assert request["url"] == entry["resource"]["resourceType"]
        assert request["ifNoneExist"].startswith("identifier=")
        assert "id" not in entry["resource"]
    patient_entry = bundle["entry"][1]
    assert patient_entry["request"]["ifNoneExist"] == "identifier=urn:oid:1.2.3|MRN-0042"


def test_naive_times_are_written_in_utc(normal_report: LabReport) -> None:
    bundle = lab_bundle(normal_report, document_id="d", pdf=None, issued=datetime(2026, 1, 2, 3, 4))
    (report,) = _resources(bundle, "DiagnosticReport")
    assert report["issued"] == "2026-01-02T03:04:00+00:00"
    assert "effectiveDateTime" not in report
    (patient,) = _resources(bundle, "Patient")
    assert "name" not in patient


def test_invalid_bundle_is_refused_with_the_location() -> None:
    broken = {
        "resourceType": "Bundle",
        "id": "b1",
        "type": "collection",
        "entry": [{"fullUrl": "urn:uuid:x", "resource": {"resourceType": "Observation"}}],
    }
    with pytest.raises(FhirValidationError, match=r"b1 is invalid at entry\.0\.resource"):
        validate_r4_bundle(broken)


def _keys(node: Any) -> Any:
    """The nested key structure of a JSON value (lists reduced to their first element)."""
    if isinstance(node, dict):
        return {k: _keys(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_keys(node[0])] if node else []
    return None


def _is_subset(small: Any, big: Any) -> bool:
    if isinstance(small, dict):
        return isinstance(big, dict) and all(
            k in big and _is_subset(v, big[k]) for k, v in small.items()
        )
    if isinstance(small, list):
        return isinstance(big, list) and (not small or (bool(big) and _is_subset(small[0], big[0])))
    return True


def test_shape_matches_the_official_hl7_examples(full_report: LabReport) -> None:
    example = json.loads((EXAMPLES / "diagnosticreport-example-f001-bloodexam.json").read_text())
    glucose = json.loads((EXAMPLES / "observation-example-f001-glucose.json").read_text())
    validate_r4_bundle(example)
    bundle = _bundle(full_report)
    assert bundle["type"] == example["type"]
    ours = _resources(bundle, "DiagnosticReport")[0]
    theirs = example["entry"][0]["resource"]
    for key in ("status", "category", "code", "issued", "result", "conclusion"):
        assert _is_subset(_keys(theirs[key]), _keys(ours[key])), key
    # The example names the patient in subject.display; we keep names out of references.
    assert "reference" in ours["subject"]
    assert ours["code"]["coding"][0]["system"] == theirs["code"]["coding"][0]["system"]
    assert (
        ours["category"][0]["coding"][0]["system"] == theirs["category"][0]["coding"][1]["system"]
    )
    obs = _obs(bundle, "Glucose, fasting")
    for key in ("valueQuantity", "interpretation", "referenceRange", "status"):
        assert _is_subset(_keys(glucose[key]), _keys(obs[key])), key
    assert obs["valueQuantity"]["system"] == glucose["valueQuantity"]["system"]
    assert obs["code"]["coding"][0]["system"] == glucose["code"]["coding"][0]["system"]
    assert (
        obs["interpretation"][0]["coding"][0]["system"]
        == glucose["interpretation"][0]["coding"][0]["system"]
    )
    assert obs["interpretation"][0]["coding"][0]["code"] == "H"


def test_unitless_value_has_a_bare_quantity(full_report: LabReport) -> None:
    sodium = full_report.results[4]
    inr = sodium.model_copy(
        update={
            "test_id": "inr",
            "loinc": "6301-6",
            "name": "INR",
            "value": 1.1,
            "unit": "",
            "printed_unit": "",
            "reference_range": sodium.reference_range.model_copy(
                update={"low": 0.8, "high": 1.2, "text": ""}
            )
            if sodium.reference_range
            else None,
        }
    )
    bundle = _bundle(full_report.model_copy(update={"results": (inr,)}))
    obs = _obs(bundle, "INR")
    assert obs["valueQuantity"] == {"value": 1.1}
    (rr,) = obs["referenceRange"]
    assert (rr["low"], rr["high"]) == ({"value": 0.8}, {"value": 1.2})


def test_converted_value_never_shows_the_printed_unit(full_report: LabReport) -> None:
    glucose = full_report.results[7].model_copy(update={"printed_unit": "mmol/L"})
    bundle = _bundle(full_report.model_copy(update={"results": (glucose,)}))
    quantity = _obs(bundle, "Glucose, fasting")["valueQuantity"]
    assert (quantity["unit"], quantity["code"]) == ("mg/dL", "mg/dL")
    potassium = full_report.results[5].model_copy(update={"printed_unit": "mmol/l"})
    bundle = _bundle(full_report.model_copy(update={"results": (potassium,)}))
    assert _obs(bundle, "Potassium")["valueQuantity"]["unit"] == "mmol/l"


def test_validation_leaves_the_returned_pdf_whole(full_report: LabReport) -> None:
    big = PDF * 5000
    (report,) = _resources(_bundle(full_report, pdf=big), "DiagnosticReport")
    assert base64.b64decode(report["presentedForm"][0]["data"]) == big
