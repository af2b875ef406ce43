"""Typed results of clinical entity extraction, named as AWS Comprehend Medical names them.

Categories, types, trait names and relationship types follow the DetectEntitiesV2 API reference
(https://docs.aws.amazon.com/comprehend-medical/latest/api/API_DetectEntitiesV2.html), so that a
result converts to Comprehend's JSON without renaming. Offsets are character offsets into the
exact input text (``text[begin:end] == entity.text``). Every model is frozen.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Category = Literal[
    "MEDICATION",
    "MEDICAL_CONDITION",
    "TEST_TREATMENT_PROCEDURE",
    "ANATOMY",
    "TIME_EXPRESSION",
    "PROTECTED_HEALTH_INFORMATION",
    "BEHAVIORAL_ENVIRONMENTAL_SOCIAL",
]

TraitName = Literal[
    "NEGATION",
    "SIGN",
    "SYMPTOM",
    "DIAGNOSIS",
    "HYPOTHETICAL",
    "PAST_HISTORY",
    "PERTAINS_TO_FAMILY",
    "LOW_CONFIDENCE",
]

TRAIT_NAMES: tuple[TraitName, ...] = (
    "NEGATION",
    "SIGN",
    "SYMPTOM",
    "DIAGNOSIS",
    "HYPOTHETICAL",
    "PAST_HISTORY",
    "PERTAINS_TO_FAMILY",
    "LOW_CONFIDENCE",
)


class Trait(BaseModel):
    """A contextual property of an entity (Comprehend ``Trait``).

    Attributes:
        name: the trait, e.g. ``NEGATION``.
        score: confidence 0..1.
    """

    model_config = ConfigDict(frozen=True)

    name: TraitName
    score: float = Field(ge=0.0, le=1.0)


class Span(BaseModel):
    """A stretch of the input text.

    Attributes:
        begin: offset of the first character.
        end: offset one past the last character.
        text: ``input[begin:end]``.
    """

    model_config = ConfigDict(frozen=True)

    begin: int = Field(ge=0)
    end: int = Field(ge=0)
    text: str

    @model_validator(mode="after")
    def _ordered(self) -> Span:
        if self.end < self.begin:
            raise ValueError(f"span ends ({self.end}) before it begins ({self.begin})")
        return self


class Attribute(Span):
    """A modifier linked to an entity (a dose, a route, a test value ...).

    Attributes:
        id: unique among the ids of one result.
        type: Comprehend attribute type (DOSAGE, ROUTE_OR_MODE, FREQUENCY, TEST_VALUE ...).
        category: the category the attribute belongs to (MEDICATION for dose attributes).
        score: confidence that the attribute is of this type.
        relationship_type: how it relates to its entity (WITH_DOSAGE, ADMINISTERED_VIA ...);
            ``None`` for an unmapped attribute.
        relationship_score: confidence in the link to the entity.
        traits: traits of the attribute itself.
    """

    id: int = Field(ge=0)
    type: str
    category: Category
    score: float = Field(ge=0.0, le=1.0)
    relationship_type: str | None = None
    relationship_score: float = Field(default=0.0, ge=0.0, le=1.0)
    traits: tuple[Trait, ...] = ()


class Concept(BaseModel):
    """A code from a vocabulary (ICD-10-CM or RxNorm) proposed for an entity.

    Attributes:
        code: the code (``E11.9``, ``6809``).
        description: its preferred description.
        score: confidence 0..1.
    """

    model_config = ConfigDict(frozen=True)

    code: str
    description: str
    score: float = Field(ge=0.0, le=1.0)


class Entity(Span):
    """A clinical entity found in the text.

    Attributes:
        id: unique among the ids of one result (entities and attributes share one sequence).
        category: Comprehend category.
        type: Comprehend type within the category (GENERIC_NAME, DX_NAME, NAME ...).
        score: confidence 0..1.
        traits: context traits (NEGATION, PAST_HISTORY ...).
        attributes: linked attributes, in text order.
        section: the note section the entity lies in (``HPI``, ``MEDICATIONS`` ...), if known.
        icd10cm: ICD-10-CM concepts, best first (conditions only).
        rxnorm: RxNorm ingredient concepts, best first (medications only).
        normalized: canonical name (a brand's generic ingredient, an abbreviation expanded).
    """

    id: int = Field(ge=0)
    category: Category
    type: str
    score: float = Field(ge=0.0, le=1.0)
    traits: tuple[Trait, ...] = ()
    attributes: tuple[Attribute, ...] = ()
    section: str | None = None
    icd10cm: tuple[Concept, ...] = ()
    rxnorm: tuple[Concept, ...] = ()
    normalized: str | None = None

    def has_trait(self, name: TraitName) -> bool:
        """Tell whether the entity carries a trait.

        Args:
            name: the trait name.

        Returns:
            True when a trait of that name is present.
        """
        return any(t.name == name for t in self.traits)


class SectionSpan(Span):
    """A section of the note (Comprehend has no such output; medflow adds it).

    Attributes:
        name: normalised section name, e.g. ``ASSESSMENT_AND_PLAN``.
    """

    name: str


class ClinicalResult(BaseModel):
    """Everything extracted from one text.

    Attributes:
        text_length: length of the input text in characters.
        entities: entities in text order.
        unmapped_attributes: attributes that link to no entity.
        sections: the sections found, in text order.
        language_supported: False when the text is not English; then nothing was extracted.
        warnings: what could not be done, in words (no patient data).
        model_version: version string of the extractor (Comprehend ``ModelVersion``).
    """

    model_config = ConfigDict(frozen=True)

    text_length: int = Field(ge=0)
    entities: tuple[Entity, ...] = ()
    unmapped_attributes: tuple[Attribute, ...] = ()
    sections: tuple[SectionSpan, ...] = ()
    language_supported: bool = True
    warnings: tuple[str, ...] = ()
    model_version: str

    def by_category(self, category: Category) -> tuple[Entity, ...]:
        """Return the entities of one category, in text order.

        Args:
            category: the Comprehend category.

        Returns:
            The matching entities.
        """
        return tuple(e for e in self.entities if e.category == category)
