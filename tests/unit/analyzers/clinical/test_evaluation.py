"""The scorer used by benchmarks/clinical_accuracy.py."""

from __future__ import annotations

from medflow.analyzers.clinical.evaluation import Scores, score_record


def _e(b: int, e: int, cat: str, traits: list[str], attrs: list[dict] | None = None) -> dict:
    return {
        "BeginOffset": b,
        "EndOffset": e,
        "Category": cat,
        "Type": "X",
        "Traits": traits,
        "Attributes": attrs or [],
    }


def test_overlap_match_counts_and_negation_agreement() -> None:
    gold = [
        _e(0, 10, "MEDICAL_CONDITION", ["NEGATION"]),
        _e(20, 25, "MEDICATION", [], [{"Type": "DOSAGE", "BeginOffset": 26, "EndOffset": 32}]),
    ]
    system = [
        _e(5, 10, "MEDICAL_CONDITION", [{"Name": "NEGATION", "Score": 0.9}]),
        _e(20, 25, "MEDICATION", [], [{"Type": "DOSAGE", "BeginOffset": 26, "EndOffset": 30}]),
        _e(40, 45, "MEDICATION", []),
    ]
    scores = Scores()
    score_record(gold, system, scores)
    assert scores.category["MEDICAL_CONDITION"].tp == 1
    assert scores.category_exact["MEDICAL_CONDITION"].tp == 0
    med = scores.category["MEDICATION"]
    assert (med.tp, med.fp, med.fn) == (1, 1, 0)
    assert scores.attribute["DOSAGE"].tp == 1
    assert scores.trait["NEGATION"].tp == 1
    assert scores.negation_accuracy == 1.0
    assert round(med.f1, 3) == 0.667
