"""Vocabulary hints: the bundled list, sound-alike lookup in a draft, token budgets, prompts."""

from __future__ import annotations

from medflow.analyzers.speech.vocabulary import (
    VocabularyIndex,
    budget_terms,
    bundled_vocabulary,
    hint_text,
    initial_prompt,
    parse_vocabulary,
)


def test_bundled_vocabulary_has_drugs_and_terms_without_comments() -> None:
    terms = bundled_vocabulary()
    assert len(terms) >= 250
    assert {"metformin", "lisinopril", "apixaban", "hypertension"} <= set(terms)
    assert not any(t.startswith("#") for t in terms)


def test_parse_vocabulary_skips_comments_blanks_and_duplicates() -> None:
    lines = ["# source: x", "", "Metformin  # biguanide", "metformin", "insulin glargine"]
    assert parse_vocabulary(lines) == ("Metformin", "insulin glargine")


def test_misheard_drug_names_are_found_by_sound() -> None:
    index = VocabularyIndex(bundled_vocabulary())
    draft = "Continue met 4,500 milligrams. Start list in April 10 milligrams, addorvastatin 40."
    found = {m.term: m for m in index.find(draft)}
    assert {"metformin", "lisinopril", "atorvastatin"} <= set(found)
    assert found["lisinopril"].heard == "list in april"
    assert found["lisinopril"].score < 1.0


def test_a_draft_word_is_given_to_one_term_only() -> None:
    # "list in april" must not also produce enalapril from its "in april" part.
    index = VocabularyIndex(["lisinopril", "enalapril"])
    assert [m.term for m in index.find("start list in april today")] == ["lisinopril"]


def test_exact_words_are_not_turned_into_other_terms() -> None:
    index = VocabularyIndex(["milligrams", "micrograms"])
    found = index.find("500 milligrams then 250 milligrams")
    assert [m.term for m in found] == ["milligrams"]
    assert found[0].score == 1.0


def test_sound_alikes_rank_before_exact_hits() -> None:
    index = VocabularyIndex(["hypertension", "lisinopril"])
    found = index.find("hypertension, start list in april")
    assert [m.term for m in found] == ["lisinopril", "hypertension"]


def test_unrelated_text_finds_nothing() -> None:
    index = VocabularyIndex(bundled_vocabulary())
    assert index.find("the weather was lovely on the walk to the river") == []


def test_budget_keeps_order_drops_duplicates_and_stops_at_the_limit() -> None:
    def count(text: str) -> int:
        return len(text.split())

    kept = budget_terms(["apixaban", "Apixaban", "insulin glargine", "warfarin", "x y z"], 4, count)
    assert kept == ("apixaban", "insulin glargine", "warfarin")


def test_hint_text_and_prompt() -> None:
    assert hint_text(["metformin", "lisinopril"]) == "metformin, lisinopril"
    assert initial_prompt(["metformin"]) == "Clinical dictation. Terms: metformin."
    assert initial_prompt([]) == ""
