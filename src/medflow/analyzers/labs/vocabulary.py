"""Qualitative result words, printed flags and range labels, loaded from ``qualitative.yaml``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from medflow.analyzers.labs.kb_errors import KnowledgeBaseError

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 10x faster
_FILE = "qualitative.yaml"
_LABEL_GROUPS = ("male", "female", "adult", "child", "preferred", "other")
_FLAG_CODES = {"N", "L", "H", "LL", "HH", "A", "C"}
"""FHIR interpretation codes, plus ``C``: a critical mark printed without a direction."""


def normalize_words(text: str) -> str:
    """Lower-case ``text``, turn hyphens and underscores into spaces and collapse white space."""
    return " ".join(re.sub(r"[-_]", " ", text.strip().lower()).split())


@dataclass(frozen=True)
class Term:
    """A qualitative result word.

    Attributes:
        word: the normalised word (``"non reactive"``).
        abnormal: whether the word reports an abnormal finding.
        weak: a borderline positive (``trace``).
        grade: dipstick grade (0 for normal words).
    """

    word: str
    abnormal: bool
    weak: bool = False
    grade: float = 0.0


@dataclass(frozen=True, eq=False)
class Vocabulary:
    """The words the value and range parsers know.

    Attributes:
        terms: normalised word -> term.
        flags: normalised printed flag -> FHIR interpretation code.
        labels: label group (male, female, adult, child, preferred, other) -> labels.
    """

    terms: dict[str, Term]
    flags: dict[str, str]
    labels: dict[str, tuple[str, ...]]

    def term(self, text: str) -> Term | None:
        """The qualitative term ``text`` is, or None."""
        return self.terms.get(normalize_words(text))

    def flag(self, text: str) -> str | None:
        """The FHIR code a printed flag claims (``"High"`` -> ``"H"``), or None if unknown."""
        key = normalize_words(text).strip("()[] ")
        return self.flags.get(key)


def _parse(data: Any) -> Vocabulary:
    if not isinstance(data, dict) or set(data) != {"terms", "flags", "range_labels"}:
        raise KnowledgeBaseError(f"{_FILE}: needs exactly 'terms', 'flags' and 'range_labels'")
    terms: dict[str, Term] = {}
    for word, spec in data["terms"].items():
        extra = set(spec) - {"class", "weak", "grade"}
        if extra or spec.get("class") not in ("normal", "abnormal"):
            raise KnowledgeBaseError(f"{_FILE}: term {word!r} is invalid ({sorted(extra)})")
        key = normalize_words(str(word))
        terms[key] = Term(
            word=key,
            abnormal=spec["class"] == "abnormal",
            weak=bool(spec.get("weak", False)),
            grade=float(spec.get("grade", 0.0)),
        )
    flags = {normalize_words(str(k)): str(v) for k, v in data["flags"].items()}
    bad = sorted(v for v in flags.values() if v not in _FLAG_CODES)
    if bad:
        raise KnowledgeBaseError(f"{_FILE}: unknown flag codes {bad}")
    raw_labels = data["range_labels"]
    if set(raw_labels) != set(_LABEL_GROUPS):
        raise KnowledgeBaseError(f"{_FILE}: range_labels needs groups {list(_LABEL_GROUPS)}")
    labels = {g: tuple(normalize_words(str(x)) for x in raw_labels[g]) for g in _LABEL_GROUPS}
    return Vocabulary(terms=terms, flags=flags, labels=labels)


@lru_cache(maxsize=1)
def default_vocabulary() -> Vocabulary:
    """Load the packaged vocabulary once.

    Raises:
        KnowledgeBaseError: when ``qualitative.yaml`` is malformed.
    """
    pkg = "medflow.analyzers.labs.knowledge"
    text = resources.files(pkg).joinpath(_FILE).read_text(encoding="utf-8")
    return _parse(yaml.load(text, Loader=_LOADER))
