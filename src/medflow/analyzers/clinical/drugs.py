"""Drug name detection from the dictionary that ``drug-named-entity-recognition`` ships.

The package (2.0.9, MIT; data from DrugBank open data, CC0, and Wikipedia) bundles ~107,000
drug names for ~20,000 drugs with brand -> generic links in ``drug_ner_dictionary.pkl.bz2``.
We read that file directly instead of importing its finder module, whose import also pulls in
an OMOP web client and a structure downloader we must never call (no network at run time).
"""

from __future__ import annotations

import bz2
import pickle
import re
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

from medflow.errors import DependencyMissingError

if TYPE_CHECKING:
    from medflow.analyzers.clinical.lexicon import Lexicon

_MAX_WORDS = 5
# Tokens a name may span once hyphens are tokens of their own ("co - trimoxazole", "5 - FU").
_MAX_TOKENS = 9
# Joiners of a combination product written as one name: "amoxicillin-clavulanate",
# "hydrocodone/acetaminophen" (not "and": "aspirin and clopidogrel" are two drugs).
_COMBINE = frozenset({"-", "/"})
_SEPARATORS = re.compile(r"[\s\-]+")


def key(name: str) -> str:
    """The matching key of a name: lower case, hyphens and spaces removed.

    "co-trimoxazole", "co trimoxazole" and "cotrimoxazole" share a key, as do "5-FU" and
    "5FU": spaCy splits a hyphen into a token of its own, so the written forms differ in
    tokens but not in key.
    """
    return _SEPARATORS.sub("", name.lower())


@dataclass(frozen=True)
class DrugMatch:
    """A drug name found in a token sequence.

    Attributes:
        start: index of the first token.
        end: index one past the last token.
        generic: the canonical (generic) name, lower case.
        is_brand: True when the matched name is a brand name.
        needs_dose: an abbreviation that is a drug only when a dose follows ("pred 40 mg").
    """

    start: int
    end: int
    generic: str
    is_brand: bool
    needs_dose: bool = False


