"""Word error rate: text normalisation and word-level Levenshtein alignment.

WER = (substitutions + deletions + insertions) / reference words, the NIST sclite definition.
Both texts are normalised first the way the Whisper paper's English normaliser does in spirit
(Radford et al. 2022, appendix C): case, punctuation and hyphens removed, spelled numbers turned
into digits ("fifty-eight" -> "58", "two point five" -> "2.5"), digit grouping commas dropped,
and a few spoken abbreviations expanded, so that formatting choices are not counted as errors.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_UNITS = {
    w: i
    for i, w in enumerate(
        [
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
    )
}
_TENS = {
    w: 10 * i
    for i, w in enumerate(
        ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"], 2
    )
}
_SCALES = {"thousand": 1_000, "million": 1_000_000}
# Written forms a speaker cannot be told apart from their spoken forms.
_EQUIVALENTS = {
    "mr": "mister",
    "mrs": "missus",
    "dr": "doctor",
    "mg": "milligrams",
    "mcg": "micrograms",
    "ml": "milliliters",
    "millilitres": "milliliters",
    "ok": "okay",
    "percent": "%",
}


def _parse_number(tokens: Sequence[str], i: int) -> tuple[str, int]:
    """Read one spelled number starting at ``tokens[i]``; return (digits, next index)."""
    total = current = 0
    last = ""
    j = i
    while j < len(tokens):
        w = tokens[j]
        if w in _UNITS:
            if last in ("unit", "teen") or (last == "tens" and _UNITS[w] >= 10):
                break  # "five five" is two numbers; "twenty twelve" too
            current += _UNITS[w]
            last = "teen" if _UNITS[w] >= 10 else "unit"
        elif w in _TENS:
            if last in ("unit", "tens", "teen"):
                break
            current += _TENS[w]
            last = "tens"
        elif w == "hundred" and last in ("unit", "teen"):
            current *= 100
            last = "hundred"
        elif w in _SCALES and last:
            total += max(current, 1) * _SCALES[w]
            current = 0
            last = "scale"
        else:
            break
        j += 1
    text = str(total + current)
    if j + 1 < len(tokens) and tokens[j] == "point" and tokens[j + 1] in _UNITS:
        digits = []
        j += 1
        while j < len(tokens) and tokens[j] in _UNITS and _UNITS[tokens[j]] < 10:
            digits.append(str(_UNITS[tokens[j]]))
            j += 1
        text += "." + "".join(digits)
    return text, j


def normalize_words(text: str) -> list[str]:
    """Normalise a transcript into comparable words.

    Args:
        text: any transcript or reference text.

    Returns:
        Lower-case words with punctuation removed and spelled numbers as digits.
    """
    t = text.lower().replace("’", "'")
    t = re.sub(r"(?<=\d),(?=\d{3})", "", t)  # 4,500 -> 4500
    t = re.sub(r"(?<=\d)\.(?=\d)", "<dot>", t)  # keep decimal points
    t = re.sub(r"(?<!\d)\.(?=\d)", "0<dot>", t)  # ".5" -> "0.5"
    t = re.sub(r"(?<=\d)%", " %", t)
    t = t.replace("'", "")
    # Sentence punctuation stays as a boundary token so "five, one" is not read as one number.
    t = re.sub(r"[.,;:!?]+", " , ", t)
    t = re.sub(r"[^a-z0-9<>%, ]+", " ", t).replace("<dot>", ".")
    tokens = [_EQUIVALENTS.get(w, w) for w in t.split()]
    out: list[str] = []
    i = 0
    while i < len(tokens):
        if tokens[i] in _UNITS or tokens[i] in _TENS:
            number, i = _parse_number(tokens, i)
            out.append(number)
        else:
            out.append(tokens[i])
            i += 1
    return [w for w in out if w != ","]


@dataclass(frozen=True)
class WerResult:
    """Alignment counts between a reference and a hypothesis.

    Attributes:
        substitutions, deletions, insertions: edit counts of the minimal alignment.
        reference_words: words in the normalised reference.
    """

    substitutions: int
    deletions: int
    insertions: int
    reference_words: int

    @property
    def errors(self) -> int:
        """Total edits."""
        return self.substitutions + self.deletions + self.insertions

    @property
    def wer(self) -> float:
        """Errors per reference word (0.0 for two empty texts, 1.0 per word for an empty ref)."""
        if self.reference_words == 0:
            return 0.0 if self.errors == 0 else float(self.errors)
        return self.errors / self.reference_words

    def __add__(self, other: WerResult) -> WerResult:
        return WerResult(
            self.substitutions + other.substitutions,
            self.deletions + other.deletions,
            self.insertions + other.insertions,
            self.reference_words + other.reference_words,
        )


def align(reference: Sequence[str], hypothesis: Sequence[str]) -> WerResult:
    """Minimal word-level edit alignment (Levenshtein, unit costs) between two word lists."""
    # Each cell holds (cost, substitutions, deletions, insertions); one row kept at a time.
    prev = [(j, 0, 0, j) for j in range(len(hypothesis) + 1)]
    for i, ref_word in enumerate(reference, 1):
        row = [(i, 0, i, 0)]
        for j, hyp_word in enumerate(hypothesis, 1):
            diag = prev[j - 1]
            if ref_word == hyp_word:
                best = diag
            else:
                sub = (diag[0] + 1, diag[1] + 1, diag[2], diag[3])
                up, left = prev[j], row[j - 1]
                dele = (up[0] + 1, up[1], up[2] + 1, up[3])
                ins = (left[0] + 1, left[1], left[2], left[3] + 1)
                best = min(sub, dele, ins)
            row.append(best)
        prev = row
    _, s, d, n = prev[-1]
    return WerResult(s, d, n, len(reference))


def word_error_rate(reference: str, hypothesis: str) -> WerResult:
    """Normalise both texts and align them.

    Args:
        reference: the true transcript.
        hypothesis: the recogniser's transcript.

    Returns:
        The counts; ``.wer`` is the rate.
    """
    return align(normalize_words(reference), normalize_words(hypothesis))


def corpus_wer(pairs: Iterable[tuple[str, str]]) -> WerResult:
    """Pooled counts over many (reference, hypothesis) pairs: total errors / total words."""
    total = WerResult(0, 0, 0, 0)
    for ref, hyp in pairs:
        total = total + word_error_rate(ref, hyp)
    return total
