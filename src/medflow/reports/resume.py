"""The "medical resume" of a dictation and the patient's summary page, as data and as HTML.

:func:`medical_resume` groups the entities of one transcript the way a clinician scans a visit
note: patient, chief complaint, symptoms (with onset or duration), conditions, medications (dose,
route, frequency, duration), allergies and plan. Negated findings are kept and marked negated
(ConText NEGATION), never dropped: "denies chest pain" is a finding. Pages are rendered from
``templates/resume/*.html.j2`` with autoescaping on.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from medflow.domain.clinical import ClinicalResult, Entity

_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")
# Onset / duration phrases (ISO 8601 has the durations; these are how they are dictated).
_DURATION = re.compile(
    r"\b(?:for|since|over|x)\s+(?:the\s+(?:last|past)\s+)?"
    r"(?:\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|several|few)\s+"
    r"(?:hours?|days?|weeks?|months?|years?)\b|"
    r"\b(?:since\s+(?:yesterday|last\s+\w+|this\s+morning))\b|"
    r"\b(?:\d+|one|two|three|four|five|six|seven)\s+(?:days?|weeks?|months?)\s+ago\b",
    re.I,
)
_PLAN_CUE = re.compile(
    r"\b(follow[- ]?up|return|recheck|check|schedule|start|stop|continue|increase|decrease|"
    r"prescribe|order|refer(?:ral)?|avoid|plan)\b",
    re.I,
)
_CHIEF = re.compile(r"\bchief complaint\b|\bpresents? with\b|\bcomplains? of\b|\bseen for\b", re.I)
_ALLERGY = re.compile(r"\ballerg", re.I)
_PLAN_SECTIONS = frozenset({"PLAN", "ASSESSMENT_AND_PLAN", "FOLLOW_UP", "PATIENT_INSTRUCTIONS"})
_MED_ATTRIBUTES = ("DOSAGE", "STRENGTH", "ROUTE_OR_MODE", "FREQUENCY", "DURATION", "FORM")


def _sentences(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group().strip()) for m in _SENTENCE.finditer(text)]


def _sentence_of(sentences: list[tuple[int, int, str]], offset: int) -> tuple[int, int, str]:
    for begin, end, s in sentences:
        if begin <= offset < end:
            return begin, end, s
    return offset, offset, ""


def _attr(e: Entity, kind: str) -> str | None:
    return next((a.text for a in e.attributes if a.type == kind), None)


def _flags(e: Entity) -> dict[str, bool]:
    return {
        "negated": e.has_trait("NEGATION"),
        "hypothetical": e.has_trait("HYPOTHETICAL"),
        "past_history": e.has_trait("PAST_HISTORY"),
        "family": e.has_trait("PERTAINS_TO_FAMILY"),
    }


def _is_allergy(e: Entity, sentence: str) -> bool:
    return e.section == "ALLERGIES" or bool(_ALLERGY.search(sentence))


def medical_resume(
    result: ClinicalResult, text: str, patient: dict[str, str] | None = None
) -> dict[str, Any]:
    """Group one transcript's entities into a medical resume.

    Args:
        result: the extraction result for ``text``.
        text: the transcript (or note) the result was extracted from.
        patient: what the upload said about the patient (``id``, ``name``, ...).

    Returns:
        A JSON-ready dict with keys ``patient``, ``chief_complaint``, ``symptoms``,
        ``conditions``, ``medications``, ``allergies``, ``plan``; findings carry ``negated``,
        ``hypothetical``, ``past_history`` and ``family`` flags.
    """
    sentences = _sentences(text)
    symptoms: list[dict[str, Any]] = []
    conditions: list[dict[str, Any]] = []
    medications: list[dict[str, Any]] = []
    allergies: list[dict[str, Any]] = []
    chief: str | None = None
    # Onset/duration the extractor linked to a finding (TIME_EXPRESSION entities carry the
    # entities they date as OVERLAP attributes, by Id); the phrase search below is the fallback.
    times = {
        a.id: t.text
        for t in result.entities
        if t.category == "TIME_EXPRESSION"
        for a in t.attributes
        if a.relationship_type == "OVERLAP"
    }
    for e in result.entities:
        begin, _end, sentence = _sentence_of(sentences, e.begin)
        if e.category == "MEDICAL_CONDITION":
            if e.section == "ALLERGIES":
                continue
            item: dict[str, Any] = {"text": e.text, **_flags(e)}
            code = e.icd10cm[0] if e.icd10cm else None
            item["icd10cm"] = {"code": code.code, "description": code.description} if code else None
            if e.has_trait("SYMPTOM") or e.has_trait("SIGN"):
                onset = _DURATION.search(sentence)
                item["onset"] = times.get(e.id) or (onset.group() if onset else None)
                symptoms.append(item)
            else:
                conditions.append(item)
            cue = e.section == "CHIEF_COMPLAINT" or _CHIEF.search(sentence[: e.begin - begin])
            if chief is None and cue and not e.has_trait("NEGATION"):
                chief = e.text
        elif e.category == "MEDICATION":
            if _is_allergy(e, sentence):
                allergies.append({"substance": e.normalized or e.text, "text": e.text})
                continue
            med = {"name": e.normalized or e.text, "text": e.text, **_flags(e)}
            med.update({k.lower(): _attr(e, k) for k in _MED_ATTRIBUTES})
            if e.rxnorm:
                med["rxnorm"] = {"code": e.rxnorm[0].code, "description": e.rxnorm[0].description}
            medications.append(med)
    if chief is None:
        first = next((s for s in symptoms if not s["negated"]), None) or next(
            (c for c in conditions if not c["negated"]), None
        )
        chief = first["text"] if first else None
    plan_spans = [(s.begin, s.end) for s in result.sections if s.name in _PLAN_SECTIONS]
    plan = [
        s
        for b, _e, s in sentences
        if s and (any(pb <= b < pe for pb, pe in plan_spans) or _PLAN_CUE.search(s))
    ]
    return {
        "patient": dict(patient or {}),
        "chief_complaint": chief,
        "symptoms": symptoms,
        "conditions": conditions,
        "medications": medications,
        "allergies": list({a["substance"].lower(): a for a in allergies}.values()),
        "plan": list(dict.fromkeys(plan)),
    }


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("medflow.reports", "templates"),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_resume_html(resume: dict[str, Any], transcript: dict[str, Any], title: str) -> str:
    """The medical resume page.

    Args:
        resume: from :func:`medical_resume`.
        transcript: ``{"text", "duration_s", "mean_confidence", "low_confidence": [words]}``.
        title: the page title.

    Returns:
        A standalone HTML document (all values escaped).
    """
    template = _environment().get_template("resume/resume.html.j2")
    return template.render(resume=resume, transcript=transcript, title=title)


def render_summary_html(summary_fragment: str, grade_level: float, title: str) -> str:
    """The patient's plain-language summary page.

    Args:
        summary_fragment: ``PatientSummary.html`` (already escaped by its builder).
        grade_level: its measured Flesch-Kincaid grade.
        title: the page title.

    Returns:
        A standalone HTML document.
    """
    from markupsafe import Markup

    template = _environment().get_template("resume/summary.html.j2")
    return template.render(body=Markup(summary_fragment), grade=grade_level, title=title)
