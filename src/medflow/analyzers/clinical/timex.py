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
from bisect import bisect_right
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


def time_entities(
    finder: TimeFinder,
    found: list[dict[str, Any]],
    sentence_chars: list[tuple[int, int]],
    chunk: str,
    offset: int,
    dates: list[FoundTime],
) -> list[dict[str, Any]]:
    """TIME_EXPRESSION entities of one chunk, each linked to the entities it dates.

    Args:
        finder: the time-expression finder.
        found: the chunk's entities (offsets into the whole text, as the extractor keeps them).
        sentence_chars: the chunk's sentence bounds (chunk offsets).
        chunk: the chunk's text.
        offset: where the chunk starts in the whole text.
        dates: PHI dates of the whole text (each may also date an entity).

    Returns:
        Entity records with a ``links`` list of the ``(begin, end)`` of what each dates.
    """
    end = offset + len(chunk)
    times = finder.find(chunk, 0, len(chunk))
    times += [FoundTime(d.begin - offset, d.end - offset) for d in dates if d.end <= end]
    taken = [(a.begin - offset, a.end - offset) for f in found for a in f["attrs"]]
    taken += [(f["begin"] - offset, f["end"] - offset) for f in found]
    sent_starts = [b for b, _ in sentence_chars]
    by_sentence: dict[int, list[dict[str, Any]]] = {}
    for f in sorted(found, key=lambda f: f["begin"]):
        by_sentence.setdefault(bisect_right(sent_starts, f["begin"] - offset) - 1, []).append(
            {**f, "begin": f["begin"] - offset, "end": f["end"] - offset}
        )
    out: list[dict[str, Any]] = []
    kept: list[FoundTime] = []
    # Longest first: "since 2019" wins over the date "2019" inside it.
    for t in sorted(times, key=lambda t: (t.begin - t.end, t.begin)):
        if t.begin < 0 or any(t.begin < e and b < t.end for b, e in taken):
            continue
        if any(t.begin < k.end and k.begin < t.end for k in kept):
            continue
        sentence = by_sentence.get(bisect_right(sent_starts, t.begin) - 1, [])
        linked = link(t, sentence, chunk)
        if not linked:
            continue  # Comprehend reports a time only when it dates an entity
        kept.append(t)
        out.append(
            {
                "begin": offset + t.begin,
                "end": offset + t.end,
                "category": "TIME_EXPRESSION",
                "type": LINK_TYPE[linked[0]["type"]],
                "traits": (),
                "section": None,
                "generic": None,
                "attrs": [],
                "links": [(offset + x["begin"], offset + x["end"]) for x in linked],
            }
        )
    return out
