"""Clinical pattern rules of the labs summary, one module per area.

Each rule is a function ``rule(panel) -> None`` that reads values from a
:class:`~medflow.analyzers.labs.synthesis_rules.panel.Panel` and records findings on it; every
threshold comes from ``knowledge/synthesis_rules.yaml``.
"""

from __future__ import annotations

from collections.abc import Callable

from medflow.analyzers.labs.synthesis_rules import (
    coagulation,
    electrolytes,
    hematology,
    inflammation,
    metabolic,
    organs,
)
from medflow.analyzers.labs.synthesis_rules.panel import Panel, RuleSection, load_rules

Rule = Callable[[Panel], None]

RULES: tuple[Rule, ...] = (
    electrolytes.potassium,
    electrolytes.sodium,
    electrolytes.calcium,
    electrolytes.magnesium_phosphate,
    metabolic.hypoglycemia,
    organs.cardiac,
    hematology.anemia,
    hematology.iron,
    hematology.b12_folate,
    hematology.platelets,
    inflammation.inflammation,
    organs.ckd,
    organs.liver,
    organs.thyroid,
    metabolic.diabetes,
    metabolic.lipids,
    metabolic.vitamin_d,
    coagulation.coagulation,
    coagulation.urate,
)

__all__ = ["RULES", "Panel", "Rule", "RuleSection", "load_rules"]
