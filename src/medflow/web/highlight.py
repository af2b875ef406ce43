"""Clinical entities shown in their text: the report page of the documents and dictation
pipelines cuts the text into plain pieces and entity pieces at the stored character offsets
(``text[begin:end] == entity.text``, see :mod:`medflow.domain.clinical`).

Pieces are plain strings; the template escapes every one of them, so markup in a document
("<script>" typed into a note) is shown as text, never run. Nothing here builds HTML.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from medflow.domain.clinical import ClinicalResult, Entity

CATEGORY_STYLE: dict[str, tuple[str, str]] = {
    "MEDICATION": ("Medication", "#bbdefb"),
    "MEDICAL_CONDITION": ("Condition", "#ffcdd2"),
    "TEST_TREATMENT_PROCEDURE": ("Test, treatment or procedure", "#c8e6c9"),
    "ANATOMY": ("Anatomy", "#fff9c4"),
    "TIME_EXPRESSION": ("Time", "#e1bee7"),
    "PROTECTED_HEALTH_INFORMATION": ("Personal information", "#cfd8dc"),
    "BEHAVIORAL_ENVIRONMENTAL_SOCIAL": ("Behaviour, environment, social", "#ffe0b2"),
}
"""Label and background colour per Comprehend category (presentation only)."""

TRAIT_LABEL: dict[str, str] = {
    "NEGATION": "negated",
    "SIGN": "sign",
    "SYMPTOM": "symptom",
    "DIAGNOSIS": "diagnosis",
    "HYPOTHETICAL": "hypothetical",
    "PAST_HISTORY": "past history",
    "PERTAINS_TO_FAMILY": "family",
    "LOW_CONFIDENCE": "low confidence",
}


@dataclass(frozen=True)
class EntityView:
    """One entity as the page shows it (strings only; the template escapes them)."""

    id: int
    begin: int
    end: int
    text: str
    category: str
    category_label: str
    colour: str
    type: str
    traits: tuple[str, ...]
    codes: tuple[str, ...]
    attributes: tuple[str, ...]
    negated: bool

    @property
    def tooltip(self) -> str:
        """Type, traits, codes and attributes in one line (the mark's ``title``)."""
        parts = [f"{self.category_label} · {self.type}"]
        if self.traits:
            parts.append(", ".join(self.traits))
        parts.extend(self.attributes)
        parts.extend(self.codes)
        return " · ".join(parts)

    @property
    def css(self) -> str:
        """Class names: ``ent``, the category, and one per trait (``neg`` when negated)."""
        names = ["ent", f"cat-{self.category}"]
        if self.negated:
            names.append("neg")
        names.extend(f"trait-{t.replace(' ', '-')}" for t in self.traits if t != "negated")
        return " ".join(names)


@dataclass(frozen=True)
class Piece:
    """A stretch of the text: plain (``entity`` None) or one entity's span."""

    text: str
    entity: EntityView | None = None


@dataclass(frozen=True)
class Highlighted:
    """The text cut into pieces, the entities shown, and the legend of the categories used.

    Attributes:
        pieces: in text order; their texts joined give back the whole text.
        entities: every entity shown, in text order.
        listed: every entity whose offsets match the text (shown or overlapping), in text
            order: the page's table.
        legend: (category, label, colour) of the categories present.
        skipped: entities not shown because their offsets did not match the text or they
            overlapped an entity shown already.
    """

    pieces: list[Piece]
    entities: list[EntityView]
    listed: list[EntityView] = field(default_factory=list)
    legend: list[tuple[str, str, str]] = field(default_factory=list)
    skipped: int = 0


def view_of(entity: Entity) -> EntityView:
    """The page's view of one entity."""
    label, colour = CATEGORY_STYLE.get(entity.category, (entity.category.title(), "#eeeeee"))
    traits = tuple(TRAIT_LABEL.get(t.name, t.name.lower()) for t in entity.traits)
    codes = tuple(f"ICD-10-CM {c.code} {c.description}" for c in entity.icd10cm[:2]) + tuple(
        f"RxNorm {c.code} {c.description}" for c in entity.rxnorm[:2]
    )
    attributes = tuple(f"{a.type.replace('_', ' ').lower()}: {a.text}" for a in entity.attributes)
    return EntityView(
        id=entity.id,
        begin=entity.begin,
        end=entity.end,
        text=entity.text,
        category=entity.category,
        category_label=label,
        colour=colour,
        type=entity.type,
        traits=traits,
        codes=codes,
        attributes=attributes,
        negated=entity.has_trait("NEGATION"),
    )


def highlight(text: str, entities: Iterable[Entity]) -> Highlighted:
    """Cut ``text`` at the entities' offsets.

    Entities are taken by start, longest first; one that overlaps an entity already taken,
    or whose offsets do not give back its own text, is skipped (counted in ``skipped``), so
    what is highlighted is always exactly what the analysis found at that place.
    """
    ordered = sorted(entities, key=lambda e: (e.begin, -(e.end - e.begin), e.id))
    pieces: list[Piece] = []
    shown: list[EntityView] = []
    listed: list[EntityView] = []
    skipped = 0
    at = 0
    for entity in ordered:
        valid = entity.end > entity.begin and text[entity.begin : entity.end] == entity.text
        if not valid:
            skipped += 1
            continue
        view = view_of(entity)
        listed.append(view)
        if entity.begin < at:
            skipped += 1
            continue
        if entity.begin > at:
            pieces.append(Piece(text[at : entity.begin]))
        pieces.append(Piece(entity.text, view))
        shown.append(view)
        at = entity.end
    if at < len(text):
        pieces.append(Piece(text[at:]))
    present = {v.category for v in shown}
    legend = [(c, label, colour) for c, (label, colour) in CATEGORY_STYLE.items() if c in present]
    return Highlighted(pieces, shown, listed, legend, skipped)


def clinical_text(pipeline: str, files: Mapping[str, bytes]) -> tuple[str, ClinicalResult]:
    """The analysed text and the result of a documents or dictation run.

    Args:
        pipeline: ``documents`` (text in ``text.txt``) or ``dictation`` (text in
            ``transcript.json``'s ``text``).
        files: the run's stored objects by name; needs ``result.json`` and the text file.

    Raises:
        KeyError: a needed file is missing.
        ValueError: a file is not what the pipeline writes.
    """
    result = ClinicalResult.model_validate_json(files["result.json"])
    if pipeline == "dictation":
        transcript: Any = json.loads(files["transcript.json"])
        if not isinstance(transcript, dict) or not isinstance(transcript.get("text"), str):
            raise ValueError("transcript.json has no text")
        return transcript["text"], result
    return files["text.txt"].decode("utf-8"), result
