"""Codes for entities: ICD-10-CM for conditions, RxNorm ingredient RxCUIs for medications.

ICD-10-CM comes from ``simple-icd-10-cm`` 1.5.0 (MIT; bundles the CDC/NCHS FY2026 release,
public domain): codes, descriptions and hierarchy, but no text search. At load we build our own
small index: normalised description -> code, and word -> codes for a best-overlap fallback.
Our abbreviation/synonym table (``data/conditions.csv``) is tried first. RxNorm codes come from
``data/rxnorm_ingredients.csv`` (see its header).
"""

from __future__ import annotations

import re
import warnings
from collections import defaultdict

from medflow.domain.clinical import Concept
from medflow.errors import DependencyMissingError

_PAREN = re.compile(r"\s*\([^)]*\)")
_SUFFIX = re.compile(r",?\s*(?:unspecified|not elsewhere classified|nos)\b.*$")
_WORD = re.compile(r"[a-z0-9']+")
_FILLER = frozenset({"of", "the", "and", "or", "with", "without", "in", "to", "a", "an", "other"})


def normalise_description(description: str) -> str:
    """Lower-case an ICD-10-CM description and drop qualifiers a note never writes.

    Args:
        description: e.g. ``"Essential (primary) hypertension"``.

    Returns:
        e.g. ``"essential hypertension"``.
    """
    text = _PAREN.sub("", description.lower())
    text = _SUFFIX.sub("", text)
    return " ".join(_WORD.findall(text))


class Icd10Index:
    """Text -> ICD-10-CM concepts, built once from simple-icd-10-cm."""

    def __init__(self, synonyms: dict[str, str]) -> None:
        """Build the index.

        Args:
            synonyms: our own surface form (lower case) -> code table, tried first.

        Raises:
            DependencyMissingError: simple-icd-10-cm is not installed.
        """
        try:
            with warnings.catch_warnings():
                # simple-icd-10-cm imports the deprecated pkg_resources API.
                warnings.simplefilter("ignore")
                import simple_icd_10_cm as icd
        except ModuleNotFoundError as exc:
            raise DependencyMissingError("ICD-10-CM coding", "nlp", "simple-icd-10-cm") from exc
        self._icd = icd
        self._synonyms = dict(synonyms)
        self._exact: dict[str, str] = {}
        self._by_word: dict[str, set[str]] = defaultdict(set)
        self._words: dict[str, frozenset[str]] = {}
        # Results are frozen and notes repeat their terms; bounded by the vocabulary in practice.
        self._cache: dict[tuple[str, int], tuple[Concept, ...]] = {}
        for code in icd.get_all_codes(with_dots=True):
            if icd.is_chapter_or_block(code):
                continue
            norm = normalise_description(icd.get_description(code))
            if not norm:
                continue
            known = self._exact.get(norm)
            if known is None or len(code) < len(known):
                self._exact[norm] = code
            words = frozenset(w for w in norm.split() if w not in _FILLER)
            self._words[code] = words
            for w in words:
                self._by_word[w].add(code)

    def condition_terms(self) -> dict[str, str]:
        """Return terms to find conditions by (see ``icd_terms.py``), each also made codable.

        Returns:
            Normalised term -> ICD-10-CM code: descriptions, inclusion terms and "includes"
            notes of chapters A-R, filtered by ``data/icd10cm_terms.yaml``.
        """
        from medflow.analyzers.clinical.icd_terms import condition_terms

        terms = condition_terms(self._icd)
        for term, code in terms.items():
            self._exact.setdefault(term, code)  # "lethargy" codes as R53.83, not by overlap
        return terms

    def short_terms(self, max_words: int = 3) -> dict[str, str]:
        """Return normalised descriptions short enough to appear verbatim in notes.

        Args:
            max_words: longest description kept.

        Returns:
            description -> code.
        """
        return {
            d: c
            for d, c in self._exact.items()
            if len(d.split()) <= max_words and len(d) >= 5 and not any(ch.isdigit() for ch in d)
        }

    def description(self, code: str) -> str:
        """Return the official description of a code.

        Args:
            code: an ICD-10-CM code with its dot.

        Returns:
            The description, or ``""`` for an unknown code.
        """
        return str(self._icd.get_description(code)) if self._icd.is_valid_item(code) else ""

    def is_valid(self, code: str) -> bool:
        """Tell whether a code exists in the bundled release.

        Args:
            code: an ICD-10-CM code with its dot.

        Returns:
            True when it exists.
        """
        return bool(self._icd.is_valid_item(code))

    def lookup(self, text: str, limit: int = 3) -> tuple[Concept, ...]:
        """Code a condition's text.

        Args:
            text: the entity text (any case).
            limit: most concepts returned.

        Returns:
            Concepts, best first; empty when nothing fits well enough.
        """
        cache_key = (text, limit)
        if cache_key not in self._cache:
            self._cache[cache_key] = self._lookup(text, limit)
        return self._cache[cache_key]

    def _lookup(self, text: str, limit: int) -> tuple[Concept, ...]:
        key = " ".join(_WORD.findall(text.lower()))
        code = self._synonyms.get(text.strip()) or self._synonyms.get(key)
        if code:
            return (Concept(code=code, description=self.description(code), score=0.95),)
        code = self._exact.get(key)
        if code:
            return (Concept(code=code, description=self.description(code), score=0.9),)
        words = frozenset(w for w in key.split() if w not in _FILLER)
        if not words:
            return ()
        candidates: set[str] = set()
        for w in words:
            candidates |= self._by_word.get(w, set())
        scored: list[tuple[float, int, str]] = []
        for cand in candidates:
            cwords = self._words[cand]
            jaccard = len(words & cwords) / len(words | cwords)
            if jaccard >= 0.5:
                scored.append((jaccard, -len(cand), cand))
        scored.sort(reverse=True)
        return tuple(
            Concept(code=c, description=self.description(c), score=round(0.8 * s, 3))
            for s, _, c in scored[:limit]
        )


class RxNormIndex:
    """Generic ingredient name -> RxNorm ingredient concept."""

    def __init__(self, table: dict[str, str]) -> None:
        """Keep the table.

        Args:
            table: ingredient name (lower case) -> RxCUI.
        """
        self._table = dict(table)

    def lookup(self, generic: str) -> tuple[Concept, ...]:
        """Code a medication by its generic name (a salt falls back to its base ingredient).

        Args:
            generic: generic name, any case ("metoprolol tartrate" -> metoprolol).

        Returns:
            Zero or one concept.
        """
        name = generic.lower().strip()
        words = name.split()
        for size in range(len(words), 0, -1):
            key = " ".join(words[:size])
            if key in self._table:
                score = 0.95 if size == len(words) else 0.8
                return (Concept(code=self._table[key], description=key, score=score),)
        return ()
