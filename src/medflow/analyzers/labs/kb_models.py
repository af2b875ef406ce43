"""The schema of the knowledge-base data files and of per-lab overrides, and LOINC checks.

Each model rejects unknown keys (as medspacy's ``from_dict`` rules do), so a typo in a data file
fails when the knowledge base loads, not when a report is read.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def loinc_check_digit(number: str) -> int:
    """The LOINC mod-10 check digit of the part before the hyphen.

    LOINC Users' Guide, appendix: double every other digit starting from the rightmost, add the
    digits of the results and the untouched digits, and take the distance to the next multiple
    of ten (the Luhn algorithm).

    Args:
        number: the digits before the hyphen (``"718"`` for ``718-7``).

    Returns:
        The check digit, 0-9.

    Raises:
        ValueError: when ``number`` is not all digits.
    """
    if not number.isdigit():
        raise ValueError(f"not a LOINC number: {number!r}")
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            digit = digit - 9 if digit > 9 else digit
        total += digit
    return (10 - total % 10) % 10


def is_valid_loinc(code: str) -> bool:
    """Whether ``code`` has the form ``NNNNN-C`` with a correct check digit."""
    number, sep, check = code.partition("-")
    if not sep or not number.isdigit() or len(check) != 1 or not check.isdigit():
        return False
    return loinc_check_digit(number) == int(check)


class UnitDef(_Strict):
    """A printed unit a test accepts besides its canonical one, with an analyte-specific factor.

    ``canonical = value * multiply + offset`` (or ``value / divide + offset``).
    """

    unit: str
    multiply: float | None = Field(default=None, gt=0)
    divide: float | None = Field(default=None, gt=0)
    offset: float = 0.0

    @model_validator(mode="after")
    def _one_factor(self) -> UnitDef:
        if (self.multiply is None) == (self.divide is None):
            raise ValueError(f"unit {self.unit!r}: give exactly one of multiply or divide")
        return self

    @property
    def factor(self) -> float:
        """The multiplier into the canonical unit."""
        return self.multiply if self.multiply is not None else 1.0 / (self.divide or 1.0)

    def to_canonical(self, value: float) -> float:
        """A value in ``unit`` expressed in the test's canonical unit."""
        return value * self.factor + self.offset

    def from_canonical(self, value: float) -> float:
        """A value in the canonical unit expressed in ``unit``."""
        return (value - self.offset) / self.factor


class RangeDef(_Strict):
    """A reference interval in the notation a report prints, for one sex and age band.

    Attributes:
        range: ``"13.5-17.5"``, ``"<200"``, ``">=60"``, ``"<=0.04"``.
        sex: ``male``, ``female`` or ``any``.
        age_min: the lowest age in years it applies to (inclusive).
        age_max: the age it stops applying at (exclusive).
    """

    range: str
    sex: Literal["male", "female", "any"] = "any"
    age_min: float | None = Field(default=None, ge=0)
    age_max: float | None = Field(default=None, gt=0)


class CriticalDef(_Strict):
    """Critical limits: a value below ``low`` or above ``high`` is critical."""

    low: float | None = None
    high: float | None = None


class EquivalentDef(_Strict):
    """Another test that measures the same thing on another basis (urea and urea nitrogen).

    ``other (its canonical unit) = this (canonical unit) * multiply``.
    """

    test: str
    multiply: float = Field(gt=0)


