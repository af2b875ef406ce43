"""Candidate entity spans: overlaps, the statistical NER's merge, in-text abbreviations.

A candidate is ``(first token, one past last token, "CATEGORY|TYPE", generic drug name)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from medflow.analyzers.clinical.ner import LABEL_TYPE, NerSpan

Candidate = tuple[int, int, str, str]

_ABBREVIATION = re.compile(r"^(?=.*[A-Z0-9])[A-Za-z0-9][A-Za-z0-9-]{1,9}$")


def longest_first(
    found: list[tuple[int, int, str, str]],
) -> list[tuple[int, int, str, str]]:
    """Drop overlapping candidates as ``spacy.util.filter_spans`` does: longest first, then
    earliest; among equal spans the first in ``found`` (sorts are stable)."""
    ordered = sorted(found, key=lambda f: (f[1] - f[0], -f[0]), reverse=True)
    taken: set[int] = set()
    out = []
    for f in ordered:
        if f[0] not in taken and f[1] - 1 not in taken:
            out.append(f)
            taken.update(range(f[0], f[1]))
    return out


def cased_words(doc: Any, text: str) -> list[str]:
    """Each token's text as written, sliced from the text by token offsets."""
    from spacy.attrs import IDX, LENGTH

    return [text[b : b + n] for b, n in doc.to_array([IDX, LENGTH]).tolist()]


def defined_abbreviations(
    doc: Any, chosen: list[tuple[int, int, str, str]]
) -> list[tuple[int, int, str, str]]:
    """Abbreviations a text defines ("carbamazepine (CBZ)") and their later uses.

    An entity followed by a parenthesised short form with a capital or a digit gives that
    short form its label and drug name, there and wherever it appears again in the text
    (Schwartz and Hearst, PSB 2003, find such definitions the same way).
    """
    taken = {i for c in chosen for i in range(c[0], c[1])}
    defined: dict[str, tuple[str, str]] = {}
    out = list(chosen)
    for start, end, label, generic in chosen:
        if end + 2 < len(doc) and doc[end].text == "(" and doc[end + 2].text == ")":
            short = doc[end + 1].text
            if _ABBREVIATION.match(short) and short.lower() != doc[start:end].text.lower():
                defined.setdefault(short, (label, generic))
    if not defined:
        return chosen
    for i, token in enumerate(doc):
        entry = defined.get(token.text)
        if entry is not None and i not in taken:
            out.append((i, i + 1, entry[0], entry[1]))
            taken.add(i)
    return sorted(out)


def lower_words(doc: Any, text: str) -> list[str]:
    """Each token's text in lower case, sliced from the lower-cased text by token offsets.

    Much faster than ``[t.lower_ for t in doc]`` (no Token object per token); falls back to it
    when lower-casing changes the text's length (a few non-ASCII letters, e.g. "İ").
    """
    from spacy.attrs import IDX, LENGTH

    low = text.lower()
    if len(low) != len(text):
        return [t.lower_ for t in doc]
    return [low[b : b + n] for b, n in doc.to_array([IDX, LENGTH]).tolist()]


def merge_model_spans(
    doc: Any,
    chosen: list[Candidate],
    model: list[NerSpan],
    drug_lookup: Callable[[str], str | None],
) -> list[Candidate]:
    """Add the statistical NER's spans to the lexicon's (lexicon categories and codes win).

    A model span that lies over no lexicon span is added (MEDICATION for CHEMICAL,
    MEDICAL_CONDITION for DISEASE), less a trailing amount ("Zorbex 325 mg": the 325 is a
    dose). A DISEASE span that holds a lexicon condition and more words widens it to the
    model's bounds ("urticarial rash" around "rash", "familial melanoma" around "melanoma"),
    keeping the lexicon's label and codes; a drug name from the dictionary is never widened
    ("ferrous sulfate 325" is the name and its dose). Any other overlap keeps the lexicon
    span as it is.

    Args:
        doc: the tokenised text.
        chosen: lexicon candidates, overlaps resolved.
        model: the model's spans on the same text.
        drug_lookup: drug name -> generic name, or None.

    Returns:
        The merged candidates, in token order.
    """
    out = list(chosen)
    for found in model:
        span = doc.char_span(found.begin, found.end, alignment_mode="contract")
        if span is None or not span.text.strip():
            continue
        if span.end < len(doc) and doc[span.end].text == ":":
            continue  # a field label ("NAME:", "Diagnosis:"), not a mention
        category, type_ = LABEL_TYPE[found.label]
        if category == "MEDICATION":
            span = _without_amount(doc, span)
            if span is None:
                continue
        inside = [i for i, c in enumerate(out) if c[0] < span.end and span.start < c[1]]
        if not inside:
            generic = drug_lookup(span.text) or "" if category == "MEDICATION" else ""
            out.append((span.start, span.end, f"{category}|{type_}", generic))
            continue
        if len(inside) == 1:
            start, end, label, generic = out[inside[0]]
            widens = (
                span.start <= start and end <= span.end and (span.start, span.end) != (start, end)
            )
            if widens and label.startswith(category) and category != "MEDICATION":
                out[inside[0]] = (span.start, span.end, label, generic)
    return sorted(out)


_UNITS = frozenset({"mg", "mcg", "g", "gm", "kg", "ml", "l", "units", "unit", "iu", "meq", "%"})


def _without_amount(doc: Any, span: Any) -> Any:
    """The span less its trailing numbers when a unit follows them ("Zorbex 325" of "325 mg")."""
    end = span.end
    if end < len(doc) and doc[end].lower_ in _UNITS:
        while end > span.start and doc[end - 1].like_num:
            end -= 1
    if end == span.start:
        return None
    return span if end == span.end else doc[span.start : end]
