"""Medication and test attributes: dose, strength, route, frequency, duration, form, rate, values.

medspaCy's target matcher treats "metformin 500 mg PO BID" as one span (FINDINGS.md); these
patterns split the words after a drug name into Comprehend Medical's attribute types
(DOSAGE, STRENGTH, ROUTE_OR_MODE, FREQUENCY, DURATION, FORM, RATE) and the words after a test
name into TEST_VALUE and TEST_UNIT. Vocabularies come from ``data/medication_attributes.yaml``.

Dose vs strength follows Comprehend's definitions: DOSAGE is the amount ordered, STRENGTH the
amount of active ingredient per unit. When a count of units is written ("2 tablets 500 mg"),
the count is the DOSAGE and the amount the STRENGTH; otherwise the amount is the DOSAGE.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from medflow.analyzers.clinical.lexicon import Lexicon

# Comprehend Medical relationship type for each attribute type (DetectEntitiesV2 reference).
RELATIONSHIP = {
    "DOSAGE": "DOSAGE",
    "STRENGTH": "STRENGTH",
    "ROUTE_OR_MODE": "ROUTE_OR_MODE",
    "FREQUENCY": "FREQUENCY",
    "DURATION": "DURATION",
    "FORM": "FORM",
    "RATE": "RATE",
    "TEST_VALUE": "TEST_VALUE",
    "TEST_UNIT": "TEST_UNIT",
    "ACUITY": "ACUITY",
    "DIRECTION": "DIRECTION",
    "SYSTEM_ORGAN_SITE": "SYSTEM_ORGAN_SITE",
}
# The relationship names Comprehend's examples use for the commonest links.
RELATIONSHIP.update(
    {"DOSAGE": "WITH_DOSAGE", "ROUTE_OR_MODE": "ADMINISTERED_VIA", "TEST_UNIT": "TEST_UNITS"}
)

_NUM = r"\d+(?:[.,]\d+)?(?:\s*-\s*\d+(?:[.,]\d+)?)?"
_WORD_NUM = r"(?:\d+(?:\.\d+)?|one|two|three|four|five|six|half|1/2)"
_DURATION = re.compile(
    r"\b(?:for|x)\s*("
    + _WORD_NUM
    + r"\s*(?:more\s+)?(?:days?|weeks?|wks?|months?|hours?|doses?))\b",
    re.I,
)
_EVERY = re.compile(
    r"\b(?:q\s?\d+(?:-\d+)?\s?(?:h|hr|hrs|hours?|min)|every\s+\d+(?:\s*(?:-|to)\s*\d+)?\s+(?:hours?|"
    r"minutes?|days?|weeks?))\b",
    re.I,
)
# Where a drug's attributes end: a clause end, a line break, a new list item on the same line
# ("1. ... 2. ...", " - ", "•"), or a new item naming another drug and its dose
# (", Foobarex 20 mg": that dose belongs to Foobarex even if no dictionary knows it).
_SIG_VERBS = (
    r"(?:take|takes|taking|give|inject|apply|inhale|use|increase|decrease|titrate|max|up|"
    r"every|for|then|each|per|times|x)\b"
)
_WINDOW_END = re.compile(
    r"[;\n•·]|\.(?=\s|$)|(?<=\s)\d{1,2}[.)]\s+(?=[A-Za-z])|\s-\s+(?=[A-Za-z])"
    rf"|(?:,|\band\b|\bthen\b)\s+(?!{_SIG_VERBS})(?=[A-Za-z][\w-]+\s+\d)",
    re.I,
)
#: A line that starts a new list item or field: a bullet, "1." / "2)", or "Label:".
ITEM_START = re.compile(r"\s*(?:[-*•·]\s|\d{1,2}[.)]\s|[A-Za-z][A-Za-z /&]{0,30}:)")
_TEST_VALUE = re.compile(
    r"^(?P<gap>(?:\s*(?:was|were|is|of|at|today|now|level|result|=|:)\s*)*\s*)"
    r"(?P<value>\d+(?:\.\d+)?(?:/\d+(?:\.\d+)?)?|negative|positive|normal|elevated|low|high)"
    r"(?:\s*(?P<unit>%|mm\s?hg|mmhg|bpm|mg/dl|mmol/l|g/dl|meq/l|ng/ml|u/l|iu/l|k/ul|/min|"
    r"breaths/min|kg|lbs?|°[cf]|degrees))?",
    re.I,
)


@dataclass(frozen=True)
class FoundAttribute:
    """An attribute found in the text (offsets into the whole input).

    Attributes:
        type: Comprehend attribute type.
        begin: first character.
        end: one past the last character.
    """

    type: str
    begin: int
    end: int


def _alternation(words: list[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


def first_chars(words: list[str]) -> str:
    """A lookahead for the first letters of ``words`` (either case): a cheap test that fails
    most positions before a long alternation is tried."""
    chars = {c for w in words if w for c in (w[0].lower(), w[0].upper())}
    return "(?=[" + "".join(re.escape(c) for c in sorted(chars)) + "])"


class AttributeFinder:
    """Compiled attribute patterns for one lexicon."""

    def __init__(self, lexicon: Lexicon) -> None:
        """Compile the patterns.

        Args:
            lexicon: the loaded vocabularies.
        """
        units = _alternation(list(lexicon.dose_units))
        counts = _alternation(list(lexicon.count_units))
        self._rate = re.compile(
            rf"\b{_NUM}\s*(?:{units})(?:/kg)?\s*/\s*(?:hr|h|hour|min|minute)\b", re.I
        )
        self._strength_conc = re.compile(rf"\b{_NUM}\s*(?:{units})\s*/\s*\d*\s*(?:ml|l)\b", re.I)
        # A combination product's strengths, one per ingredient ("5/325 mg").
        self._strength_combo = re.compile(
            rf"(?<![\w/])\d+(?:\.\d+)?(?:/\d+(?:\.\d+)?)+\s*(?:{units})(?![\w/])", re.I
        )
        self._amount = re.compile(rf"(?<![\w/]){_NUM}\s*(?:{units})(?![\w/])", re.I)
        self._count = re.compile(rf"\b{_WORD_NUM}\s*(?:{counts})\b", re.I)
        freq = [*lexicon.frequency]
        routes, forms = list(lexicon.route), list(lexicon.forms)
        # A first-character lookahead fails most positions before the long case-insensitive
        # alternations are tried (Python's re tries every branch at every position).
        self._freq = re.compile(rf"(?<!\w){first_chars(freq)}(?:{_alternation(freq)})(?!\w)", re.I)
        self._route = re.compile(
            rf"(?<!\w){first_chars(routes)}(?:{_alternation(routes)})(?!\w)", re.I
        )
        self._form = re.compile(rf"\b{first_chars(forms)}(?:{_alternation(forms)})\b", re.I)

    @staticmethod
    def window_end(text: str, begin: int, limit: int) -> int:
        """Return where a drug's attribute window ends (clause end or ``limit``).

        Args:
            text: the whole input.
            begin: where the window starts (end of the drug name).
            limit: the hard end (start of the next drug, or end of text).

        Returns:
            The window's end offset.
        """
        match = _WINDOW_END.search(text, begin, limit)
        return match.start() if match else limit

    def has_amount(self, text: str, begin: int, end: int) -> bool:
        """Tell whether ``text[begin:end]`` holds a drug amount or a counted dose.

        Args:
            text: the whole input.
            begin: window start.
            end: window end.

        Returns:
            True when a DOSAGE or STRENGTH could be found there.
        """
        return bool(
            self._amount.search(text, begin, end)
            or self._count.search(text, begin, end)
            or self._strength_conc.search(text, begin, end)
        )

    def medication(self, text: str, begin: int, end: int) -> list[FoundAttribute]:
        """Find medication attributes in ``text[begin:end]``.

        Args:
            text: the whole input.
            begin: window start.
            end: window end.

        Returns:
            Non-overlapping attributes in text order.
        """
        found: list[FoundAttribute] = []
        taken: list[tuple[int, int]] = []

        def add(kind: str, b: int, e: int) -> None:
            if any(b < te and tb < e for tb, te in taken):
                return
            taken.append((b, e))
            found.append(FoundAttribute(kind, b, e))

        if "/" in text[begin:end]:  # a rate ("5 mg/hr") or a concentration ("10 mg/mL")
            for m in self._rate.finditer(text, begin, end):
                add("RATE", m.start(), m.end())
            for m in self._strength_conc.finditer(text, begin, end):
                add("STRENGTH", m.start(), m.end())
        for m in self._strength_combo.finditer(text, begin, end):
            add("STRENGTH", m.start(), m.end())
        counts = list(self._count.finditer(text, begin, end))
        for m in counts:
            add("DOSAGE", m.start(), m.end())
        amount_kind = "STRENGTH" if counts else "DOSAGE"
        for m in self._amount.finditer(text, begin, end):
            add(amount_kind, m.start(), m.end())
            amount_kind = "STRENGTH"
        for m in _DURATION.finditer(text, begin, end):
            add("DURATION", m.start(1), m.end(1))
        freq_spans = [(m.start(), m.end()) for m in _EVERY.finditer(text, begin, end)]
        freq_spans += [(m.start(), m.end()) for m in self._freq.finditer(text, begin, end)]
        for b, e in _merge_adjacent(text, freq_spans):
            add("FREQUENCY", b, e)
        for m in self._route.finditer(text, begin, end):
            add("ROUTE_OR_MODE", m.start(), m.end())
        for m in self._form.finditer(text, begin, end):
            add("FORM", m.start(), m.end())
        return sorted(found, key=lambda a: a.begin)

    @staticmethod
    def test_value(text: str, begin: int, limit: int) -> list[FoundAttribute]:
        """Find a test's value and unit right after its name.

        Args:
            text: the whole input.
            begin: end of the test name.
            limit: how far to look.

        Returns:
            TEST_VALUE and, when written, TEST_UNIT.
        """
        m = _TEST_VALUE.match(text[begin:limit])
        if m is None:
            return []
        out = [FoundAttribute("TEST_VALUE", begin + m.start("value"), begin + m.end("value"))]
        if m.group("unit"):
            out.append(FoundAttribute("TEST_UNIT", begin + m.start("unit"), begin + m.end("unit")))
        return out


def _merge_adjacent(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Join frequency pieces separated only by spaces ("every 6 hours" + "as needed")."""
    merged: list[tuple[int, int]] = []
    for b, e in sorted(set(spans)):
        if merged and b <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        elif merged and not text[merged[-1][1] : b].strip():
            merged[-1] = (merged[-1][0], e)
        else:
            merged.append((b, e))
    return merged
