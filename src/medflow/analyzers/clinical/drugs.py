"""Drug name detection from the dictionary that ``drug-named-entity-recognition`` ships.

The package (2.0.9, MIT; data from DrugBank open data, CC0, and Wikipedia) bundles ~107,000
drug names for ~20,000 drugs with brand -> generic links in ``drug_ner_dictionary.pkl.bz2``.
We read that file directly instead of importing its finder module, whose import also pulls in
an OMOP web client and a structure downloader we must never call (no network at run time).
"""

from __future__ import annotations

import bz2
import pickle
from dataclasses import dataclass
from importlib import resources

from medflow.errors import DependencyMissingError

_MAX_WORDS = 5


@dataclass(frozen=True)
class DrugMatch:
    """A drug name found in a token sequence.

    Attributes:
        start: index of the first token.
        end: index one past the last token.
        generic: the canonical (generic) name, lower case.
        is_brand: True when the matched name is a brand name.
    """

    start: int
    end: int
    generic: str
    is_brand: bool


class DrugDictionary:
    """Lower-cased drug name -> (generic name, brand flag), loaded once."""

    def __init__(
        self, extra_generics: tuple[str, ...] = (), never: frozenset[str] = frozenset()
    ) -> None:
        """Load the bundled dictionary.

        Args:
            extra_generics: generic names that must be known even if the package lacks them
                (our RxNorm table's ingredients).
            never: names that are not medications in notes (``data/drug_exclusions.yaml``);
                dropped as names and as the generic a name points to.

        Raises:
            DependencyMissingError: drug-named-entity-recognition is not installed.
        """
        try:
            ref = resources.files("drug_named_entity_recognition").joinpath(
                "drug_ner_dictionary.pkl.bz2"
            )
        except ModuleNotFoundError as exc:
            raise DependencyMissingError(
                "clinical extraction", "nlp", "drug-named-entity-recognition"
            ) from exc
        with ref.open("rb") as raw, bz2.open(raw, "rb") as fh:
            # The pickle ships inside a pinned PyPI package we install; it is not user input.
            data = pickle.load(fh)
        variant_to_canonical: dict[str, list[str]] = data["drug_variant_to_canonical"]
        variant_data: dict[str, dict[str, bool]] = data["drug_variant_to_variant_data"]
        self._names: dict[str, tuple[str, bool]] = {}
        for variant, canonicals in variant_to_canonical.items():
            if not canonicals or len(variant) < 3 or variant in never:
                continue
            generic = canonicals[0]
            if generic in never:
                continue
            flagged = (variant_data.get(variant) or {}).get("is_brand")
            is_brand = bool(flagged) if flagged is not None else variant != generic
            if variant.split()[0] == generic or generic.startswith(variant):
                is_brand = False  # a salt ("metoprolol tartrate") or a class name
            self._names[variant] = (generic, is_brand)
        for name in extra_generics:
            self._names.setdefault(name, (name, False))
        # First words of multi-word names: only these need the longer look-ups.
        self._first_words = frozenset(v.split()[0] for v in self._names if " " in v)
        # First words of any name: a token outside this set starts no drug name.
        self._starts = self._first_words | frozenset(v for v in self._names if " " not in v)

    def phrases(self) -> list[str]:
        """Return the multi-word names (lower case)."""
        return [v for v in self._names if " " in v]

    def __contains__(self, name: str) -> bool:
        return name.lower() in self._names

    def find(self, words: list[str], stop: frozenset[str]) -> list[DrugMatch]:
        """Find drug names in a token sequence, longest match first, no overlaps.

        Args:
            words: the tokens' text, lower case.
            stop: words that never start or form a drug name on their own (English stopwords).

        Returns:
            The matches in token order.
        """
        found: list[DrugMatch] = []
        n = len(words)
        free = 0  # tokens before this index belong to a match already made
        starts = self._starts
        # Only tokens that begin some name are tried (one set test per token, in C).
        for i in [j for j, w in enumerate(words) if w in starts]:
            word = words[i]
            if i < free or word in stop or not word[:1].isalpha():
                continue
            longest = min(_MAX_WORDS, n - i) if word in self._first_words else 1
            for size in range(longest, 0, -1):
                entry = self._names.get(" ".join(words[i : i + size]))
                if entry is not None:
                    found.append(DrugMatch(i, i + size, entry[0], entry[1]))
                    free = i + size
                    break
        return found
