"""Time expressions (Comprehend Medical's TIME_EXPRESSION category) and their links.

Comprehend reports a time expression only when it is associated with an entity, as an entity of
category TIME_EXPRESSION whose type names what it is linked to (TIME_TO_MEDICATION_NAME,
TIME_TO_DX_NAME, TIME_TO_TEST_NAME, TIME_TO_PROCEDURE_NAME, TIME_TO_TREATMENT_NAME), carrying the
linked entity as an attribute with relationship type OVERLAP (AWS Comprehend Medical developer
guide, Detect entities (Version 2), Time Expression Category). Found here by patterns built from
``data/time_expressions.yaml``: durations ("for 3 days", "x3 days", "over the past 2 weeks"),
onsets ("since Monday", "since last night", "2 weeks ago"), relative times ("yesterday", "last
night", "on admission") and the dates the PHI rules find. Frequencies are attributes, not times.

PHI and time: a date is always a PROTECTED_HEALTH_INFORMATION DATE entity (de-identification
must see every date). When that date is also linked to a clinical entity ("MI in 2015"), a
TIME_EXPRESSION entity with the same offsets is reported beside it, as Comprehend's
DetectEntitiesV2 reports dates in both roles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

# What a time expression may link to: entity type -> TIME_EXPRESSION type.
LINK_TYPE = {
    "GENERIC_NAME": "TIME_TO_MEDICATION_NAME",
    "BRAND_NAME": "TIME_TO_MEDICATION_NAME",
    "DX_NAME": "TIME_TO_DX_NAME",
    "TEST_NAME": "TIME_TO_TEST_NAME",
    "PROCEDURE_NAME": "TIME_TO_PROCEDURE_NAME",
    "TREATMENT_NAME": "TIME_TO_TREATMENT_NAME",
}
# Entities that a time expression may date although Comprehend links none to it: when one is
# the nearest, the time is left unlinked rather than given to a farther condition.
_BLOCKING = frozenset({"BEHAVIORAL_ENVIRONMENTAL_SOCIAL"})
# Farthest a linked entity may lie from the time expression, in characters, within a sentence.
MAX_GAP = 80
_LIST_GAP = re.compile(r"^(?:\s*(?:,|and|or|&)\s*)+$", re.I)


@dataclass(frozen=True)
class FoundTime:
    """A time expression in the text.

    Attributes:
        begin: first character.
        end: one past the last character.
    """

    begin: int
    end: int


def _alt(words: list[str]) -> str:
    return "|".join(
        re.escape(w).replace(r"\ ", r"\s+") for w in sorted(words, key=len, reverse=True)
    )


@cache
def _vocabulary() -> dict[str, list[str]]:
    raw = yaml.safe_load(
        resources.files("medflow.analyzers.clinical")
        .joinpath("data", "time_expressions.yaml")
        .read_text("utf-8")
    )
    return {str(k): [str(w).lower() for w in v] for k, v in raw.items()}


class TimeFinder:
    """Finds time expressions and links them to entities of the same sentence."""

    def __init__(self) -> None:
        """Compile the patterns from ``data/time_expressions.yaml``."""
        v = _vocabulary()
        num = rf"(?:\d+(?:\.\d+)?|{_alt(v['numbers'])})"
        unit = _alt(v["units"])
        period = rf"(?:{_alt(v['periods'])}|{_alt(v['weekdays'])})"
        anchor = (
            rf"(?:{_alt(v['relative'])}|{_alt(v['weekdays'])}|(?:last|this)\s+{period}|"
            rf"admission|surgery|(?:19|20)\d\d)"
        )
        amount = rf"{num}[-\s]*(?:{unit})(?![-\s]+old\b)"
        # Python's re tries each branch at every position; a class of the characters a time
        # expression can start with fails most positions at once.
        starts = {"f", "o", "x", "×", "t", "l", "p", "s", "n"}
        for key in ("numbers", "relative", "weekdays"):
            starts |= {w[0] for w in v[key]}
        first = "".join(sorted(starts | {c.upper() for c in starts}))
        self._pattern = re.compile(
            rf"(?<![\w/])(?=[\d{re.escape(first)}])(?:"
            rf"(?:for|over|x|×)\s*(?:the\s+)?(?:(?:last|past|next)\s+)?{amount}|"
            rf"(?:(?:the\s+)?(?:last|past)\s+)?{amount}(?:\s+ago)?|"
            rf"since\s+{anchor}|"
            rf"(?:last|past|this|next)\s+{period}|"
            rf"{_alt(v['relative'])}"
            r")(?!\w)",
            re.I,
        )
        self._frequency_before = re.compile(rf"(?:^|\W)(?:{_alt(v['frequency_cues'])})\s*$", re.I)

    def find(self, text: str, begin: int, end: int) -> list[FoundTime]:
        """Find time expressions in ``text[begin:end]``.

        Args:
            text: the whole input.
            begin: window start.
            end: window end.

        Returns:
            Non-overlapping time expressions in text order (frequencies left out).
        """
        out: list[FoundTime] = []
        for m in self._pattern.finditer(text, begin, end):
            if self._frequency_before.search(text, max(begin, m.start() - 8), m.start()):
                continue  # "every 6 hours", "twice a day": a frequency
            out.append(FoundTime(m.start(), m.end()))
        return out


def link(time: FoundTime, candidates: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """Choose the entities a time expression belongs to.

    The nearest linkable entity of its sentence (before it on a tie), then the entities of the
    same category listed with it ("cough and fever for 3 days": both); nothing when the nearest
    entity is a habit ("quit smoking 10 years ago").

    Args:
        time: the time expression.
        candidates: raw entities of the same sentence (``begin``, ``end``, ``category``,
            ``type``), in text order.
        text: the whole input.

    Returns:
        The linked raw entities, in text order; empty when none is near enough.
    """
    linkable = [c for c in candidates if c["type"] in LINK_TYPE]

    def gap(c: dict[str, Any]) -> int:
        b, e = int(c["begin"]), int(c["end"])
        return time.begin - e if e <= time.begin else b - time.end

    near = [c for c in candidates if 0 <= gap(c) <= MAX_GAP]
    near = [c for c in near if c["type"] in LINK_TYPE or c["category"] in _BLOCKING]
    if not near:
        return []
    best = min(near, key=lambda c: (gap(c), c["begin"] > time.begin))
    if best["type"] not in LINK_TYPE:
        return []  # "quit smoking 10 years ago": it dates the habit, which Comprehend won't link
    chosen = [best]
    at = linkable.index(best)
    step = -1 if best["end"] <= time.begin else 1
    i = at + step
    while 0 <= i < len(linkable):
        other, last = linkable[i], chosen[-1]
        lo, hi = (other, last) if step < 0 else (last, other)
        if other["category"] != best["category"] or not _LIST_GAP.match(
            text[lo["end"] : hi["begin"]]
        ):
            break
        chosen.append(other)
        i += step
    return sorted(chosen, key=lambda c: c["begin"])
