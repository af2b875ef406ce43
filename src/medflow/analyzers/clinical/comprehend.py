"""Render a ClinicalResult as AWS Comprehend Medical's DetectEntitiesV2 response.

Shape per the API reference (https://docs.aws.amazon.com/comprehend-medical/latest/api/
API_DetectEntitiesV2.html, Response Syntax): ``Entities``, ``UnmappedAttributes``,
``ModelVersion`` (``PaginationToken`` is omitted: medflow never paginates, it returns the whole
document). An AWS user can switch without rewriting code that reads those keys.

medflow extension (``concepts=True``, the default): each entity may carry ``ICD10CMConcepts``
(conditions) and ``RxNormConcepts`` (medications), lists of ``{Code, Description, Score}`` as
Comprehend's InferICD10CM / InferRxNorm responses name them. Pass ``concepts=False`` for the
exact DetectEntitiesV2 key set.
"""

from __future__ import annotations

from typing import Any

from medflow.domain.clinical import Attribute, ClinicalResult, Concept, Entity, Trait


def _traits(traits: tuple[Trait, ...]) -> list[dict[str, Any]]:
    return [{"Name": t.name, "Score": t.score} for t in traits]


def _attribute(a: Attribute) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Type": a.type,
        "Score": a.score,
        "RelationshipScore": a.relationship_score,
        "Id": a.id,
        "BeginOffset": a.begin,
        "EndOffset": a.end,
        "Text": a.text,
        "Category": a.category,
        "Traits": _traits(a.traits),
    }
    if a.relationship_type is not None:
        out["RelationshipType"] = a.relationship_type
    return out


def _concepts(concepts: tuple[Concept, ...]) -> list[dict[str, Any]]:
    return [{"Code": c.code, "Description": c.description, "Score": c.score} for c in concepts]


def _entity(e: Entity, concepts: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Id": e.id,
        "BeginOffset": e.begin,
        "EndOffset": e.end,
        "Score": e.score,
        "Text": e.text,
        "Category": e.category,
        "Type": e.type,
        "Traits": _traits(e.traits),
    }
    if e.attributes:
        out["Attributes"] = [_attribute(a) for a in e.attributes]
    if concepts and e.icd10cm:
        out["ICD10CMConcepts"] = _concepts(e.icd10cm)
    if concepts and e.rxnorm:
        out["RxNormConcepts"] = _concepts(e.rxnorm)
    return out


def to_comprehend(result: ClinicalResult, concepts: bool = True) -> dict[str, Any]:
    """Convert a result to Comprehend Medical's DetectEntitiesV2 JSON shape.

    Args:
        result: the extraction result.
        concepts: add medflow's ``ICD10CMConcepts`` / ``RxNormConcepts`` keys per entity.

    Returns:
        A JSON-serialisable dict with ``Entities``, ``UnmappedAttributes`` and ``ModelVersion``.
        Offsets are character offsets into the exact input text.
    """
    return {
        "Entities": [_entity(e, concepts) for e in result.entities],
        "UnmappedAttributes": [
            {"Type": a.category, "Attribute": _attribute(a)} for a in result.unmapped_attributes
        ],
        "ModelVersion": result.model_version,
    }
