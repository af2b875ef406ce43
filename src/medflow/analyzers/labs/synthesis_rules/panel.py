"""What synthesis rules see: the report's results by test, in the units the rules think in,
and the thresholds from ``knowledge/synthesis_rules.yaml``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import yaml

from medflow.analyzers.labs.kb import KnowledgeBase
from medflow.analyzers.labs.kb_errors import KnowledgeBaseError
from medflow.domain.labs import (
    Evidence,
    Finding,
    FindingSeverity,
    Flag,
    LabResult,
    Significance,
)
from medflow.domain.patient import PatientInfo, Sex

if TYPE_CHECKING:
    from medflow.analyzers.labs.trends import HistoricalResult

_FILE = "synthesis_rules.yaml"
_SECTIONS = frozenset(
    {
        "anemia", "polycythemia", "iron", "b12_folate", "diabetes", "hypoglycemia", "lipids",
        "ckd", "liver", "thyroid", "electrolytes", "inflammation", "platelets", "vitamin_d",
        "cardiac", "coagulation", "urate", "trends",
    }
)  # fmt: skip


class RuleSection:
    """One section of the rules file (``anemia``, ``electrolytes.sodium``...)."""

    def __init__(self, name: str, data: Mapping[str, Any]) -> None:
        self.name = name
        self._data = data

    @property
    def guideline(self) -> str:
        """The guideline the section's thresholds come from."""
        return str(self._data.get("guideline", ""))

    def text(self, key: str) -> str:
        """A text entry of the section (``hb_guideline``); ``""`` when absent."""
        return str(self._data.get(key, ""))

    def num(self, key: str) -> float:
        """A threshold (dotted keys reach into mappings: ``ldl.high``).

        Raises:
            KnowledgeBaseError: when the key is missing or not a number.
        """
        value: Any = self._data
        for part in key.split("."):
            if not isinstance(value, Mapping) or part not in value:
                raise KnowledgeBaseError(f"{_FILE}: {self.name}.{key} is missing")
            value = value[part]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise KnowledgeBaseError(f"{_FILE}: {self.name}.{key} is not a number")
        return float(value)

    def by_sex(self, key: str, sex: Sex) -> float:
        """A sex-specific threshold (``hb_below.female``); ``unknown`` when sex is not given."""
        return self.num(f"{key}.{sex.value}")

    def sub(self, name: str) -> RuleSection:
        """A nested section (``electrolytes`` -> ``sodium``)."""
        data = self._data.get(name)
        if not isinstance(data, Mapping):
            raise KnowledgeBaseError(f"{_FILE}: {self.name}.{name} is missing")
        return RuleSection(f"{self.name}.{name}", data)


@lru_cache(maxsize=1)
def load_rules() -> Mapping[str, RuleSection]:
    """Load the packaged synthesis thresholds once.

    Raises:
        KnowledgeBaseError: when a section is unknown or missing.
    """
    text = resources.files("medflow.analyzers.labs.knowledge").joinpath(_FILE).read_text("utf-8")
    data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    if not isinstance(data, dict) or set(data) != _SECTIONS:
        got = set(data) if isinstance(data, dict) else set()
        raise KnowledgeBaseError(
            f"{_FILE}: sections differ: unknown {sorted(got - _SECTIONS)}, "
            f"missing {sorted(_SECTIONS - got)}"
        )
    return {name: RuleSection(name, body) for name, body in data.items()}


def fmt(value: float) -> str:
    """A number for an explanation (3 significant digits, no trailing zeros)."""
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


