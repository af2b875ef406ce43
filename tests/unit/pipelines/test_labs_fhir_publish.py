"""The FHIR Bundle the labs pipeline stores: configured patient system, codes from the KB."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from medflow.pipelines.labs import build_pipeline, result_key
from medflow.platform import Platform, Settings
from medflow.reports.fhir import validate_r4_bundle

SAMPLES = Path(str(resources.files("medflow.samples").joinpath("labs")))
META = {"patient_id": "P-9", "sex": "female", "age": "44"}


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    settings = Settings(
        data_dir=tmp_path,
        notify={"backend": "memory"},  # type: ignore[arg-type]
        labs={"fhir_patient_system": "urn:oid:2.16.840.1.113883.19.5"},  # type: ignore[arg-type]
    )
    with Platform(settings, pipelines=[build_pipeline()]) as p:
        yield p


def _bundle(platform: Platform, name: str) -> dict[str, Any]:
    eid = platform.ingest((SAMPLES / name).read_bytes(), name, "labs", META, "application/pdf")
    rec = platform.runner.wait(eid, timeout=300)
    assert rec.status == "succeeded", rec.error
    assert rec.document_id is not None
    raw = platform.services.store.get("results", result_key(rec.document_id, "fhir.json"))
    bundle: dict[str, Any] = json.loads(raw)
    return bundle


def test_stored_bundle_is_ready_for_a_fhir_server(platform: Platform) -> None:
    bundle = _bundle(platform, "uk-nhs-lab.pdf")
    validate_r4_bundle(bundle)
    resources_ = [e["resource"] for e in bundle["entry"]]
    (patient,) = [r for r in resources_ if r["resourceType"] == "Patient"]
    assert patient["identifier"][0]["system"] == "urn:oid:2.16.840.1.113883.19.5"
    (report,) = [r for r in resources_ if r["resourceType"] == "DiagnosticReport"]
    assert report["effectiveDateTime"] == "2026-08-03"  # printed as a date, kept a date
    assert report["code"]["coding"][0]["code"] == "50190-8"  # iron panel
    codes = {
        o["code"]["text"]: o["code"]["coding"][0]["code"]
        for o in resources_
        if o["resourceType"] == "Observation" and "hasMember" not in o
    }
    assert codes["Iron"] == "14798-3"  # umol/L: Iron [Moles/volume], not 2498-4
