"""Transcript normaliser for word error rates: two ways of writing the same speech compare equal.

"A 34-year-old" and "a thirty-four year old", "500mg" and "five hundred milligrams",
"March 3rd, 2024", "3/3/2024" and "March third twenty twenty-four" each normalise to one word
sequence, so a WER counts what the recogniser heard wrong, not how it chose to write it. The
same idea as the Whisper paper's English normaliser (Radford et al. 2022, appendix C), written
for medflow: the word tables are data (``data/text_normalizer.yaml``, sources named there),
for English and Spanish; other languages get the language-independent steps only (case,
punctuation, brackets, symbols).

Steps, in order: Unicode compatibility form and lower case; bracketed non-speech removed
("[inaudible]", "(coughs)"); dotted abbreviations joined ("a.m." -> "am"); contractions expanded;
numeric dates and clock times written out; digit grouping commas dropped, decimal points kept;
ordinal suffixes dropped ("3rd" -> "3"); units split from the number they are glued to;
symbols to words; hyphens and other punctuation to spaces (sentence punctuation kept as a
boundary, so "five, one" stays two numbers); phrases, equivalents and fillers; spelled numbers
to digits (cardinals, ordinals, decimals, years).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

_BOUNDARY = ","
_DOT = "\x00"  # a decimal point, hidden from the punctuation step


@dataclass(frozen=True)
class NumberWords:
    """The spelled-number vocabulary of one language (see the YAML header for each key)."""

    units: Mapping[str, int] = field(default_factory=dict)
    tens: Mapping[str, int] = field(default_factory=dict)
    hundreds: Mapping[str, int] = field(default_factory=dict)
    hundred: frozenset[str] = frozenset()
    scales: Mapping[str, int] = field(default_factory=dict)
    ordinals: Mapping[str, int] = field(default_factory=dict)
    article_one: frozenset[str] = frozenset()
    connectors: frozenset[str] = frozenset()
    connector_after: str = "hundreds"
    decimal: frozenset[str] = frozenset()
    years: bool = False

    def additive(self, word: str) -> int | None:
        """The value a unit, tens, hundreds or ordinal word adds; None for other words."""
        for table in (self.units, self.tens, self.hundreds, self.ordinals):
            if word in table:
                return table[word]
        return None

    def joins(self, group: int) -> bool:
        """Whether a connector may follow ``group``: after tens in Spanish ("treinta y
        cinco"), after hundreds or thousands in English ("one hundred and five")."""
        if self.connector_after == "tens":
            return 20 <= group % 100 <= 90 and group % 10 == 0
        return group > 0 and group % 100 == 0

    def is_number_word(self, word: str) -> bool:
        """Whether ``word`` can be part of a spelled number."""
        return (
            self.additive(word) is not None
            or word in self.hundred
            or word in self.scales
            or word in self.article_one
        )


def _fits(group: int, value: int) -> bool:
    """Whether ``value`` can be added to the partial number ``group`` ("twenty" + "five": yes;
    "thirteen" + "five", "twenty" + "twelve": no): the digits it fills must still be zero."""
    place = 0 if value < 10 else 1 if value < 100 else 2 if value < 1000 else 3
    return value < 1000 and group % 10 ** (place + 1) == 0


def parse_number(tokens: Sequence[str], i: int, words: NumberWords) -> tuple[int, int] | None:
    """Read one spelled whole number starting at ``tokens[i]``.

    Returns:
        (value, index after it), or None when ``tokens[i]`` does not start a number.
    """
    total = group = 0
    found = False
    last_scale = 10**18
    j = i
    while j < len(tokens):
        word = tokens[j]
        value = words.additive(word)
        following = tokens[j + 1] if j + 1 < len(tokens) else ""
        if value is not None:
            if found and not _fits(group, value):
                break
            group += value
            found = True
            j += 1
            if word in words.ordinals:
                break  # an ordinal ends the number: "twenty first"
        elif word in words.article_one and not found:
            if following not in words.hundred and following not in words.scales:
                break
            group, found = 1, True
            j += 1
        elif word in words.hundred and found and 0 < group < 100:
            group *= 100
            j += 1
        elif word in words.scales and words.scales[word] < last_scale:
            if not found and not words.article_one:  # Spanish "mil" alone is a thousand
                group = 1
            elif not found:
                break
            total += max(group, 1) * words.scales[word]
            last_scale = words.scales[word]
            group, found = 0, True
            j += 1
        elif word in words.connectors and found and words.joins(total + group):
            nxt = words.additive(following)
            if nxt is None or not _fits(group, nxt):
                break
            j += 1
        else:
            break
    if not found:
        return None
    return total + group, j


@dataclass(frozen=True)
class LanguageRules:
    """Everything the normaliser knows about one language."""

    numbers: NumberWords = field(default_factory=NumberWords)
    months: tuple[str, ...] = ()
    date_order: str = "mdy"
    glued_units: tuple[str, ...] = ()
    phrases: Mapping[str, str] = field(default_factory=dict)
    equivalents: Mapping[str, str] = field(default_factory=dict)
    contractions: Mapping[str, str] = field(default_factory=dict)
    irregular_contractions: Mapping[str, str] = field(default_factory=dict)
    fillers: frozenset[str] = frozenset()


def _rules_from(raw: Mapping[str, Any]) -> LanguageRules:
    numbers = NumberWords(
        units=dict(raw.get("units") or {}),
        tens=dict(raw.get("tens") or {}),
        hundreds=dict(raw.get("hundreds") or {}),
        hundred=frozenset(raw.get("hundred") or ()),
        scales=dict(raw.get("scales") or {}),
        ordinals=dict(raw.get("ordinals") or {}),
        article_one=frozenset(raw.get("article_one") or ()),
        connectors=frozenset(raw.get("connectors") or ()),
        connector_after=str(raw.get("connector_after") or "hundreds"),
        decimal=frozenset(raw.get("decimal") or ()),
        years=bool(raw.get("years")),
    )
    return LanguageRules(
        numbers=numbers,
        months=tuple(raw.get("months") or ()),
        date_order=str(raw.get("date_order") or "mdy"),
        glued_units=tuple(raw.get("glued_units") or ()),
        phrases={str(k): str(v) for k, v in (raw.get("phrases") or {}).items()},
        equivalents={str(k): str(v) for k, v in (raw.get("equivalents") or {}).items()},
        contractions={str(k): str(v) for k, v in (raw.get("contractions") or {}).items()},
        irregular_contractions={
            str(k): str(v) for k, v in (raw.get("irregular_contractions") or {}).items()
        },
        fillers=frozenset(raw.get("fillers") or ()),
    )


@lru_cache(maxsize=1)
def _all_rules() -> dict[str, LanguageRules]:
    text = resources.files(__package__).joinpath("data/text_normalizer.yaml").read_text("utf-8")
    doc = yaml.safe_load(text)
    return {str(code): _rules_from(raw) for code, raw in doc["languages"].items()}


def rules_for(language: str) -> LanguageRules:
    """The rules of ``language`` (ISO 639-1); empty rules for a language without tables."""
    return _all_rules().get(language.lower(), LanguageRules())


class TextNormalizer:
    """Normalises transcripts of one language into comparable words.

    Args:
        language: ISO 639-1 code; ``en`` and ``es`` have word tables, others get the
            language-independent steps.
    """

    def __init__(self, language: str = "en") -> None:
        self.language = language
        self.rules = rules_for(language)

    def __call__(self, text: str) -> list[str]:
        """The normalised words of ``text`` (see the module docstring for the steps)."""
        t = unicodedata.normalize("NFKC", text).lower().replace("\u2019", "'")
        t = re.sub(r"\[[^\]]*\]|\([^)]*\)|<[^>]*>", " ", t)  # non-speech annotations
        t = re.sub(r"\b(?:[a-z]\.){2,}", lambda m: m.group().replace(".", "") + " ", t)
        t = self._contractions(t)
        t = self._dates_and_times(t)
        t = re.sub(r"(?<=\d),(?=\d{3}\b)", "", t)  # 4,500 -> 4500
        t = re.sub(r"(?<=\d)\.(?=\d)", _DOT, t)  # 2.5 keeps its point
        t = re.sub(r"(?<![\d\w])\.(?=\d)", "0" + _DOT, t)  # .5 -> 0.5
        t = re.sub(r"\b(\d+)(?:st|nd|rd|th)\b", r"\1", t)  # 3rd -> 3
        if self.rules.glued_units:
            units = "|".join(map(re.escape, self.rules.glued_units))
            t = re.sub(rf"(?<=\d)(?=(?:{units})\b)", " ", t)
        symbols = "".join(re.escape(k) for k in self.rules.equivalents if len(k) == 1)
        if symbols:
            t = re.sub(f"([{symbols}])", r" \1 ", t)
        t = t.replace("'", "")
        t = re.sub(r"[.,;:!?¿¡]+", f" {_BOUNDARY} ", t)
        keep = "".join(re.escape(k) for k in self.rules.equivalents if len(k) == 1)
        t = re.sub(rf"[^\w\s{_DOT}{_BOUNDARY}{keep}]+|_", " ", t)
        tokens = self._words(t.replace(_DOT, ".").split())
        return [w for w in self._numbers(tokens) if w != _BOUNDARY]

    # -- steps -------------------------------------------------------------------------------

    def _contractions(self, t: str) -> str:
        for word, full in self.rules.irregular_contractions.items():
            t = re.sub(rf"\b{re.escape(word)}\b", full, t)
        for suffix, full in self.rules.contractions.items():
            t = re.sub(rf"(?<=[a-z]){re.escape(suffix)}\b", full, t)
        return t

    def _dates_and_times(self, t: str) -> str:
        months = self.rules.months

        def numeric_date(m: re.Match[str]) -> str:
            a, b, year = int(m.group(1)), int(m.group(2)), m.group(3)
            month, day = (a, b) if self.rules.date_order == "mdy" else (b, a)
            if month > 12 >= day:
                month, day = day, month
            if not (1 <= month <= 12 and 1 <= day <= 31) or not months:
                return m.group()
            name = months[month - 1]
            first = f"{name} {day}" if self.rules.date_order == "mdy" else f"{day} {name}"
            return f"{first} {year}"

        def iso_date(m: re.Match[str]) -> str:
            year, month, day = m.group(1), int(m.group(2)), int(m.group(3))
            if not months or not (1 <= month <= 12 and 1 <= day <= 31):
                return m.group()
            name = months[month - 1]
            first = f"{name} {day}" if self.rules.date_order == "mdy" else f"{day} {name}"
            return f"{first} {year}"

        t = re.sub(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b", iso_date, t)
        t = re.sub(r"\b(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})\b", numeric_date, t)
        # 8:00 -> 8, 8:30 -> 8 30: how the time is said ("eight", "eight thirty").
        return re.sub(
            r"\b(\d{1,2}):(\d{2})\b",
            lambda m: m.group(1) if m.group(2) == "00" else f"{m.group(1)} {m.group(2)}",
            t,
        )

    def _words(self, tokens: list[str]) -> list[str]:
        """Phrases, then equivalents (an empty equivalent drops the word), then fillers."""
        phrases = {tuple(k.split()): v for k, v in self.rules.phrases.items()}
        out: list[str] = []
        i = 0
        while i < len(tokens):
            for key, value in phrases.items():
                if tuple(tokens[i : i + len(key)]) == key:
                    out.extend(value.split())
                    i += len(key)
                    break
            else:
                out.append(tokens[i])
                i += 1
        words: list[str] = []
        for token in out:
            token = self.rules.equivalents.get(token, token)
            if token and token not in self.rules.fillers:
                words.extend(token.split())
        return words

    def _numbers(self, tokens: list[str]) -> list[str]:
        """Spelled numbers to digits; digit strings lose leading zeros ("05" -> "5")."""
        words = self.rules.numbers
        out: list[str] = []
        i = 0
        while i < len(tokens):
            token = tokens[i]
            if token.isdigit():
                out.append(str(int(token)))
                i += 1
                # "30 y 4" (Whisper's Spanish for "treinta y cuatro"): tens, connector, unit.
                if i + 1 < len(tokens) and tokens[i] in words.connectors:
                    unit = _unit_value(tokens[i + 1], words)
                    tens = int(token)
                    if unit is not None and tens < 100 and words.joins(tens):
                        out[-1] = str(tens + unit)
                        i += 2
                continue
            parsed = parse_number(tokens, i, words) if words.is_number_word(token) else None
            if parsed is None:
                out.append(token)
                i += 1
                continue
            value, i = parsed
            text = str(value)
            if words.years and value in (19, 20) and i < len(tokens):
                year = self._year_tail(tokens, i)
                if year is not None:
                    tail, i = year
                    text = f"{value}{tail:02d}"
            elif i + 1 < len(tokens) and tokens[i] in words.decimal:
                digits = []
                j = i + 1
                while j < len(tokens) and tokens[j] in words.units and words.units[tokens[j]] < 10:
                    digits.append(str(words.units[tokens[j]]))
                    j += 1
                if digits:
                    text += "." + "".join(digits)
                    i = j
            out.append(text)
        return out

    def _year_tail(self, tokens: list[str], i: int) -> tuple[int, int] | None:
        """The last two digits of a spoken year after "nineteen"/"twenty": "eighty four",
        "twenty", "oh five"; None when what follows is not one."""
        words = self.rules.numbers
        if tokens[i] == "oh" and i + 1 < len(tokens):
            unit = words.units.get(tokens[i + 1])
            return (unit, i + 2) if unit is not None and unit < 10 else None
        parsed = parse_number(tokens, i, words) if words.is_number_word(tokens[i]) else None
        if parsed is None or not 10 <= parsed[0] <= 99 or tokens[i] in words.ordinals:
            return None
        return parsed


def _unit_value(token: str, words: NumberWords) -> int | None:
    """1..9 written as a digit or a unit word; None otherwise."""
    value = int(token) if token.isdigit() else words.units.get(token)
    return value if value is not None and 1 <= value <= 9 else None


@lru_cache(maxsize=16)
def normalizer(language: str = "en") -> TextNormalizer:
    """The shared :class:`TextNormalizer` of ``language``."""
    return TextNormalizer(language)
