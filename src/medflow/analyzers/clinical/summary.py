"""A plain-language summary of a clinical note, written for the patient.

Says what was found, what was ruled out, which medicines to take at what dose and how often,
allergies, and what to follow up — in short sentences and everyday words (condition names from
``data/plain_language.yaml``, dose words from ``data/medication_attributes.yaml``). The reading
level is measured with textstat's Flesch-Kincaid grade (Kincaid et al. 1975); health-literacy
guidance asks for grade 8 or lower (AMA/NIH suggest 6-8).
"""

from __future__ import annotations

import html
import re
from functools import cache
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict

from medflow.analyzers.clinical.lexicon import load_lexicon
from medflow.domain.clinical import ClinicalResult, Entity

_FOLLOW_SECTIONS = frozenset({"PLAN", "ASSESSMENT_AND_PLAN", "FOLLOW_UP", "PATIENT_INSTRUCTIONS"})
_FOLLOW_CUE = re.compile(
    r"\b(follow[- ]?up|return|call|recheck|check|schedule|see|if|start|stop|increase|continue)\b",
    re.I,
)
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")


class PatientSummary(BaseModel):
    """A summary for the patient.

    Attributes:
        text: plain text, one short sentence per line.
        html: the same as a small HTML fragment (escaped).
        grade_level: Flesch-Kincaid grade of ``text``.
    """

    model_config = ConfigDict(frozen=True)

    text: str
    html: str
    grade_level: float


@cache
def _plain_names() -> dict[str, str]:
    raw = (
        resources.files("medflow.analyzers.clinical")
        .joinpath("data", "plain_language.yaml")
        .read_text("utf-8")
    )
    return {str(k): str(v) for k, v in yaml.safe_load(raw).items()}


def _name(e: Entity) -> str:
    code = e.icd10cm[0].code if e.icd10cm else ""
    return _plain_names().get(code, e.text.lower())


def _medicine_line(e: Entity, frequency: dict[str, str], route: dict[str, str]) -> str:
    name = (e.normalized or e.text).capitalize()
    dose = next((a.text for a in e.attributes if a.type == "DOSAGE"), "")
    how = next((a.text for a in e.attributes if a.type == "ROUTE_OR_MODE"), "")
    when = next((a.text for a in e.attributes if a.type == "FREQUENCY"), "")
    days = next((a.text for a in e.attributes if a.type == "DURATION"), "")
    parts = [f"{name}: take {dose}" if dose else f"{name}: take it"]
    if how:
        parts.append(route.get(how.lower(), how))
    if when:
        parts.append(_plain_frequency(when, frequency))
    if days:
        parts.append(f"for {days}")
    return " ".join(parts) + "."


def _plain_frequency(when: str, frequency: dict[str, str]) -> str:
    low = when.lower()
    if low in frequency:
        return frequency[low]
    m = re.match(r"q\s?(\d+)\s?h", low) or re.match(r"every (\d+) hours", low)
    text = f"every {m.group(1)} hours" if m else when
    return text + (" when needed" if re.search(r"prn|as needed", low) else "")


def flesch_kincaid_grade(text: str) -> float:
    """Flesch-Kincaid grade level: 0.39 * words/sentence + 11.8 * syllables/word - 15.59.

    Words and sentences are counted by textstat; syllables with pyphen's English hyphenation
    dictionary (textstat's own fallback). textstat's default syllable counter would download
    NLTK's CMU dictionary at run time, which medflow must never do.

    Args:
        text: the text; each line is taken as at least one sentence.

    Returns:
        The grade level (0.0 for an empty text).
    """
    import pyphen  # type: ignore[import-untyped]
    import textstat

    words = re.findall(r"[A-Za-z]+(?:'[a-z]+)?", text)
    if not words:
        return 0.0
    sentences = sum(
        max(1, int(textstat.sentence_count(line))) for line in text.splitlines() if line.strip()
    )
    dic = pyphen.Pyphen(lang="en_US")
    syllables = sum(len(dic.positions(w.lower())) + 1 for w in words)
    return 0.39 * len(words) / sentences + 11.8 * syllables / len(words) - 15.59


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def patient_summary(result: ClinicalResult, text: str) -> PatientSummary:
    """Write the patient summary of one note.

    Args:
        result: the extraction result for ``text``.
        text: the note itself (follow-up sentences are quoted from its plan).

    Returns:
        The summary with its measured reading level.
    """
    lexicon = load_lexicon()
    conditions = [e for e in result.by_category("MEDICAL_CONDITION") if e.section != "ALLERGIES"]
    own = [e for e in conditions if not e.has_trait("PERTAINS_TO_FAMILY")]
    current = [e for e in own if not e.has_trait("NEGATION") and not e.has_trait("HYPOTHETICAL")]
    found = _unique(
        [
            f"You had {_name(e)}." if e.has_trait("PAST_HISTORY") else f"You have {_name(e)}."
            for e in current
        ]
    )
    ruled_out = _unique([_name(e) for e in own if e.has_trait("NEGATION")])
    meds = [e for e in result.by_category("MEDICATION") if not e.has_trait("NEGATION")]
    allergies = _unique(
        [(e.normalized or e.text).lower() for e in meds if e.section == "ALLERGIES"]
    )
    medicines = _unique(
        [
            _medicine_line(e, lexicon.frequency, lexicon.route)
            for e in meds
            if e.section != "ALLERGIES"
        ]
    )
    follow = _unique(
        [
            m.group().strip()
            for s in result.sections
            if s.name in _FOLLOW_SECTIONS
            for m in _SENTENCE.finditer(text[s.begin : s.end])
            if _FOLLOW_CUE.search(m.group())
        ]
    )
    blocks: list[tuple[str, list[str]]] = [
        ("What we found", found or ["We found no health problems."]),
        ("What you do not have", [f"You do not have {n}." for n in ruled_out]),
        ("Your medicines", medicines),
        ("Your allergies", [f"You are allergic to {a}." for a in allergies]),
        ("What to do next", follow),
    ]
    blocks = [(title, lines) for title, lines in blocks if lines]
    plain = "\n".join(f"{title}.\n" + "\n".join(lines) for title, lines in blocks)
    fragment = "".join(
        f"<h2>{html.escape(title)}</h2><ul>"
        + "".join(f"<li>{html.escape(line)}</li>" for line in lines)
        + "</ul>"
        for title, lines in blocks
    )
    grade = flesch_kincaid_grade(plain)
    return PatientSummary(text=plain, html=fragment, grade_level=round(grade, 1))
