"""Plain-language patient summary."""

from __future__ import annotations

from typing import Any

from medflow.analyzers.clinical import ClinicalExtractor
from medflow.analyzers.clinical.summary import flesch_kincaid_grade, patient_summary


def test_summary_says_what_was_found_and_how_to_take_medicines(
    extractor: ClinicalExtractor,
) -> None:
    text = (
        "HPI: 54 yo F with HTN. Denies chest pain.\n"
        "Medications: Lisinopril 10 mg PO daily. Albuterol 2 puffs q6h PRN.\n"
        "Allergies: Penicillin.\n"
        "Plan: Follow up in 2 weeks."
    )
    summary = patient_summary(extractor.extract(text), text)
    assert "You have high blood pressure." in summary.text
    assert "You do not have chest pain." in summary.text
    assert "Lisinopril: take 10 mg by mouth once a day." in summary.text
    assert "Albuterol: take 2 puffs every 6 hours when needed." in summary.text
    assert "allergic to penicillin" in summary.text
    assert "Follow up in 2 weeks." in summary.text
    assert "<h2>Your medicines</h2>" in summary.html


def test_summaries_of_the_fixture_notes_read_at_grade_8_or_below(
    extractor: ClinicalExtractor, gold: list[dict[str, Any]]
) -> None:
    notes = [r["text"] for r in gold if "\n" in r["text"]]
    assert notes
    for text in notes:
        assert patient_summary(extractor.extract(text), text).grade_level <= 8


def test_grade_level_rises_with_long_words_and_sentences() -> None:
    easy = "You have a cold. Drink water. Rest at home."
    hard = (
        "Pharmacological intervention necessitates comprehensive individualized "
        "considerations regarding contraindications and interactions."
    )
    assert flesch_kincaid_grade(easy) < 4 < 12 < flesch_kincaid_grade(hard)
