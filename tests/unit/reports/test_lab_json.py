"""The JSON result: a stable, versioned dump that reads back to the same report."""

from __future__ import annotations

import json

import jsonschema
import pytest

from medflow.domain.labs import LabReport
from medflow.reports.jsonout import (
    SCHEMA_VERSION,
    lab_json,
    lab_json_schema,
    lab_report_from_json,
)


def test_round_trip_through_json_text(full_report: LabReport) -> None:
    data = json.loads(json.dumps(lab_json(full_report, document_id="doc-1")))
    assert data["schema"] == "medflow.lab-report"
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["document_id"] == "doc-1"
    assert lab_report_from_json(data) == full_report


def test_enums_and_values_are_plain_json(full_report: LabReport) -> None:
    data = lab_json(full_report)
    potassium = next(r for r in data["results"] if r["test_id"] == "potassium")
    assert potassium["flag"] == "HH"
    assert potassium["significance"] == "critical"
    assert potassium["reference_range"]["low"] == 3.5
    crp = next(r for r in data["results"] if r["test_id"] == "crp")
    assert crp["comparator"] == "<"
    assert data["collected_at"] == "2026-03-14T08:30:00Z"
    assert data["summary"]["findings"][0]["severity"] == "critical"


def test_output_matches_the_published_schema(
    full_report: LabReport, normal_report: LabReport
) -> None:
    schema = lab_json_schema()
    for report in (full_report, normal_report):
        jsonschema.validate(lab_json(report), schema)
    broken = lab_json(full_report)
    del broken["schema_version"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_other_documents_are_refused(full_report: LabReport) -> None:
    data = lab_json(full_report)
    data["schema_version"] = 99
    with pytest.raises(ValueError, match="version 1"):
        lab_report_from_json(data)
