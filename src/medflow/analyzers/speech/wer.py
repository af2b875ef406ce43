"""Word error rate: transcripts normalised, then aligned word by word (Levenshtein).

WER = (substitutions + deletions + insertions) / reference words, the NIST sclite definition.
Both texts go through :class:`~medflow.analyzers.speech.normalizer.TextNormalizer` first (case,
punctuation, hyphens, numbers, dates, units, spellings), so that writing choices are not
counted as errors and figures compare with published normalised WERs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from medflow.analyzers.speech.normalizer import normalizer


def normalize_words(text: str, language: str = "en") -> list[str]:
    """Normalise a transcript into comparable words.

    Args:
        text: any transcript or reference text.
        language: ISO 639-1 code of the text (selects the number words and spellings).

    Returns:
        Lower-case words, punctuation removed, spelled numbers as digits.
    """
    return normalizer(language)(text)


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


def word_error_rate(reference: str, hypothesis: str, language: str = "en") -> WerResult:
    """Normalise both texts and align them.

    Args:
        reference: the true transcript.
        hypothesis: the recogniser's transcript.
        language: ISO 639-1 code of both texts.

    Returns:
        The counts; ``.wer`` is the rate.
    """
    return align(normalize_words(reference, language), normalize_words(hypothesis, language))


def raw_word_error_rate(reference: str, hypothesis: str) -> WerResult:
    """WER with only case and punctuation removed (no number, date or spelling folding): the
    figure an unnormalised comparison gives, printed beside the normalised one."""
    return align(_plain_words(reference), _plain_words(hypothesis))


def _plain_words(text: str) -> list[str]:
    return "".join(c if c.isalnum() or c.isspace() else " " for c in text.lower()).split()


def corpus_wer(pairs: Iterable[tuple[str, str]], language: str = "en") -> WerResult:
    """Pooled counts over many (reference, hypothesis) pairs: total errors / total words."""
    total = WerResult(0, 0, 0, 0)
    for ref, hyp in pairs:
        total = total + word_error_rate(ref, hyp, language)
    return total
