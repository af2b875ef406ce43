"""Medical vocabulary hints: the bundled term list, picking the terms a recording needs, budgets.

Whisper accepts at most 223 prompt tokens (half its 448-token context), so a 300-term lexicon
cannot be passed whole, and measured here a long hint list also slows beam search several-fold.
The hints are therefore chosen per recording: a fast draft transcript is searched for word spans
that *sound like* a lexicon term (a misheard drug name keeps its first sound and most of its
letters: "list in april" for lisinopril, "and or master" for atorvastatin), and only those terms,
plus any the caller names, are sent as hints for the final decode.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import cache
from importlib import resources

from medflow.analyzers.speech.wer import normalize_words

#: Default hint budget in model tokens, well inside Whisper's 223-token limit. Hints cost time:
#: 36 drug names (182 tokens) made beam search 5-8x slower, and on 3-7 s clips even ~100 tokens
#: tripled the CPU time. On the bundled dictations the prior at 48/64/96 tokens gave 27.1 / 22.1 /
#: 23.6 % WER (no hints: 33.7 %), so 64.
DEFAULT_HINT_TOKENS = 64

# First letters that a misrecognition commonly swaps (c/k/s, f/ph, g/j, vowels).
_SOUND_GROUPS = ("aeiouy", "cksqxz", "fpv", "gj", "bd", "mn", "tl", "hw", "r")
_SPAN_PENALTY = 0.05  # extra similarity asked per additional draft word in a span
_DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
_SOUND_RULES = (
    (r"ph", "f"),
    (r"ck", "k"),
    (r"c(?=[aou])", "k"),
    (r"z", "s"),
    (r"(?<=.)y", "i"),
    (r"(.)\1+", r"\1"),
)


def _group(letter: str) -> str:
    for group in _SOUND_GROUPS:
        if letter in group:
            return group
    return letter


def _key(text: str) -> str:
    """A rough sound key: letters only, lower case, a number as its first digit's word, and
    spellings of one sound merged (ph/f, ck/k, c/k before a/o/u, z/s, y/i, doubled letters)
    so that "met 4500" -> "metfour" and "sefalexin" ~ "cephalexin"."""
    words = [_DIGIT_WORDS[int(w[0])] if w[0].isdigit() else w for w in text.lower().split() if w]
    key = re.sub(r"[^a-z]", "", "".join(words))
    for pattern, repl in _SOUND_RULES:
        key = re.sub(pattern, repl, key)
    return key


@cache
def bundled_vocabulary() -> tuple[str, ...]:
    """The terms of ``vocabulary.txt`` shipped with this package (sources named in its header)."""
    text = resources.files(__package__).joinpath("vocabulary.txt").read_text("utf-8")
    return parse_vocabulary(text.splitlines())


def parse_vocabulary(lines: Iterable[str]) -> tuple[str, ...]:
    """Read terms, one a line, ignoring blank lines and ``#`` comments; duplicates dropped."""
    seen: dict[str, str] = {}
    for line in lines:
        term = line.split("#", 1)[0].strip()
        if term and term.lower() not in seen:
            seen[term.lower()] = term
    return tuple(seen.values())


@dataclass(frozen=True)
class TermMatch:
    """A lexicon term found (exactly or by sound) in a draft transcript.

    Attributes:
        term: the lexicon term.
        heard: the draft's words that matched it.
        score: similarity 0..1 (1.0: the term was heard exactly).
    """

    term: str
    heard: str
    score: float


class VocabularyIndex:
    """A lexicon indexed by first sound and length for fast fuzzy lookup of draft spans.

    Args:
        terms: the lexicon.
        threshold: the least similarity (difflib ratio of letter keys) that counts as a match.
        max_span: the most draft words joined to match one term.
    """

    def __init__(self, terms: Sequence[str], threshold: float = 0.66, max_span: int = 3) -> None:
        self.terms = tuple(terms)
        self.threshold = threshold
        self.max_span = max_span
        self._by_group: dict[str, list[tuple[str, str]]] = {}
        for term in self.terms:
            key = _key(term)
            if len(key) >= 4:  # short terms ("MRI", "units") match too much by chance
                self._by_group.setdefault(_group(key[0]), []).append((key, term))

    def find(self, draft: str) -> list[TermMatch]:
        """Lexicon terms that the draft transcript contains or resembles.

        Candidate spans of 1..``max_span`` words are scored against every term of the same first
        sound and similar length; then spans are taken best first, each draft word and each term
        used once, so "list in april" yields lisinopril and not also enalapril from "in april".

        Args:
            draft: a transcript (any casing and punctuation).

        Returns:
            The matches: sound-alikes (score < 1) first, best first, then exact hits.
        """
        words = normalize_words(draft)
        candidates: list[tuple[float, str, int, int]] = []
        for i in range(len(words)):
            for span in range(1, min(self.max_span, len(words) - i) + 1):
                heard = _key(" ".join(words[i : i + span]))
                if len(heard) < 3:
                    continue
                for key, term in self._by_group.get(_group(heard[0]), ()):
                    if not 0.6 <= len(heard) / len(key) <= 1.5:
                        continue
                    score = 1.0 if heard == key else SequenceMatcher(None, heard, key).ratio()
                    # Joined short words match long terms by chance more often: ask more of them.
                    if score >= self.threshold + _SPAN_PENALTY * (span - 1):
                        candidates.append((score, term, i, i + span))
        candidates.sort(key=lambda c: (-c[0], c[3] - c[2], c[1]))
        used_words: set[int] = set()
        chosen: dict[str, TermMatch] = {}
        for score, term, start, end in candidates:
            span_words = set(range(start, end))
            if span_words & used_words:
                continue
            if term in chosen:
                if score == 1.0:  # a word heard exactly as a term is not another term
                    used_words |= span_words
                continue
            used_words |= span_words
            chosen[term] = TermMatch(term, " ".join(words[start:end]), round(score, 3))
        return sorted(chosen.values(), key=lambda m: (m.score == 1.0, -m.score, m.term))


def estimate_tokens(text: str) -> int:
    """Rough BPE token count (about 3 characters a token for drug names) when no tokenizer."""
    return max(1, round(len(text) / 3))


def budget_terms(
    terms: Iterable[str],
    max_tokens: int = DEFAULT_HINT_TOKENS,
    count_tokens: Callable[[str], int] = estimate_tokens,
) -> tuple[str, ...]:
    """Keep terms in order, without duplicates, while their joined text fits the token budget.

    Args:
        terms: candidate terms, most important first.
        max_tokens: the budget.
        count_tokens: the model tokenizer's counter (an estimate by default).

    Returns:
        The terms that fit.
    """
    kept: list[str] = []
    seen: set[str] = set()
    for term in terms:
        clean = " ".join(term.split())
        if not clean or clean.lower() in seen:
            continue
        if count_tokens(hint_text([*kept, clean])) > max_tokens:
            continue
        kept.append(clean)
        seen.add(clean.lower())
    return tuple(kept)


def hint_text(terms: Sequence[str]) -> str:
    """The hint string passed to the engine: terms joined by commas ("metformin, lisinopril")."""
    return ", ".join(terms)


def initial_prompt(terms: Sequence[str]) -> str:
    """A Whisper ``initial_prompt`` that reads like the start of a clinical note naming the terms.

    Whisper continues the style of its prompt (OpenAI Whisper prompting guide), so a prompt in
    the register of a dictated note also nudges it toward clinical spelling and digits for doses.
    """
    if not terms:
        return ""
    return f"Clinical dictation. Terms: {hint_text(terms)}."