class DrugDictionary:
    """Lower-cased drug name -> (generic name, brand flag), loaded once."""

    def __init__(
        self,
        extra_generics: tuple[str, ...] = (),
        never: frozenset[str] = frozenset(),
        never_generic: tuple[str, ...] = (),
        aliases: dict[str, Any] | None = None,
    ) -> None:
        """Load the bundled dictionary.

        Args:
            extra_generics: generic names that must be known even if the package lacks them
                (our RxNorm table's ingredients).
            never: names that are not medications in notes (``data/drug_exclusions.yaml``);
                dropped as names and as the generic a name points to.
            never_generic: regular expressions of canonical names that are not medications
                (enzyme classes, genes: ``never_generic`` in ``drug_exclusions.yaml``).
            aliases: ``data/drug_aliases.yaml`` as loaded (brands, abbreviations).

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
        not_generic = re.compile("|".join(f"(?:{p})" for p in never_generic) or "(?!)")
        #: key -> (generic, is_brand, rule); rule "" (any case), "case" (as written) or "dose".
        self._names: dict[str, tuple[str, bool, str]] = {}
        self._cased: dict[str, str] = {}
        # Excluded names are compared by key too: "lamin a" (a protein) and "lamina" share one.
        never_keys = frozenset(key(n) for n in never)
        for variant, canonicals in variant_to_canonical.items():
            if not canonicals or len(variant) < 3 or variant in never or key(variant) in never_keys:
                continue
            generic = canonicals[0]
            if generic in never or not_generic.fullmatch(generic):
                continue
            flagged = (variant_data.get(variant) or {}).get("is_brand")
            is_brand = bool(flagged) if flagged is not None else variant != generic
            if variant.split()[0] == generic or generic.startswith(variant):
                is_brand = False  # a salt ("metoprolol tartrate") or a class name
            self._names.setdefault(key(variant), (generic, is_brand, ""))
        for name in extra_generics:
            self._names.setdefault(key(name), (name, False, ""))
        raw_aliases = dict(aliases or {})
        brands = raw_aliases.get("brands") or {}
        abbreviations = raw_aliases.get("abbreviations") or {}
        with_dose = raw_aliases.get("with_dose") or {}
        cased = [str(w) for w in raw_aliases.get("case_sensitive") or []]
        self._cased = {key(w): w for w in cased}
        for table, is_brand, rule in (
            (brands, True, ""),
            (abbreviations, False, ""),
            (with_dose, False, "dose"),
        ):
            if isinstance(table, dict):
                for name, generic in table.items():
                    k = key(str(name))
                    self._names[k] = (str(generic), is_brand, "case" if k in self._cased else rule)
        # First pieces of names (split at spaces and hyphens, as the tokenizer splits them):
        # a token outside this set starts no drug name.
        # (A name's first piece as the tokenizer may give it: "co" or "co-trimoxazole".)
        written = [*variant_to_canonical, *extra_generics]
        written += [
            str(n).lower()
            for t in (brands, abbreviations, with_dose)
            if isinstance(t, dict)
            for n in t
        ]
        self._starts = (
            frozenset(v.split()[0] for v in written if v.strip())
            | frozenset(_SEPARATORS.split(v)[0] for v in written)
            | frozenset(self._names)
        )
        self._phrases = [v for v in variant_to_canonical if " " in v]

    @classmethod
    def from_lexicon(cls, lexicon: Lexicon) -> DrugDictionary:
        """The dictionary with medflow's exclusions and aliases (``drug_exclusions.yaml``,
        ``drug_aliases.yaml``) and its RxNorm ingredients."""
        return cls(
            tuple(lexicon.rxnorm),
            never=lexicon.not_drugs,
            never_generic=lexicon.not_generic,
            aliases=lexicon.drug_aliases,
        )

    def phrases(self) -> list[str]:
        """Return the multi-word names (lower case)."""
        return self._phrases

    def names(self) -> list[str]:
        """Return every known name's key (lower case, no hyphens or spaces)."""
        return list(self._names)

    def __contains__(self, name: str) -> bool:
        return key(name) in self._names

    def lookup(self, name: str) -> str | None:
        """The generic name of a drug name, or None."""
        entry = self._names.get(key(name))
        return entry[0] if entry is not None else None

    def find(
        self,
        words: list[str],
        stop: frozenset[str],
        cased: list[str] | None = None,
        hyphens: frozenset[int] = frozenset(),
    ) -> list[DrugMatch]:
        """Find drug names in a token sequence, longest match first, no overlaps.

        Names match on :func:`key`, so hyphens and spaces between their pieces do not matter;
        names may start with a digit ("5-FU", "6-mercaptopurine"). Two names joined by "-" or
        "/" are one combination product ("amoxicillin-clavulanate").

        Args:
            words: the tokens' text, lower case.
            stop: words that never start or form a drug name on their own (English stopwords).
            cased: the tokens as written, for abbreviations matched only in capitals.
            hyphens: indices of tokens that a hyphen, already removed from ``words``, joins
                to the next token.

        Returns:
            The matches in token order.
        """
        found: list[DrugMatch] = []
        n = len(words)
        free = 0  # tokens before this index belong to a match already made
        starts = self._starts
        # Only tokens that begin some name are tried (one set test per token, in C).
        for i in [j for j, w in enumerate(words) if w in starts]:
            if i < free or words[i] in stop:
                continue
            match = self._match_at(words, i, cased)
            if match is None:
                continue
            # A combination product: name, "-" or "/", name.
            while match.end < n and (words[match.end] in _COMBINE or match.end - 1 in hyphens):
                after = match.end if match.end - 1 in hyphens else match.end + 1
                other = self._match_at(words, after, cased) if after < n else None
                if other is None:
                    break
                match = DrugMatch(match.start, other.end, f"{match.generic}/{other.generic}", False)
            found.append(match)
            free = match.end
        return found

    def _match_at(self, words: list[str], i: int, cased: list[str] | None) -> DrugMatch | None:
        """The longest name starting at token ``i`` (pieces joined without spaces/hyphens)."""
        pieces: list[str] = []
        ends: list[int] = []
        for j in range(i, min(len(words), i + _MAX_TOKENS)):
            w = words[j]
            if w == "-" and j > i:
                continue
            if not (w[:1].isalnum() or w == "/") or (w == "/" and j == i):
                break
            pieces.append(w.replace("-", ""))
            ends.append(j + 1)
            if len(pieces) > _MAX_WORDS + 2:
                break
        joined = ""
        keys = []
        for piece, end in zip(pieces, ends, strict=True):
            joined += piece
            keys.append((joined, end))
        for k, end in reversed(keys):
            entry = self._names.get(k)
            if entry is None:
                continue
            generic, is_brand, rule = entry
            if rule == "case":
                written = "".join(t for t in (cased or words)[i:end] if t != "-")
                if written != _SEPARATORS.sub("", self._cased[k]):
                    continue
            elif len(k) < 3 or k.isdigit():
                continue
            return DrugMatch(i, end, generic, is_brand, rule == "dose")
        return None
