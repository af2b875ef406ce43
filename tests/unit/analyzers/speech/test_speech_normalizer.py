"""The transcript normaliser: writing choices compare equal, real recognition errors do not."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medflow.analyzers.speech.normalizer import TextNormalizer, normalizer
from medflow.analyzers.speech.wer import normalize_words, raw_word_error_rate, word_error_rate

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def spell(n: int, *, hyphen: bool, and_: bool) -> str:
    """English words for 0 <= n < 1,000,000, written independently of the code under test."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (("-" if hyphen else " ") + _ONES[ones] if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        tail = (" and " if and_ else " ") + spell(rest, hyphen=hyphen, and_=and_) if rest else ""
        return f"{_ONES[hundreds]} hundred{tail}"
    thousands, rest = divmod(n, 1000)
    tail = " " + spell(rest, hyphen=hyphen, and_=and_) if rest else ""
    return f"{spell(thousands, hyphen=hyphen, and_=and_)} thousand{tail}"


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=999_999), st.booleans(), st.booleans())
def test_any_spelled_english_number_becomes_its_digits(n: int, hyphen: bool, and_: bool) -> None:
    words = spell(n, hyphen=hyphen, and_=and_)
    assert normalize_words(f"take {words} tablets") == ["take", str(n), "tablets"], words


@pytest.mark.parametrize(
    ("written", "spoken"),
    [
        ("A 34-year-old woman.", "a thirty-four-year-old woman"),
        ("A 34-year-old woman.", "A thirty four year old woman"),
        ("Metformin 500mg twice daily", "metformin five hundred milligrams twice daily"),
        ("Metformin 500 mg b.i.d.", "Metformin 500 milligram BID"),
        ("Seen on March 3rd, 2024.", "seen on march third twenty twenty-four"),
        ("Seen on 3/3/2024.", "Seen on March 3, 2024."),
        ("Seen on 2024-03-03.", "seen on march 3rd 2024"),
        ("Born in 1984.", "born in nineteen eighty-four"),
        ("In 2005 she had surgery", "in two thousand and five she had surgery"),
        ("Take it at 8:00 a.m.", "take it at eight o'clock AM"),
        ("Dose at 8:30 pm", "dose at eight thirty p.m."),
        ("Give 0.5 mg", "give zero point five milligrams"),
        ("Give .5 mg", "give zero point five mg"),
        ("INR 2.5", "INR two point five"),
        ("Oxygen saturation 95%.", "oxygen saturation ninety-five per cent"),
        ("1,200 mL", "twelve hundred milliliters"),
        ("one hundred and five", "105"),
        ("He doesn't smoke and won't stop.", "he does not smoke and will not stop"),
        ("Haemoglobin and oedema", "hemoglobin and edema"),
        ("Um, the patient [inaudible] is, uh, stable.", "The patient is stable."),
        ("Follow-up with Dr. Smith.", "follow up with doctor smith"),
        ("the 21st day", "the twenty-first day"),
    ],
)
def test_writing_choices_are_not_counted_as_errors(written: str, spoken: str) -> None:
    assert normalize_words(written) == normalize_words(spoken), (written, spoken)
    assert word_error_rate(written, spoken).wer == 0.0


@pytest.mark.parametrize(
    ("reference", "hypothesis", "errors"),
    [
        ("fifty milligrams", "fifteen milligrams", 1),  # a misheard number is an error
        ("five five", "fifty five", 2),  # two numbers are not one
        ("thirteen five", "eighteen", 2),  # "thirteen five" is not 18
        ("metformin 500 mg", "metoprolol 500 mg", 1),
        ("2.5 mg", "25 mg", 1),  # a lost decimal point is an error
        ("march 3 2024", "march 4 2024", 1),
        ("no chest pain", "chest pain", 1),
    ],
)
def test_real_recognition_errors_are_still_counted(
    reference: str, hypothesis: str, errors: int
) -> None:
    assert word_error_rate(reference, hypothesis).errors == errors


def test_punctuation_keeps_neighbouring_numbers_apart() -> None:
    assert normalize_words("five, one") == ["5", "1"]
    assert normalize_words("twenty, twenty four") == ["20", "24"]  # not a year across a comma


def test_ambiguous_numeric_dates_follow_the_language_order() -> None:
    # US English reads 3/4/2024 as March 4; a first field over 12 can only be a day.
    assert normalize_words("3/4/2024") == ["march", "4", "2024"]
    assert normalize_words("14/3/2024") == ["march", "14", "2024"]
    assert normalize_words("3/4/2024", "es") == ["3", "abril", "2024"]  # Spanish: day first


def test_spanish_numbers_and_units() -> None:
    es = normalizer("es")
    assert es("Paciente de cincuenta y ocho años") == ["paciente", "de", "58", "años"]
    assert es("quinientos miligramos") == es("500 mg") == ["500", "miligramos"]
    assert es("doscientos treinta y cinco") == ["235"]
    assert es("dos mil veinticuatro") == ["2024"]
    assert es("mil") == ["1000"]
    assert es("¿Dolor torácico? No.") == ["dolor", "torácico", "no"]
    assert es("hipertensión y diabetes") == ["hipertensión", "y", "diabetes"]  # "y" not a number
    assert es("el 50 % de") == es("el cincuenta por ciento de")
    # Whisper writes "treinta y cuatro" as "30 y 4" or "34"; "dos y tres" stays two numbers.
    assert es("mujer de 30 y 4 años") == ["mujer", "de", "34", "años"]
    assert es("mujer de treinta y cuatro años") == ["mujer", "de", "34", "años"]
    assert es("dos y tres") == ["2", "y", "3"]
    assert es("ciento y cinco") == ["100", "y", "5"]
    # English joins with "and" only after hundreds: "one hundred and five" is 105.
    assert normalize_words("between 20 and 5") == ["between", "20", "and", "5"]
    assert normalize_words("twenty and five") == ["20", "and", "5"]


def test_accents_are_words_in_spanish() -> None:
    # "año" (year) and "ano" (anus) are different words: accents are kept, not folded.
    assert word_error_rate("un año", "un ano", "es").errors == 1


def test_a_language_without_tables_gets_case_and_punctuation_only() -> None:
    fr = TextNormalizer("fr")
    assert fr("Le patient, 58 ans.") == ["le", "patient", "58", "ans"]
    assert fr("cinquante-huit") == ["cinquante", "huit"]


def test_english_number_words_are_not_read_in_another_language() -> None:
    assert normalize_words("five", "es") == ["five"]


def test_normalised_wer_is_lower_than_raw_on_formatting_only_differences() -> None:
    ref = "A 72 year old woman takes 5 mg twice daily."
    hyp = "A seventy-two-year-old woman takes five milligrams twice daily"
    assert word_error_rate(ref, hyp).wer == 0.0
    assert raw_word_error_rate(ref, hyp).wer > 0.3
