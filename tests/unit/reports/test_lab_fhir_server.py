"""The lab Bundle for FHIR servers: identifier system, molar LOINC, panels, dates, OCR, sources.

Reports here are interpreted by the real analyzer from printed rows, so the codes come from the
knowledge base as they would in production; the US Core Laboratory Result Observation profile's
required elements are asserted on every Observation.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from medflow.analyzers.labs.analyzer import LabAnalyzer
from medflow.analyzers.labs.kb import KnowledgeBase, default_kb
from medflow.domain.labs import LabReport, RawLabRow
from medflow.domain.patient import PatientInfo, Sex
from medflow.reports.fhir import validate_r4_bundle
from medflow.reports.fhir_labs import DEFAULT_PATIENT_IDENTIFIER_SYSTEM, OCR_NOTE, lab_bundle

ISSUED = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
PATIENT = PatientInfo(patient_id="MRN-7", sex=Sex.FEMALE, age=52)
LOINC = "http://loinc.org"


def _row(name: str, value: str, unit: str = "", rng: str = "", *, ocr: bool = False) -> RawLabRow:
    return RawLabRow(name=name, value_text=value, unit_text=unit, range_text=rng, ocr=ocr)


CBC = [
    _row("Haemoglobin", "13.1", "g/dL", "12.0-15.5"),
    _row("WBC", "6.2", "10^3/uL", "4.0-11.0"),
    _row("RBC", "4.5", "10^6/uL", "4.1-5.1"),
    _row("Platelets", "250", "10^3/uL", "150-400"),
    _row("MCV", "88", "fL", "80-100"),
]
UK_CHEMISTRY = [
    _row("Total cholesterol", "5.95", "mmol/L"),
    _row("HDL cholesterol", "1.4", "mmol/L"),
    _row("Triglycerides", "1.6", "mmol/L"),
    _row("Serum creatinine", "80", "umol/L"),
    _row("Plasma glucose", "6.6", "mmol/L"),
    _row("Serum urea", "5.0", "mmol/L"),
]


def _report(
    rows: list[RawLabRow], collected: datetime | None = None, kb: KnowledgeBase | None = None
) -> LabReport:
    analyzer = LabAnalyzer(ocr=False)
    if kb is not None:
        analyzer.kb = kb
    return analyzer.interpret(rows, PATIENT, collected_at=collected)


def _bundle(report: LabReport, **kw: Any) -> dict[str, Any]:
    kw.setdefault("coding", default_kb())
    return lab_bundle(report, document_id="doc-1", pdf=None, issued=ISSUED, **kw)


def _of(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def _results(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [o for o in _of(bundle, "Observation") if "hasMember" not in o]


def _by_text(bundle: dict[str, Any], text: str) -> dict[str, Any]:
    (found,) = [o for o in _results(bundle) if o["code"].get("text") == text]
    return found


def test_patient_identifier_has_a_default_and_a_configured_system() -> None:
    report = _report(CBC)
    (patient,) = _of(_bundle(report), "Patient")
    assert patient["identifier"][0]["system"] == DEFAULT_PATIENT_IDENTIFIER_SYSTEM
    assert patient["identifier"][0]["value"] == "MRN-7"
    bundle = _bundle(report, patient_identifier_system="urn:oid:2.16.840.1.113883.19.5")
    (patient,) = _of(bundle, "Patient")
    assert patient["identifier"][0]["system"] == "urn:oid:2.16.840.1.113883.19.5"


def test_patient_system_is_configurable_in_settings() -> None:
    from medflow.platform.config import LabsSettings

    assert LabsSettings().fhir_patient_system == DEFAULT_PATIENT_IDENTIFIER_SYSTEM
    assert LabsSettings(fhir_patient_system="urn:oid:1.2.3").fhir_patient_system == "urn:oid:1.2.3"
    with pytest.raises(ValueError, match="fhir_patient_system"):
        LabsSettings(fhir_patient_system="not a uri")


@pytest.mark.parametrize(
    ("name", "loinc", "unit"),
    [
        ("Total cholesterol", "14647-2", "mmol/L"),
        ("HDL cholesterol", "14646-4", "mmol/L"),
        ("Triglycerides", "14927-8", "mmol/L"),
        ("Creatinine", "14682-9", "umol/L"),
        ("Glucose", "14749-6", "mmol/L"),
        ("Urea", "22664-7", "mmol/L"),
    ],
)
def test_molar_results_carry_the_molar_loinc(name: str, loinc: str, unit: str) -> None:
    bundle = _bundle(_report(UK_CHEMISTRY))
    obs = _by_text(bundle, default_kb().get(default_kb().match(name).id).name)  # type: ignore[union-attr]
    assert obs["code"]["coding"][0] == {"system": LOINC, "code": loinc}
    assert obs["valueQuantity"]["code"] == unit


def test_mass_results_keep_the_mass_loinc() -> None:
    rows = [_row("Total cholesterol", "230", "mg/dL"), _row("Creatinine", "0.9", "mg/dL")]
    bundle = _bundle(_report(rows))
    codes = {o["code"]["text"]: o["code"]["coding"][0]["code"] for o in _results(bundle)}
    assert codes == {"Cholesterol, total": "2093-3", "Creatinine": "2160-0"}


def test_without_the_knowledge_base_the_result_code_is_kept() -> None:
    bundle = _bundle(_report(UK_CHEMISTRY), coding=None)
    obs = _by_text(bundle, "Creatinine")
    assert obs["code"]["coding"][0]["code"] == "2160-0"
    (dr,) = _of(bundle, "DiagnosticReport")
    assert dr["code"]["coding"][0]["code"] == "11502-2"


def test_one_panel_codes_the_report_and_groups_its_results() -> None:
    bundle = _bundle(_report(CBC))
    (dr,) = _of(bundle, "DiagnosticReport")
    assert dr["code"]["coding"][0]["code"] == "58410-2"
    (panel,) = [o for o in _of(bundle, "Observation") if "hasMember" in o]
    assert panel["code"]["coding"][0]["code"] == "58410-2"
    members = {m["reference"] for m in panel["hasMember"]}
    assert members == {f"urn:uuid:{o['id']}" for o in _results(bundle)}
    assert "valueQuantity" not in panel


def test_several_panels_keep_the_generic_report_code() -> None:
    bundle = _bundle(_report(CBC + UK_CHEMISTRY))
    (dr,) = _of(bundle, "DiagnosticReport")
    assert dr["code"]["coding"][0]["code"] == "11502-2"
    grouped = [o for o in _of(bundle, "Observation") if "hasMember" in o]
    panels = {o["code"]["coding"][0]["code"] for o in grouped}
    assert panels == {"58410-2", "24331-1"}
    # the report's results stay its direct results, panels aside
    assert len(dr["result"]) == len(CBC) + len(UK_CHEMISTRY)


def test_cmp_supersedes_bmp_and_hepatic() -> None:
    names = ["Sodium", "Potassium", "Chloride", "Bicarbonate", "BUN", "Creatinine", "Glucose"]
    names += ["Calcium", "Albumin", "Total protein", "ALT", "AST", "ALP", "Total bilirubin"]
    kb = default_kb()
    ids = {kb.match(n).id for n in names}  # type: ignore[union-attr]
    assert [p.loinc for p in kb.panels_for(ids)] == ["24323-8"]
    bmp_only = {kb.match(n).id for n in names[:8]}  # type: ignore[union-attr]
    assert [p.loinc for p in kb.panels_for(bmp_only)] == ["51990-0"]


def test_a_printed_date_without_time_stays_a_date() -> None:
    bundle = _bundle(_report(CBC, collected=datetime(2026, 3, 14, tzinfo=UTC)))
    (dr,) = _of(bundle, "DiagnosticReport")
    assert dr["effectiveDateTime"] == "2026-03-14"
    assert {o["effectiveDateTime"] for o in _of(bundle, "Observation")} == {"2026-03-14"}
    validate_r4_bundle(bundle)
    timed = _bundle(_report(CBC, collected=datetime(2026, 3, 14, 7, 45, tzinfo=UTC)))
    assert _of(timed, "DiagnosticReport")[0]["effectiveDateTime"] == "2026-03-14T07:45:00+00:00"
    forced = _bundle(_report(CBC, collected=datetime(2026, 3, 14, tzinfo=UTC)), date_only=False)
    assert _of(forced, "DiagnosticReport")[0]["effectiveDateTime"].startswith("2026-03-14T00:00")


def test_ocr_values_are_marked() -> None:
    rows = [_row("Haemoglobin", "13.1", "g/dL", "12.0-15.5", ocr=True), *CBC[1:]]
    bundle = _bundle(_report(rows))
    hb = _by_text(bundle, "Hemoglobin")
    assert OCR_NOTE in [n["text"] for n in hb["note"]]
    wbc = _by_text(bundle, "White blood cell count")
    assert OCR_NOTE not in [n["text"] for n in wbc.get("note", [])]


def test_range_source_is_recorded() -> None:
    rows = [_row("Haemoglobin", "13.1", "g/dL", "12.0-15.5"), _row("Ferritin", "40", "ng/mL")]
    bundle = _bundle(_report(rows))
    printed = _by_text(bundle, "Hemoglobin")["referenceRange"][0]
    assert printed["text"] == "12.0-15.5 (printed on the report)"
    assert printed["extension"][0]["valueString"] == "printed on the report"
    kb_range = _by_text(bundle, "Ferritin")["referenceRange"][0]
    source = kb_range["extension"][0]["valueString"]
    assert "knowledge base" in source and default_kb().source_of("ferritin") in source
    assert kb_range["text"].endswith(f"({source})")


def test_lab_configuration_is_named_as_the_source() -> None:
    override = {"ferritin": {"ranges": [{"range": "20-200"}]}}
    kb = KnowledgeBase.load({"lab": "Acme", "tests": override})
    bundle = _bundle(_report([_row("Ferritin", "40", "ng/mL")], kb=kb), coding=kb)
    rng = _by_text(bundle, "Ferritin")["referenceRange"][0]
    source = rng["extension"][0]["valueString"]
    assert "configur" in source and "Acme" in source


def _assert_us_core_lab(obs: dict[str, Any], subject: str, effective: bool) -> None:
    """US Core Laboratory Result Observation (6.1): the required elements and us-core-2."""
    assert obs["status"] in {"registered", "preliminary", "final", "amended", "corrected"}
    categories = [c for cat in obs["category"] for c in cat["coding"]]
    assert {
        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
        "code": "laboratory",
        "display": "Laboratory",
    } in categories
    assert obs["code"].get("coding") or obs["code"].get("text")
    assert obs["subject"]["reference"] == subject
    if effective:
        assert "effectiveDateTime" in obs
    has_value = any(k.startswith("value") for k in obs) or "dataAbsentReason" in obs
    assert has_value or obs.get("hasMember") or obs.get("component")  # us-core-2
    for quantity in [obs.get("valueQuantity")] + [
        r.get(k) for r in obs.get("referenceRange", []) for k in ("low", "high")
    ]:
        if quantity and "code" in quantity:
            assert quantity["system"] == "http://unitsofmeasure.org"


@pytest.mark.parametrize("collected", [None, datetime(2026, 3, 14, tzinfo=UTC)])
def test_every_observation_meets_us_core_lab_required_elements(collected: datetime | None) -> None:
    rows = CBC + UK_CHEMISTRY + [_row("Urine protein", "Positive"), _row("Sodium", "")]
    report = _report(rows, collected=collected)
    for kind in ("collection", "transaction"):
        bundle = _bundle(report, bundle_type=kind)
        validate_r4_bundle(bundle)
        (patient,) = _of(bundle, "Patient")
        subject = next(e["fullUrl"] for e in bundle["entry"] if e["resource"] is patient)
        observations = _of(bundle, "Observation")
        assert len(observations) > len(report.results)  # results plus panels
        for obs in observations:
            _assert_us_core_lab(obs, subject, effective=collected is not None)
        (dr,) = _of(bundle, "DiagnosticReport")
        assert dr["status"] == "final" and dr["subject"]["reference"] == subject
        assert all(i["system"] for i in patient["identifier"])


def test_spanish_result_words_are_coded_in_snomed() -> None:
    rows = [RawLabRow(name="Nitritos", value_text="Negativo", section="SISTEMÁTICO DE ORINA")]
    bundle = _bundle(_report(rows))
    (obs,) = _results(bundle)
    assert obs["code"]["coding"][0]["code"] == default_kb().get("urine_nitrite").loinc
    assert obs["valueCodeableConcept"]["coding"][0]["code"] == "260385009"
    assert obs["valueCodeableConcept"]["text"] == "Negativo"
