"""Word error rate: normalisation and Levenshtein alignment."""

from __future__ import annotations

import pytest

from medflow.analyzers.speech.wer import (
    WerResult,
    align,
    corpus_wer,
    normalize_words,
    word_error_rate,
)


def test_identical_texts_have_zero_wer() -> None:
    assert word_error_rate("Start metformin today.", "start metformin today").wer == 0.0


def test_counts_each_edit_kind() -> None:
    result = align(["a", "b", "c", "d"], ["a", "x", "c", "d", "e"])
    assert (result.substitutions, result.deletions, result.insertions) == (1, 0, 1)
    assert result.wer == pytest.approx(2 / 4)
    deleted = align(["a", "b", "c", "d"], ["a", "d"])
    assert (deleted.substitutions, deleted.deletions, deleted.insertions) == (0, 2, 0)


def test_alignment_is_minimal_not_positional() -> None:
    # A shifted hypothesis is one insertion, not a cascade of substitutions.
    assert align(["b", "c", "d", "e"], ["a", "b", "c", "d", "e"]).errors == 1


def test_empty_reference_and_hypothesis() -> None:
    assert word_error_rate("", "").wer == 0.0
    assert word_error_rate("", "noise words").wer == 2.0
    assert word_error_rate("two words", "").wer == 1.0


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Patient is a 58-year-old male.", ["patient", "is", "a", "58", "year", "old", "male"]),
        ("fifty eight year old", ["58", "year", "old"]),
        ("metformin 4,500 mg", ["metformin", "4500", "milligrams"]),
        ("two point five milligrams", ["2.5", "milligrams"]),
        ("give .5 mg", ["give", "0.5", "milligrams"]),
        ("one hundred twenty five", ["125"]),
        ("one thousand two hundred", ["1200"]),
        ("five five", ["5", "5"]),
        ("zero point five, one tablet", ["0.5", "1", "tablet"]),
        ("Mr. Dashwood's", ["mister", "dashwoods"]),
        ("Hemoglobin A1C", ["hemoglobin", "a1c"]),
    ],
)
def test_normalisation(text: str, words: list[str]) -> None:
    assert normalize_words(text) == words


def test_formatting_differences_are_not_errors() -> None:
    ref = "He is fifty eight years old and takes two point five milligrams of warfarin"
    hyp = "He is 58 years old, and takes 2.5 mg of Warfarin."
    assert word_error_rate(ref, hyp).wer == 0.0


def test_corpus_wer_pools_counts() -> None:
    pooled = corpus_wer([("a b c d", "a b c d"), ("a b", "a x")])
    assert pooled == WerResult(1, 0, 0, 6)
    assert pooled.wer == pytest.approx(1 / 6)
