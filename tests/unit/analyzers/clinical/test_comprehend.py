"""Comprehend-shaped output: JSON-schema check and the accuracy targets on the gold set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

from medflow.analyzers.clinical import ClinicalExtractor, to_comprehend
from medflow.analyzers.clinical.evaluation import Scores, score_record

SCHEMA_PATH = Path(__file__).resolve().parents[4] / "tests/fixtures/clinical/comprehend_schema.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def test_output_matches_the_detect_entities_v2_schema(
    extractor: ClinicalExtractor, gold: list[dict[str, Any]]
) -> None:
    for record in gold:
        out = to_comprehend(extractor.extract(record["text"]))
        jsonschema.validate(out, SCHEMA)
        json.dumps(out)  # serialisable as is


def test_unmapped_attributes_validate(extractor: ClinicalExtractor) -> None:
    out = to_comprehend(extractor.extract("Take 2 tablets by mouth twice daily."))
    assert out["UnmappedAttributes"]
    assert out["UnmappedAttributes"][0]["Type"] == "MEDICATION"
    jsonschema.validate(out, SCHEMA)


def test_plain_mode_has_only_comprehend_keys(extractor: ClinicalExtractor) -> None:
    out = to_comprehend(extractor.extract("Lisinopril 10 mg daily for HTN."), concepts=False)
    keys = {k for e in out["Entities"] for k in e}
    assert keys <= {"Id", "BeginOffset", "EndOffset", "Score", "Text", "Category", "Type"} | {
        "Traits",
        "Attributes",
    }


def test_concepts_are_added_per_entity(extractor: ClinicalExtractor) -> None:
    out = to_comprehend(extractor.extract("Lisinopril 10 mg daily for HTN."))
    by_text = {e["Text"]: e for e in out["Entities"]}
    assert by_text["Lisinopril"]["RxNormConcepts"][0]["Code"] == "29046"
    assert by_text["HTN"]["ICD10CMConcepts"][0]["Code"] == "I10"


def test_gold_set_meets_the_issue_targets(
    extractor: ClinicalExtractor, gold: list[dict[str, Any]]
) -> None:
    scores = Scores()
    for record in gold:
        entities = to_comprehend(extractor.extract(record["text"]))["Entities"]
        score_record(record["entities"], entities, scores)
    assert scores.category["MEDICATION"].f1 >= 0.90
    assert scores.medication_attributes().f1 >= 0.90
    assert scores.category["MEDICAL_CONDITION"].f1 >= 0.85
    assert scores.negation_accuracy >= 0.90
    assert scores.category["PROTECTED_HEALTH_INFORMATION"].recall >= 0.95
