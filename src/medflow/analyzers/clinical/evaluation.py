"""Score extraction against hand-annotated gold entities (Comprehend-shaped dicts).

Matching: a system entity matches a gold entity of the same category whose span overlaps it
(one-to-one, largest overlap first) — the lenient criterion of the i2b2 2010 concept task
(Uzuner et al., JAMIA 2011). Exact-span matches are counted too. Attributes are matched the
same way, by type, within matched entity pairs; traits are compared on matched pairs.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

SCORED_CATEGORIES = (
    "MEDICATION",
    "MEDICAL_CONDITION",
    "TEST_TREATMENT_PROCEDURE",
    "PROTECTED_HEALTH_INFORMATION",
    "BEHAVIORAL_ENVIRONMENTAL_SOCIAL",
)
TRAIT_SCORED_CATEGORIES = ("MEDICATION", "MEDICAL_CONDITION")


@dataclass
class Counts:
    """True positives, false positives and false negatives."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        """tp / (tp + fp); 1.0 when nothing was predicted."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """tp / (tp + fn); 1.0 when nothing was expected."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class Scores:
    """All tallies of one evaluation run."""

    category: dict[str, Counts] = field(default_factory=lambda: defaultdict(Counts))
    category_exact: dict[str, Counts] = field(default_factory=lambda: defaultdict(Counts))
    phi_type: dict[str, Counts] = field(default_factory=lambda: defaultdict(Counts))
    attribute: dict[str, Counts] = field(default_factory=lambda: defaultdict(Counts))
    trait: dict[str, Counts] = field(default_factory=lambda: defaultdict(Counts))
    negation_agree: int = 0
    negation_total: int = 0

    @property
    def negation_accuracy(self) -> float:
        """Share of matched conditions/medications whose negation status agrees with gold."""
        return self.negation_agree / self.negation_total if self.negation_total else 1.0

    def medication_attributes(self) -> Counts:
        """Micro-averaged counts over the medication attribute types."""
        total = Counts()
        for name, c in self.attribute.items():
            if name not in ("TEST_VALUE", "TEST_UNIT", "ACUITY"):
                total.tp, total.fp, total.fn = total.tp + c.tp, total.fp + c.fp, total.fn + c.fn
        return total


def _overlap(a: dict[str, Any], b: dict[str, Any]) -> int:
    return int(min(a["EndOffset"], b["EndOffset"])) - int(max(a["BeginOffset"], b["BeginOffset"]))


def _pair(
    gold: list[dict[str, Any]], system: list[dict[str, Any]], key: str
) -> list[tuple[int, int]]:
    candidates = [
        (_overlap(g, s), gi, si)
        for gi, g in enumerate(gold)
        for si, s in enumerate(system)
        if g[key] == s[key] and _overlap(g, s) > 0
    ]
    candidates.sort(reverse=True)
    used_g: set[int] = set()
    used_s: set[int] = set()
    pairs = []
    for _, gi, si in candidates:
        if gi not in used_g and si not in used_s:
            used_g.add(gi)
            used_s.add(si)
            pairs.append((gi, si))
    return pairs


def _trait_names(entity: dict[str, Any]) -> set[str]:
    return {t if isinstance(t, str) else t["Name"] for t in entity.get("Traits", [])}


def score_record(gold: list[dict[str, Any]], system: list[dict[str, Any]], scores: Scores) -> None:
    """Add one record's comparison to the running tallies.

    Args:
        gold: gold entities (Traits as a list of names).
        system: system entities from ``to_comprehend`` (Traits as dicts).
        scores: the tallies to update.
    """
    system = [s for s in system if s["Category"] in SCORED_CATEGORIES]
    pairs = _pair(gold, system, "Category")
    matched_g = {g for g, _ in pairs}
    matched_s = {s for _, s in pairs}
    for gi, g in enumerate(gold):
        c = scores.category[g["Category"]]
        if gi in matched_g:
            c.tp += 1
        else:
            c.fn += 1
            for a in g.get("Attributes", []):
                scores.attribute[a["Type"]].fn += 1
        if g["Category"] == "PROTECTED_HEALTH_INFORMATION":
            pc = scores.phi_type[g["Type"]]
            if gi in matched_g:
                pc.tp += 1
            else:
                pc.fn += 1
    for si, s in enumerate(system):
        if si not in matched_s:
            scores.category[s["Category"]].fp += 1
            for a in s.get("Attributes", []):
                scores.attribute[a["Type"]].fp += 1
    exact = {(g["Category"], g["BeginOffset"], g["EndOffset"]) for g in gold}
    found = {(s["Category"], s["BeginOffset"], s["EndOffset"]) for s in system}
    for cat in SCORED_CATEGORIES:
        ce = scores.category_exact[cat]
        ce.tp += len({x for x in exact & found if x[0] == cat})
        ce.fn += len({x for x in exact - found if x[0] == cat})
        ce.fp += len({x for x in found - exact if x[0] == cat})
    for gi, si in pairs:
        g, s = gold[gi], system[si]
        g_attrs, s_attrs = g.get("Attributes", []), s.get("Attributes", [])
        a_pairs = _pair(g_attrs, s_attrs, "Type")
        for ga, _ in a_pairs:
            scores.attribute[g_attrs[ga]["Type"]].tp += 1
        for i, a in enumerate(g_attrs):
            if i not in {p[0] for p in a_pairs}:
                scores.attribute[a["Type"]].fn += 1
        for i, a in enumerate(s_attrs):
            if i not in {p[1] for p in a_pairs}:
                scores.attribute[a["Type"]].fp += 1
        if g["Category"] not in TRAIT_SCORED_CATEGORIES:
            continue
        gt, st = _trait_names(g), _trait_names(s)
        for name in gt | st:
            tc = scores.trait[name]
            if name in gt and name in st:
                tc.tp += 1
            elif name in st:
                tc.fp += 1
            else:
                tc.fn += 1
        scores.negation_total += 1
        scores.negation_agree += ("NEGATION" in gt) == ("NEGATION" in st)
