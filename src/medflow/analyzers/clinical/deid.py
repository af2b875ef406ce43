"""De-identification of clinical text: redact PHI or replace it with consistent surrogates.

PHI is found by :class:`~medflow.analyzers.clinical.phi.PhiDetector` (HIPAA Safe Harbor
identifiers, 45 CFR 164.514(b)(2)). ``redact`` writes ``[TYPE]``; ``surrogate`` writes a fake of
the same kind, the same for the same original within a key (so "John Carter" is the same fake
name everywhere in a record), chosen by HMAC-SHA256 of the key and the original. Dates are
shifted by one offset per key, which keeps intervals between them (the usual date-shifting
practice); ages over 89 become "90+" (Safe Harbor aggregates them); younger ages are not
identifiers under Safe Harbor and stay. The offset map ties every replacement to its place in
the original and the new text; it never holds the original PHI text.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date, datetime, timedelta
from functools import cache
from typing import Literal

from pydantic import BaseModel, ConfigDict

from medflow.analyzers.clinical.language import check_text
from medflow.analyzers.clinical.lexicon import load_lexicon
from medflow.analyzers.clinical.phi import PhiDetector

Mode = Literal["redact", "surrogate"]

_FIRST = (
    "Alex",
    "Jordan",
    "Taylor",
    "Morgan",
    "Casey",
    "Riley",
    "Jamie",
    "Avery",
    "Quinn",
    "Rowan",
)
_LAST = ("Smith", "Rivera", "Baker", "Hughes", "Foster", "Reed", "Hayes", "Brooks", "Ward", "Price")
_STREETS = ("Oak", "Maple", "Cedar", "Pine", "Birch", "Willow", "Chestnut", "Walnut")
_JOBS = ("office worker", "technician", "clerk", "assistant", "operator")
_DATE_FORMATS = (
    "%m/%d/%Y",
    "%m/%d/%y",
    "%Y-%m-%d",
    "%B %d, %Y",
    "%b %d, %Y",
    "%B %d %Y",
    "%b %d %Y",
)


class Replacement(BaseModel):
    """One PHI mention and what replaced it.

    Attributes:
        type: Comprehend PHI type.
        original_begin: start in the original text.
        original_end: end in the original text.
        begin: start in the de-identified text.
        end: end in the de-identified text.
    """

    model_config = ConfigDict(frozen=True)

    type: str
    original_begin: int
    original_end: int
    begin: int
    end: int


class DeidResult(BaseModel):
    """De-identified text and its offset map.

    Attributes:
        text: the de-identified text.
        mode: ``redact`` or ``surrogate``.
        replacements: every replacement in text order.
    """

    model_config = ConfigDict(frozen=True)

    text: str
    mode: Mode
    replacements: tuple[Replacement, ...]

    def to_original(self, offset: int) -> int:
        """Map an offset in the de-identified text back to the original text.

        Args:
            offset: a character offset in ``text``.

        Returns:
            The matching offset in the original (the start of a replacement for offsets in it).
        """
        shift = 0
        for r in self.replacements:
            if offset < r.begin:
                break
            if offset < r.end:
                return r.original_begin
            shift = r.original_end - r.end
        return offset + shift


@cache
def _default_detector() -> PhiDetector:
    return PhiDetector(load_lexicon())


class _Surrogates:
    def __init__(self, key: str) -> None:
        self._key = key.encode()
        self._shift = timedelta(days=self._int("date-shift", "") % 730 - 365)

    def _int(self, kind: str, value: str) -> int:
        digest = hmac.new(self._key, f"{kind}\x1f{value.lower()}".encode(), hashlib.sha256)
        return int.from_bytes(digest.digest()[:8], "big")

    def _pick(self, kind: str, value: str, options: tuple[str, ...]) -> str:
        return options[self._int(kind, value) % len(options)]

    def _digits(self, kind: str, value: str) -> str:
        seed = str(self._int(kind, value)).zfill(20)
        it = iter(seed * 3)
        return "".join(next(it) if ch.isdigit() else ch for ch in value)

    def make(self, kind: str, value: str) -> str:
        n = self._int(kind, value) % 1000
        if kind == "NAME":
            words = value.split()
            last = self._pick("last", value, _LAST)
            return last if len(words) == 1 else f"{self._pick('first', value, _FIRST)} {last}"
        if kind == "DATE":
            return self._date(value)
        if kind == "AGE":
            number = re.match(r"\d+", value)
            if number and int(number.group()) > 89:
                return "90+" + value[number.end() :]
            return value
        if kind in ("PHONE_OR_FAX", "ID"):
            return self._digits(kind, value)
        if kind == "EMAIL":
            return f"patient{n}@example.org"
        if kind == "URL":
            return f"https://example.org/r/{n}"
        if kind == "ADDRESS":
            return f"{n + 1} {self._pick('street', value, _STREETS)} Street, Anytown, ST 00000"
        if kind == "PROFESSION":
            return self._pick("job", value, _JOBS)
        return f"[{kind}]"

    def _date(self, value: str) -> str:
        for fmt in _DATE_FORMATS:
            try:
                parsed = datetime.strptime(value, fmt).date()
            except ValueError:
                continue
            return (parsed + self._shift).strftime(fmt)
        if re.fullmatch(r"(?:19|20)\d{2}", value):
            return str((date(int(value), 7, 1) + self._shift).year)
        return "[DATE]"


def deidentify(
    text: str,
    mode: Mode = "redact",
    key: str = "medflow",
    detector: PhiDetector | None = None,
) -> DeidResult:
    """Remove PHI from a clinical text.

    Args:
        text: the original text.
        mode: ``redact`` writes ``[TYPE]``; ``surrogate`` writes consistent fakes.
        key: secret that picks the surrogates and the date shift; use one per patient (or per
            data release) so the same person gets the same fakes across that patient's notes.
        detector: a PHI detector to reuse; the bundled rules by default.

    Returns:
        The de-identified text and the offset map.

    Raises:
        EmptyInputError: the text is empty.
        UnsupportedFileError: the text is binary data.
    """
    check_text(text)
    found = (detector or _default_detector()).find(text)
    surrogates = _Surrogates(key)
    parts: list[str] = []
    replacements: list[Replacement] = []
    cursor = 0
    length = 0
    for phi in found:
        parts.append(text[cursor : phi.begin])
        length += phi.begin - cursor
        original = text[phi.begin : phi.end]
        new = f"[{phi.type}]" if mode == "redact" else surrogates.make(phi.type, original)
        parts.append(new)
        replacements.append(
            Replacement(
                type=phi.type,
                original_begin=phi.begin,
                original_end=phi.end,
                begin=length,
                end=length + len(new),
            )
        )
        length += len(new)
        cursor = phi.end
    parts.append(text[cursor:])
    return DeidResult(text="".join(parts), mode=mode, replacements=tuple(replacements))