class TestDef(_Strict):
    """One test of the knowledge base.

    Attributes:
        id: the stable key (``"hemoglobin"``).
        name: the display name.
        loinc: the LOINC code.
        unit: the canonical UCUM unit (``""`` for qualitative-only tests).
        aliases: printed names (abbreviations; US, UK and Indian lab names).
        alternates: tests with a similar name told apart by unit (``%`` vs absolute counts).
        units: analyte-specific accepted units with their factors into ``unit``.
        ranges: adult reference intervals in ``unit`` by sex and age.
        critical: critical limits in ``unit``.
        noise_margin: fraction of the limit within which a deviation is noise (0: never).
        rcv: reference change value as a fraction (significant change between two results).
        specimen: blood, serum/plasma or urine.
        kind: quantitative or qualitative.
        expected: the qualitative word a normal result reads (``negative``).
        trace_is_noise: a "trace" result counts as noise rather than significant.
        source: the reference the ranges come from: in the data file, a key of the file's
            ``sources``; once loaded, the citation it names.
        loinc_units: LOINC codes for results in another unit than the canonical one, by UCUM
            unit (``{mmol/L: 14647-2}``: cholesterol in mmol/L is ``Cholesterol [Moles/volume]``);
            a unit of the same dimension (``umol/L`` for ``mmol/L``) takes the same code.
        equivalents: tests measuring the same analyte on another basis, with the factor.
    """

    __test__ = False

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    loinc: str
    unit: str
    aliases: tuple[str, ...] = ()
    alternates: tuple[str, ...] = ()
    units: tuple[UnitDef, ...] = ()
    ranges: tuple[RangeDef, ...] = ()
    critical: CriticalDef | None = None
    noise_margin: float = Field(default=0.0, ge=0.0, le=1.0)
    rcv: float | None = Field(default=None, gt=0.0)
    specimen: Literal["blood", "serum", "urine"] = "blood"
    kind: Literal["quantitative", "qualitative"] = "quantitative"
    expected: str | None = None
    trace_is_noise: bool = False
    source: str = ""
    loinc_units: dict[str, str] = Field(default_factory=dict)
    equivalents: tuple[EquivalentDef, ...] = ()


class ContextDef(_Strict):
    """A name prefix tried first when the section or name contains one of ``words``."""

    prefix: str
    words: tuple[str, ...]


class MatchingDef(_Strict):
    """How section context and stop words help match printed names."""

    contexts: tuple[ContextDef, ...] = ()
    strip_words: tuple[str, ...] = ()


class TestsFile(_Strict):
    """One ``tests_*.yaml`` file."""

    __test__ = False

    sources: dict[str, str] = Field(default_factory=dict)
    tests: tuple[TestDef, ...]
    matching: MatchingDef | None = None


class PanelDef(_Strict):
    """A LOINC order panel and the tests that make it up.

    Attributes:
        id: the stable key (``cbc``).
        name: the LOINC display name.
        loinc: the panel's LOINC code.
        members: the knowledge-base tests of the panel.
        min_members: how many of ``members`` a report must hold to be read as this panel.
        requires_all: each of these must be present (a BMP needs its creatinine).
        requires_any: at least one of these must be present too (a differential count for
            "CBC with differential"); empty: no such condition.
        supersedes: smaller panels this one contains (a CMP holds a BMP and a hepatic panel).
    """

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    loinc: str
    members: tuple[str, ...]
    min_members: int = Field(ge=1)
    requires_all: tuple[str, ...] = ()
    requires_any: tuple[str, ...] = ()
    supersedes: tuple[str, ...] = ()


class PanelsFile(_Strict):
    """``panels.yaml``."""

    panels: tuple[PanelDef, ...]


class TestOverride(_Strict):
    """A lab's own ranges and limits for one test.

    Attributes:
        unit: the unit of the numbers below (a UCUM code the test accepts); the test's canonical
            unit when None.
        ranges: replace the knowledge base's reference intervals.
        critical: replace the critical limits.
        noise_margin: replace the noise margin.
    """

    __test__ = False

    unit: str | None = None
    ranges: tuple[RangeDef, ...] | None = None
    critical: CriticalDef | None = None
    noise_margin: float | None = Field(default=None, ge=0.0, le=1.0)


class LabOverrides(_Strict):
    """Configuration for one named laboratory."""

    lab: str = ""
    tests: dict[str, TestOverride] = Field(default_factory=dict)
