"""Condition terms from ICD-10-CM text, filtered to what a note writes.

Sources and filters are in ``data/icd10cm_terms.yaml`` (ICD-10-CM FY2026 tabular list as
``simple-icd-10-cm`` bundles it: descriptions, inclusion terms, "includes" notes). Each term is
normalised as :func:`~medflow.analyzers.clinical.coding.normalise_description` does, then given
the variants a note uses: without a possessive ("Crohn's disease" -> "crohn disease") and with
its last word in the plural ("polyp of colon" is also written "colon polyps": only the plural
of the term as written is added, "polyps of colon").
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any

import yaml

from medflow.analyzers.clinical.coding import normalise_description

_POSSESSIVE = re.compile(r"'s?\b")


@cache
def _settings() -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(
        resources.files("medflow.analyzers.clinical")
        .joinpath("data", "icd10cm_terms.yaml")
        .read_text("utf-8")
    )
    return raw


def plural(word: str) -> str | None:
    """The regular English plural of a noun, or None where a rule would guess wrong.

    Args:
        word: a lower-case word.

    Returns:
        e.g. "polyps", "rashes", "arrhythmias"; None for words that are plural or Latin
        already ("hemorrhoids", "stenosis", "varices").
    """
    if len(word) < 4 or not word.isalpha() or word.endswith(("s", "x", "us", "um", "ae")):
        return None
    if word.endswith(("ch", "sh", "z")):
        return word + "es"
    if word.endswith("y") and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def condition_terms(icd: Any) -> dict[str, str]:
    """Collect ICD-10-CM terms that may appear verbatim in notes.

    Args:
        icd: the ``simple_icd_10_cm`` module.

    Returns:
        Normalised term (lower case) -> ICD-10-CM code (the shortest code wins a term).
    """
    cfg = _settings()
    chapters = tuple(cfg["chapters"])
    skip_first = frozenset(cfg["skip_first_words"])
    skip = frozenset(cfg["skip_terms"])
    fragment = frozenset(cfg["fragment_words"])
    substance_codes = str(cfg["substance_codes"])
    disorder_words = frozenset(cfg["substance_disorder_words"])
    leading = sorted((str(w) + " " for w in cfg["strip_leading"]), key=len, reverse=True)
    max_words, min_chars = int(cfg["max_words"]), int(cfg["min_chars"])
    out: dict[str, str] = {}

    def add(term: str, code: str) -> None:
        known = out.get(term)
        if known is None or len(code) < len(known):
            out[term] = code

    for code in icd.get_all_codes(True):
        if not code.startswith(chapters) or icd.is_chapter_or_block(code):
            continue
        texts = [icd.get_description(code), *icd.get_inclusion_term(code)]
        if icd.is_category_or_subcategory(code):
            texts += icd.get_includes(code)
        for text in texts:
            term = normalise_description(text)
            for prefix in leading:
                if term.startswith(prefix):
                    term = term[len(prefix) :]
                    break
            words = term.split()
            if (
                not words
                or len(words) > max_words
                or len(term) < min_chars
                or any(ch.isdigit() for ch in term)
                or words[0] in skip_first
                or words[0] in fragment
                or words[-1] in fragment
                or (code.startswith(substance_codes) and not disorder_words.intersection(words))
                or term in skip
            ):
                continue
            variants = {term, _POSSESSIVE.sub("", term)}
            last = plural(words[-1])
            if last is not None:
                variants.add(" ".join([*words[:-1], last]))
            for v in variants:
                add(" ".join(v.split()), code)
    return out