@dataclass
class Panel:
    """The results of one report, looked up by test id and converted as the rules need.

    Attributes:
        results: every interpreted result.
        patient: the patient.
        kb: the knowledge base (unit conversions).
        rules: the thresholds.
        history: earlier results of the patient.
        collected_at: when this report's samples were taken.
        findings: findings added so far by the rules.
    """

    results: Sequence[LabResult]
    patient: PatientInfo
    kb: KnowledgeBase
    rules: Mapping[str, RuleSection]
    history: Sequence[HistoricalResult] = ()
    collected_at: datetime | None = None
    findings: list[Finding] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._by_id: dict[str, LabResult] = {}
        for result in self.results:
            if result.test_id and result.test_id not in self._by_id:
                self._by_id[result.test_id] = result

    def result(self, test_id: str) -> LabResult | None:
        """The first result of ``test_id`` on the report, or None."""
        return self._by_id.get(test_id)

    def value(self, test_id: str, unit: str | None = None) -> float | None:
        """The numeric value of ``test_id`` in ``unit`` (the test's canonical unit when None).

        A censored value (``<0.5``) gives its bound. None when absent, qualitative, or in a unit
        that does not convert.
        """
        result = self._by_id.get(test_id)
        if result is None or result.value is None:
            return None
        target = unit or self.kb.get(test_id).unit
        source = result.unit or self.kb.get(test_id).unit
        return self.kb.convert(test_id, result.value, source, target)

    def first(self, *test_ids: str) -> tuple[str, float] | None:
        """The first of ``test_ids`` with a numeric value, as (id, value in canonical unit)."""
        for test_id in test_ids:
            value = self.value(test_id)
            if value is not None:
                return test_id, value
        return None

    def uln(self, test_id: str) -> float | None:
        """The upper limit of normal applied to ``test_id``, in the result's own unit."""
        result = self._by_id.get(test_id)
        if result is None or result.reference_range is None:
            return None
        return result.reference_range.high

    def shown(self, test_id: str) -> str:
        """``"Hemoglobin 9.1 g/dL"``: the result as printed, for explanations."""
        result = self._by_id.get(test_id)
        if result is None:
            return test_id
        printed = result.printed_unit.strip() or result.unit
        unit = f" {printed}" if printed and result.value is not None else ""
        return f"{result.name} {result.value_text.strip()}{unit}"

    def evidence(self, test_ids: Iterable[str]) -> tuple[Evidence, ...]:
        """Evidence entries for the ``test_ids`` present on the report."""
        out = []
        for test_id in test_ids:
            result = self._by_id.get(test_id)
            if result is None:
                continue
            rng = result.reference_range
            out.append(
                Evidence(
                    test_id=test_id,
                    name=result.name,
                    loinc=result.loinc,
                    value=result.value,
                    value_text=result.value_text,
                    unit=result.unit,
                    flag=result.flag,
                    reference_range=rng.text if rng is not None else "",
                )
            )
        return tuple(out)

    def add(
        self,
        code: str,
        title: str,
        severity: FindingSeverity,
        explanation: str,
        test_ids: Iterable[str],
        guideline: str,
        *,
        noise_check: bool = True,
    ) -> None:
        """Record a finding; it becomes critical when any of its values is critical, and
        information only when its trigger lies inside the range printed on the report.

        The first of ``test_ids`` is the value that triggered the finding: when that result was
        set aside as noise (a deviation within the test's noise margin), the finding is not
        recorded, so the summary never both dismisses and reports the same value. Pass
        ``noise_check=False`` when the trigger is a derived value (corrected calcium).
        """
        ids = list(test_ids)
        trigger = self._by_id.get(ids[0]) if ids else None
        if noise_check and trigger is not None and trigger.significance is Significance.NOISE:
            return
        printed = trigger.reference_range if trigger is not None else None
        if (
            noise_check
            and severity is FindingSeverity.SIGNIFICANT
            and trigger is not None
            and trigger.flag is Flag.NORMAL
            and printed is not None
            and printed.source == "report"
        ):
            # a guideline threshold crossed inside the range the laboratory printed beside
            # the value (haemoglobin 16.6 g/dL, 13.5-17.5: over the WHO 16.5 for men): the
            # report calls it normal, so the finding is information, not an alarm
            severity = FindingSeverity.INFO
            explanation = (
                f"{explanation} The value lies inside the range printed on the report "
                f"({printed.text}): for information."
            )
        if any(
            (r := self._by_id.get(t)) is not None and r.significance is Significance.CRITICAL
            for t in ids
        ):
            severity = FindingSeverity.CRITICAL
        self.findings.append(
            Finding(
                code=code,
                title=title,
                severity=severity,
                explanation=explanation,
                evidence=self.evidence(ids),
                guideline=guideline,
            )
        )
