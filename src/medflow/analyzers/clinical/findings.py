"""Examination and imaging findings written as statements about a structure.

"Left ventricular size is normal", "abdomen soft, nontender, nondistended", "thickened aortic
valve", "lungs: clear": no lexicon names these, yet each is an observed finding (a SIGN) that a
note may negate or qualify. Three shapes are recognised (vocabulary in
``data/exam_findings.yaml``):

- structure [property] [verb | ":"] [degree] state {("," | "and") [degree] state}
- [degree] state structure [property]
- a finding of the general survey written alone ("alert", "afebrile", "acute distress")
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

import yaml

from medflow.analyzers.clinical.attributes import first_chars


def _alt(words: list[str]) -> str:
    return "|".join(
        re.escape(w).replace(r"\ ", r"\s+") for w in sorted(set(words), key=len, reverse=True)
    )


@cache
def _vocabulary() -> dict[str, list[str]]:
    raw = yaml.safe_load(
        resources.files("medflow.analyzers.clinical")
        .joinpath("data", "exam_findings.yaml")
        .read_text("utf-8")
    )
    return {str(k): [str(w) for w in v] for k, v in raw.items()}


class FindingFinder:
    """Finds finding statements in text (character offsets)."""

    def __init__(self, structures: list[str]) -> None:
        """Compile the patterns.

        Args:
            structures: body-structure terms (lower case), e.g. the SYSTEM_ORGAN_SITE list.
        """
        v = _vocabulary()
        structure = _alt([*structures, *v["structure_adjectives"]])
        position = _alt(v["positions"])
        prop = _alt(v["properties"])
        degree = _alt(v["degrees"])
        state = _alt(v["states"])
        verb = _alt(v["verbs"])
        subject = (
            rf"(?:(?:the|a|an)\s+)?((?:(?:{position})\s+){{0,3}}(?:{structure})"
            rf"(?:\s+(?:and\s+)?(?:{structure}))?(?:\s+(?:{prop}))?)"
        )
        graded = rf"(?:(?:{degree})\s+)?(?:{state})\b"
        states = rf"{graded}(?:\s*(?:,\s*(?:and\s+)?|\s+and\s+){graded})*"
        self._after = re.compile(rf"\b{subject}\s*(?::\s*|\s+(?:{verb})\s+|\s+){states}", re.I)
        self._before = re.compile(
            rf"\b{graded}\s+(?:(?:{position})\s+){{0,3}}(?:{structure})(?:\s+(?:{prop}))?\b", re.I
        )
        alone = _alt(v.get("standalone", []))
        # A first-character test fails most positions before the long alternations are tried.
        first = first_chars([*v["states"], *v.get("standalone", [])])
        self._alone = re.compile(rf"\b{first}(?:{alone})\b", re.I)
        self._quick = re.compile(rf"\b{first}(?:{state}|{alone})\b", re.I)

    def find(self, text: str) -> list[tuple[int, int]]:
        """Return ``(begin, end)`` of each finding statement, longest first on overlaps.

        Args:
            text: any text.

        Returns:
            Non-overlapping spans in text order.
        """
        spans: set[tuple[int, int]] = set()
        # Each shape holds a state word: search only the stretch around each one (the long
        # alternations are slow to try at every position of a note).
        for state in self._quick.finditer(text):
            lo, hi = max(0, state.start() - 120), min(len(text), state.end() + 120)
            spans.update((m.start(1), m.end()) for m in self._after.finditer(text, lo, hi))
            spans.update((m.start(), m.end()) for m in self._before.finditer(text, lo, hi))
        spans.update((m.start(), m.end()) for m in self._alone.finditer(text))
        kept: list[tuple[int, int]] = []
        for b, e in sorted(spans, key=lambda s: (s[0] - s[1], s[0])):
            if all(e <= kb or ke <= b for kb, ke in kept):
                kept.append((b, e))
        return sorted(kept)
