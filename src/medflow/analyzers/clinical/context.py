"""Comprehend traits from medspaCy ConText modifiers and from the section an entity lies in.

ConText categories (Harkema et al. 2009) map to Comprehend Medical trait names:
NEGATED_EXISTENCE -> NEGATION, POSSIBLE_EXISTENCE and HYPOTHETICAL -> HYPOTHETICAL,
HISTORICAL -> PAST_HISTORY, FAMILY -> PERTAINS_TO_FAMILY, UNCERTAIN (our rules: "presumed",
"likely") -> LOW_CONFIDENCE. ConText scopes stop at the sentence; sections widen two of them:
a finding under "Family History" pertains to family, one under "Past Medical History" is past.
"""

from __future__ import annotations

from functools import cache

from medflow.domain.clinical import Trait, TraitName

_CONTEXT_TRAIT: dict[str, TraitName] = {
    "NEGATED_EXISTENCE": "NEGATION",
    "POSSIBLE_EXISTENCE": "HYPOTHETICAL",
    "HYPOTHETICAL": "HYPOTHETICAL",
    "HISTORICAL": "PAST_HISTORY",
    "FAMILY": "PERTAINS_TO_FAMILY",
    "UNCERTAIN": "LOW_CONFIDENCE",
}
_SECTION_TRAIT: dict[str, TraitName] = {
    "FAMILY_HISTORY": "PERTAINS_TO_FAMILY",
    "PAST_MEDICAL_HISTORY": "PAST_HISTORY",
    "PAST_SURGICAL_HISTORY": "PAST_HISTORY",
}
# Categories whose entities get context traits (Comprehend puts them on conditions,
# medications and tests/procedures).
_CONTEXT_CATEGORIES = frozenset({"MEDICAL_CONDITION", "MEDICATION", "TEST_TREATMENT_PROCEDURE"})


def section_name(category: str | None) -> str | None:
    """Normalise a medspaCy section category to medflow's upper-case section name.

    Args:
        category: e.g. ``"past_medical_history"``.

    Returns:
        e.g. ``"PAST_MEDICAL_HISTORY"``, or None.
    """
    return category.upper() if category else None


def entity_traits(
    category: str, modifiers: frozenset[str], kind: str | None, section: str | None
) -> tuple[Trait, ...]:
    """Compute the traits of one entity.

    Args:
        category: the entity's Comprehend category.
        modifiers: the ConText categories that modify it (e.g. ``NEGATED_EXISTENCE``).
        kind: SIGN, SYMPTOM or DIAGNOSIS from the lexicon, for conditions.
        section: the section the entity lies in.

    Returns:
        Traits, one per name, in a stable order.
    """
    names: dict[TraitName, float] = {}
    if kind in ("SIGN", "SYMPTOM", "DIAGNOSIS"):
        names[kind] = 0.9  # type: ignore[index]
    if category in _CONTEXT_CATEGORIES:
        for modifier in sorted(modifiers):
            trait = _CONTEXT_TRAIT.get(modifier)
            if trait is not None:
                names.setdefault(trait, 0.85)
        trait = _SECTION_TRAIT.get(section or "")
        if trait is not None and category == "MEDICAL_CONDITION":
            names.setdefault(trait, 0.8)
    return tuple(_trait(n, s) for n, s in sorted(names.items()))


@cache
def _trait(name: TraitName, score: float) -> Trait:
    # Traits are frozen values; a handful of distinct ones serve every entity.
    return Trait(name=name, score=score)
