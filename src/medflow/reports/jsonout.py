"""The lab report as JSON: the domain model's own dump, with a schema name and version.

Shape (``schema_version`` 1)::

    {
      "schema": "medflow.lab-report",
      "schema_version": 1,
      "document_id": "..." | null,
      "patient":   {patient_id, name, sex, age, doctor_email, patient_email},
      "results":   [{test_id, loinc, name, printed_name, value, comparator, value_text, unit,
                     printed_unit, reference_range: {low, high, text, source, applies_to,
                     source_detail} | null,
                     flag: N|L|H|LL|HH|A,
                     significance: normal|noise|significant|critical|review,
                     deviation, critical_low, critical_high, section, row: {...}, note,
                     printed_flag, flag_disagreement, review_reason}],
      "unrecognized": [{name, value_text, unit_text, range_text, ...}],
      "summary":   {headline, findings: [{code, title, severity, explanation, evidence, guideline}],
                    noise: [...], trends: [...], text, narrative, narrative_provider,
                    complete, unread, held, warnings: [...]},
      "lab_name": str, "collected_at": ISO 8601 | null,
      "extraction": {pages, text_pages, ocr_pages, engine, warnings},
      "language": "" | ISO 639-1 code
    }

``significance: review`` marks a value held for review (implausible as read; ``review_reason``
says why); ``summary.complete`` is false whenever the summary must not be read as complete.

The full JSON Schema is :func:`lab_json_schema`. A change that removes or renames a field bumps
``schema_version``; adding a field does not.
"""

from __future__ import annotations

from typing import Any

from medflow.domain.labs import LabReport

SCHEMA_NAME = "medflow.lab-report"
SCHEMA_VERSION = 1


def lab_json(report: LabReport, *, document_id: str | None = None) -> dict[str, Any]:
    """The report as a JSON-ready dict (``json.dumps`` works on it as is).

    Args:
        report: the interpreted report.
        document_id: medflow's id of the source document, when known.

    Returns:
        ``schema``, ``schema_version`` and ``document_id`` followed by every field of
        :class:`~medflow.domain.labs.LabReport` dumped in JSON mode (enums as their values,
        datetimes as ISO 8601 strings, tuples as lists).
    """
    body = report.model_dump(mode="json")
    return {
        "schema": SCHEMA_NAME,
        "schema_version": SCHEMA_VERSION,
        "document_id": document_id,
        **body,
    }


def lab_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of :func:`lab_json`'s output."""
    schema = LabReport.model_json_schema(mode="serialization")
    schema["properties"] = {
        "schema": {"const": SCHEMA_NAME},
        "schema_version": {"const": SCHEMA_VERSION},
        "document_id": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        **schema["properties"],
    }
    schema["required"] = ["schema", "schema_version", *schema.get("required", [])]
    schema["title"] = "medflow lab report"
    return schema


def lab_report_from_json(data: dict[str, Any]) -> LabReport:
    """Read back a report written by :func:`lab_json`.

    Raises:
        ValueError: the data is not a ``medflow.lab-report`` of a version this code reads, or
            does not match the model (pydantic's ``ValidationError`` is a ``ValueError``).
    """
    if data.get("schema") != SCHEMA_NAME or data.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(
            f"not a {SCHEMA_NAME} version {SCHEMA_VERSION} document "
            f"(schema={data.get('schema')!r}, version={data.get('schema_version')!r})"
        )
    body = {k: v for k, v in data.items() if k not in ("schema", "schema_version", "document_id")}
    return LabReport.model_validate(body)
