"""The lab knowledge base: tests, aliases, units, reference ranges and critical limits as data.

The data lives in ``knowledge/tests_*.yaml`` (sources named at the top of each file); this module
loads it once, validates it, and answers: which test is this printed name, how does this unit
convert, what range and critical limits apply to this patient in this unit.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ValidationError

from medflow.analyzers.labs.kb_data import (
    TestsData,
    first_error,
    panels_for,
    read_panels,
    read_tests,
)
from medflow.analyzers.labs.kb_errors import KnowledgeBaseError
from medflow.analyzers.labs.kb_models import (
    CriticalDef,
    LabOverrides,
    MatchingDef,
    PanelDef,
    RangeDef,
    TestDef,
    is_valid_loinc,
)
from medflow.analyzers.labs.units import UnitTable
from medflow.analyzers.labs.values import bounds_inclusive, parse_range
from medflow.domain.labs import ReferenceRange
from medflow.domain.patient import Sex

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 10x faster
_MARKS = re.compile(r"([%#])")
_PUNCT = re.compile(r"[^a-z0-9%#+ ]+")
_PAREN = re.compile(r"\(([^)]*)\)")
_MATCH_CACHE_SIZE = 4096
_DEFAULT_AGE = 40.0  # an unknown age is read as a mid-life adult for age-banded ranges


def normalize_name(text: str) -> str:
    """The matching key of a printed test name.

    Lower case; accents folded (``Triglicéridos`` is ``trigliceridos``); ``%`` and ``#`` kept as
    words; ``+`` kept (``Ca++`` is not ``Ca``); every other punctuation mark a space; white space
    collapsed.
    """
    text = text.lower().replace("µ", "u").replace("μ", "u")
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    text = _MARKS.sub(r" \1 ", text)
    text = _PUNCT.sub(" ", text)
    return " ".join(text.split())


def _squeeze(key: str) -> str:
    return key.replace(" ", "")


def _fmt(value: float) -> str:
    return f"{value:.4g}"


class _Parsed:
    __slots__ = ("high", "low", "spec", "text")

    def __init__(self, spec: RangeDef, low: float | None, high: float | None, text: str) -> None:
        self.spec = spec
        self.low = low
        self.high = high
        self.text = text


def _parse_ranges(where: str, ranges: Sequence[RangeDef]) -> list[_Parsed]:
    out = []
    for spec in ranges:
        parsed = parse_range(spec.range)
        if parsed is None or (parsed.low is None and parsed.high is None):
            raise KnowledgeBaseError(
                f"{where}: range {spec.range!r} is not readable or low >= high"
            )
        if spec.age_min is not None and spec.age_max is not None and spec.age_min >= spec.age_max:
            raise KnowledgeBaseError(f"{where}: range {spec.range!r} has age_min >= age_max")
        out.append(_Parsed(spec, parsed.low, parsed.high, parsed.text))
    return out


def _check_critical(where: str, critical: CriticalDef | None, ranges: Sequence[_Parsed]) -> None:
    if critical is None:
        return
    for rng in ranges:
        if critical.low is not None and rng.low is not None and critical.low >= rng.low:
            raise KnowledgeBaseError(f"{where}: critical low {critical.low} is inside {rng.text!r}")
        if critical.high is not None and rng.high is not None and critical.high <= rng.high:
            raise KnowledgeBaseError(
                f"{where}: critical high {critical.high} is inside {rng.text!r}"
            )
        open_high = rng.high is None and rng.low is not None
        if critical.high is not None and open_high and critical.high <= (rng.low or 0.0):
            raise KnowledgeBaseError(f"{where}: critical high {critical.high} below range")


class KnowledgeBase:
    """Tests, aliases, units, reference ranges and critical limits, with per-lab overrides.

    Build one with :meth:`load`; it is immutable afterwards and safe to share between threads.

    Attributes:
        units: the unit spelling and conversion table.
        lab_name: the laboratory the overrides belong to, or ``""``.
    """

    def __init__(
        self,
        tests: Sequence[TestDef],
        matching: MatchingDef,
        units: UnitTable,
        overrides: LabOverrides | None = None,
        *,
        sources: Mapping[str, str] | None = None,
        panels: Sequence[PanelDef] = (),
    ) -> None:
        self.units = units
        self._sources = dict(sources or {})
        self._panels = tuple(panels)
        self._tests: dict[str, TestDef] = {}
        self._ranges: dict[str, list[_Parsed]] = {}
        self._alias: dict[str, str] = {}
        self._squeezed: dict[str, str] = {}
        self._matching = matching
        self._strip = frozenset(normalize_name(w) for w in matching.strip_words)
        self._contexts = [
            (normalize_name(c.prefix), tuple(normalize_name(w) for w in c.words))
            for c in matching.contexts
        ]
        self._match_cache: dict[tuple[str, str, str], TestDef | None] = {}
        for test in tests:
            self._add(test)
        for test in self._tests.values():
            self._validate(test)
        self.lab_name = ""
        self._lab_ranges: dict[str, tuple[str, list[_Parsed]]] = {}
        self._lab_critical: dict[str, tuple[str, CriticalDef]] = {}
        self._lab_noise: dict[str, float] = {}
        if overrides is not None:
            self._apply(overrides)

    # -- loading -------------------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        overrides: Mapping[str, Any] | str | Path | None = None,
        *,
        data_dir: Path | None = None,
    ) -> KnowledgeBase:
        """Load the knowledge base, optionally with one laboratory's overrides.

        The override format (a mapping, or a YAML/JSON file holding one)::

            lab: "Acme Diagnostics"           # the laboratory these values belong to
            tests:
              hemoglobin:                     # a knowledge-base test id
                unit: g/dL                    # optional: unit of the numbers below (UCUM);
                                              # default: the test's canonical unit
                ranges:                       # optional: replaces the reference intervals
                  - {sex: male, range: "13.0-17.0"}
                  - {sex: female, range: "11.5-15.0", age_min: 18}
                critical: {low: 6.5, high: 21.0}   # optional: replaces the critical limits
                noise_margin: 0.05            # optional: replaces the noise margin

        Override ranges are reported with ``source="lab_config"``; they replace the knowledge
        base's but never a range printed on the report.

        Args:
            overrides: the laboratory's configuration, a path to it, or None.
            data_dir: a folder with ``tests_*.yaml`` and ``units.yaml`` to use instead of the
                packaged data (for tests and for sites that curate their own).

        Returns:
            The validated knowledge base.

        Raises:
            KnowledgeBaseError: a data file or the overrides are invalid (unknown key, bad LOINC
                check digit, duplicate alias, low >= high, critical limit inside the range,
                unknown unit or test id); the message names the file and the entry.
        """
        if data_dir is None:
            data, units = _packaged_data()
            panels = _packaged_panels()
        else:
            data = read_tests(data_dir)
            units = UnitTable.load(data_dir / "units.yaml")
            panels = read_panels(data_dir, {t.id for t in data.tests})
        lab = _read_overrides(overrides) if overrides is not None else None
        return cls(data.tests, data.matching, units, lab, sources=data.sources, panels=panels)

    def _add(self, test: TestDef) -> None:
        where = f"test {test.id!r}"
        if test.id in self._tests:
            raise KnowledgeBaseError(f"{where}: defined twice")
        if not is_valid_loinc(test.loinc):
            raise KnowledgeBaseError(f"{where}: LOINC {test.loinc} has a wrong check digit")
        self._tests[test.id] = test
        self._ranges[test.id] = _parse_ranges(where, test.ranges)
        for alias in {test.id.replace("_", " "), test.name, *test.aliases}:
            key = normalize_name(alias)
            for index, k in ((self._alias, key), (self._squeezed, _squeeze(key))):
                owner = index.setdefault(k, test.id)
                if owner != test.id:
                    raise KnowledgeBaseError(f"{where}: alias {alias!r} also names {owner!r}")

    def _validate(self, test: TestDef) -> None:
        where = f"test {test.id!r}"
        for alt in test.alternates:
            if alt not in self._tests:
                raise KnowledgeBaseError(f"{where}: alternate {alt!r} is not a test")
        for eq in test.equivalents:
            if eq.test not in self._tests:
                raise KnowledgeBaseError(f"{where}: equivalent {eq.test!r} is not a test")
        for unit in test.loinc_units:
            if not self.units.is_known(unit):
                raise KnowledgeBaseError(f"{where}: LOINC unit {unit!r} is not a known UCUM code")
        if test.unit and not self.units.is_known(test.unit):
            raise KnowledgeBaseError(f"{where}: unit {test.unit!r} is not a known UCUM code")
        for extra in test.units:
            if not self.units.is_known(extra.unit):
                raise KnowledgeBaseError(f"{where}: unit {extra.unit!r} is not a known UCUM code")
        _check_critical(where, test.critical, self._ranges[test.id])

    def _apply(self, lab: LabOverrides) -> None:
        self.lab_name = lab.lab
        for test_id, override in lab.tests.items():
            where = f"overrides: test {test_id!r}"
            test = self._tests.get(test_id)
            if test is None:
                raise KnowledgeBaseError(f"{where}: no such test in the knowledge base")
            unit = override.unit or test.unit
            if self.convert(test_id, 1.0, unit, test.unit) is None:
                raise KnowledgeBaseError(f"{where}: unit {unit!r} does not convert to {test.unit}")
            ranges = self._ranges[test_id]
            if override.ranges is not None:
                ranges = _parse_ranges(where, override.ranges)
                self._lab_ranges[test_id] = (unit, ranges)
            if override.critical is not None:
                self._lab_critical[test_id] = (unit, override.critical)
                if override.ranges is not None or unit == test.unit:
                    _check_critical(where, override.critical, ranges)
            if override.noise_margin is not None:
                self._lab_noise[test_id] = override.noise_margin

    # -- lookup --------------------------------------------------------------------------------

    @property
    def tests(self) -> Mapping[str, TestDef]:
        """Every test, by id."""
        return self._tests

    def aliases(self) -> Mapping[str, str]:
        """Every matching key (a test's id, name and aliases, :func:`normalize_name`'d) -> the
        id of its test; for callers that compare a name OCR garbled with every key."""
        return self._alias

    def get(self, test_id: str) -> TestDef:
        """The test with id ``test_id``.

        Raises:
            KeyError: when there is no such test.
        """
        return self._tests[test_id]

    def _lookup(self, key: str) -> str | None:
        return self._alias.get(key) or self._squeezed.get(_squeeze(key))

    def _candidates(self, name: str) -> list[str]:
        full = normalize_name(name)
        bare = normalize_name(_PAREN.sub(" ", name))
        inner = [normalize_name(m) for m in _PAREN.findall(name)]
        out: list[str] = []
        for key in (full, bare):
            stripped = " ".join(w for w in key.split() if w not in self._strip)
            out.extend([key, stripped])
        out.extend(inner)
        return [k for i, k in enumerate(out) if k and k not in out[:i]]

    def match(self, name: str, section: str = "", unit: str = "") -> TestDef | None:
        """The test a printed row names.

        The section and the name select a context first (``Glucose`` under ``URINE ROUTINE`` is
        tried as ``urine glucose``); then the name as printed, without the parenthesised part,
        without stop words (``S. Creatinine``), and the parenthesised part alone (``ALT (SGPT)``).
        The printed unit finally chooses between alternates (``Neutrophils`` in ``%`` or in
        ``10^3/uL``; ``HbA1c`` in ``%`` or ``mmol/mol``).

        Args:
            name: the test name as printed.
            section: the section header above the row, or ``""``.
            unit: the unit as printed, or ``""``.

        Returns:
            The test, or None when no alias matches.
        """
        key = (name, section, unit)
        if key in self._match_cache:
            return self._match_cache[key]
        test = self._match(name, section, unit)
        if len(self._match_cache) < _MATCH_CACHE_SIZE:
            self._match_cache[key] = test
        return test

    def _match(self, name: str, section: str, unit: str) -> TestDef | None:
        context = normalize_name(f"{section} {name}")
        prefixes = [p for p, words in self._contexts if any(w in context for w in words)]
        found: str | None = None
        for key in self._candidates(name):
            for prefix in prefixes:
                if not key.startswith(prefix) and not key.endswith(prefix):
                    # English puts the specimen first ("urine glucose"), Spanish last
                    # ("glucosa orina")
                    found = self._lookup(f"{prefix} {key}") or self._lookup(f"{key} {prefix}")
                    if found:
                        break
            found = found or self._lookup(key)
            if found:
                break
        if found is None:
            return None
        return self._by_unit(self._tests[found], unit)

    def _by_unit(self, test: TestDef, printed_unit: str) -> TestDef:
        ucum = self.units.to_ucum(printed_unit) if printed_unit else None
        if not ucum or not test.alternates:
            return test
        best, best_score = test, self._unit_score(test, ucum)
        for alt_id in test.alternates:
            alt = self._tests[alt_id]
            score = self._unit_score(alt, ucum)
            if score > best_score:
                best, best_score = alt, score
        return best

    def _unit_score(self, test: TestDef, ucum: str) -> int:
        if ucum == test.unit:
            return 2
        return 1 if self.convert(test.id, 1.0, ucum, test.unit) is not None else 0

    # -- units ---------------------------------------------------------------------------------

    def to_ucum(self, printed: str) -> str | None:
        """The UCUM code of a printed unit, ``""`` for none, None when unknown."""
        return self.units.to_ucum(printed)

    def _to_canonical(self, test: TestDef, value: float, unit: str) -> float | None:
        if unit == test.unit:
            return value
        for extra in test.units:
            if extra.unit == unit:
                return extra.to_canonical(value)
        generic = self.units.convert(value, unit, test.unit) if test.unit else None
        if generic is not None:
            return generic
        for extra in test.units:
            via = self.units.convert(value, unit, extra.unit)
            if via is not None:
                return extra.to_canonical(via)
        return None

    def _from_canonical(self, test: TestDef, value: float, unit: str) -> float | None:
        if unit == test.unit:
            return value
        for extra in test.units:
            if extra.unit == unit:
                return extra.from_canonical(value)
        generic = self.units.convert(value, test.unit, unit) if test.unit else None
        if generic is not None:
            return generic
        for extra in test.units:
            via = self.units.convert(extra.from_canonical(value), extra.unit, unit)
            if via is not None:
                return via
        return None

    def convert(self, test_id: str, value: float, from_unit: str, to_unit: str) -> float | None:
        """Convert a result of ``test_id`` between two UCUM units.

        Analyte-specific factors (glucose mmol/L -> mg/dL x 18.016; HbA1c mmol/mol -> % by the
        IFCC-NGSP master equation) come from the test; same-dimension factors (g/L -> g/dL)
        from the unit table.

        Returns:
            The converted value, or None when the units do not convert for this test.

        Raises:
            KeyError: when ``test_id`` is not a test.
        """
        test = self._tests[test_id]
        if from_unit == to_unit:
            return value
        canonical = self._to_canonical(test, value, from_unit)
        if canonical is None:
            return None
        return self._from_canonical(test, canonical, to_unit)

    def accepts(self, test_id: str, ucum: str) -> bool:
        """Whether a result of ``test_id`` in ``ucum`` can be converted to the canonical unit."""
        return self.convert(test_id, 1.0, ucum, self._tests[test_id].unit) is not None

    def convert_to_test(
        self, test_id: str, value: float, unit: str, other_id: str, other_unit: str
    ) -> float | None:
        """A result of ``test_id`` expressed as the equivalent test ``other_id``.

        Urea and urea nitrogen (BUN) measure the same molecule: BUN mg/dL = urea mmol/L * 2.801
        (two nitrogen atoms of 14.007 g/mol per urea); urea mg/dL = BUN mg/dL * 2.144.

        Returns:
            The value, or None when the tests are not equivalent or a unit does not convert.
        """
        if test_id == other_id:
            return self.convert(test_id, value, unit, other_unit)
        canonical = self.convert(test_id, value, unit, self._tests[test_id].unit)
        if canonical is None:
            return None
        for eq in self._tests[test_id].equivalents:
            if eq.test == other_id:
                other = self._tests[other_id]
                return self.convert(other_id, canonical * eq.multiply, other.unit, other_unit)
        for eq in self._tests[other_id].equivalents:
            if eq.test == test_id:
                other = self._tests[other_id]
                return self.convert(other_id, canonical / eq.multiply, other.unit, other_unit)
        return None

    # -- codes, sources, panels ----------------------------------------------------------------

    def loinc_for(self, test_id: str, ucum: str) -> str | None:
        """The LOINC code of a result of ``test_id`` in ``ucum``; None for an unknown test.

        LOINC codes mass and substance concentrations apart (cholesterol in mg/dL is 2093-3, in
        mmol/L 14647-2): a unit listed in the test's ``loinc_units``, or one of the same
        dimension (``umol/L`` for ``mmol/L``), takes that code; any other unit the test's own.
        """
        test = self._tests.get(test_id)
        if test is None:
            return None
        if ucum in test.loinc_units:
            return test.loinc_units[ucum]
        dim = self.units.dimension(ucum) if ucum else None
        if dim is not None and dim != self.units.dimension(test.unit):
            for unit, code in test.loinc_units.items():
                if self.units.dimension(unit) == dim:
                    return code
        return test.loinc

    def source_of(self, test_id: str) -> str:
        """The reference the test's ranges come from (``""`` when the data names none)."""
        return self._sources.get(test_id, "")

    def range_source(self, test_id: str) -> str:
        """Where this knowledge base's range for ``test_id`` comes from, in words.

        The lab's configuration when an override applies, else the test's cited source.
        """
        if test_id in self._lab_ranges:
            return (
                f"laboratory configuration ({self.lab_name})"
                if self.lab_name
                else ("laboratory configuration")
            )
        return self.source_of(test_id)

    @property
    def panels(self) -> tuple[PanelDef, ...]:
        """Every order panel of ``panels.yaml``."""
        return self._panels

    def panels_for(self, test_ids: Collection[str]) -> list[PanelDef]:
        """The panels a report with these tests holds (a CMP, not the BMP inside it)."""
        return panels_for(self._panels, test_ids)

    # -- ranges and limits ---------------------------------------------------------------------

    def reference_range(
        self, test_id: str, sex: Sex, age: float | None, unit: str | None = None
    ) -> ReferenceRange | None:
        """The interval for this patient: the lab's override if configured, else the KB's.

        Args:
            test_id: the test.
            sex: the patient's sex; unknown gives the span of the male and female intervals.
            age: age in years; None is read as a mid-life adult.
            unit: the UCUM unit to express the range in; the canonical unit when None.

        Returns:
            The range (``source`` ``"lab_config"`` or ``"knowledge_base"``), or None when the
            test has no range or the unit does not convert.
        """
        test = self._tests[test_id]
        target = test.unit if unit is None else unit
        source: Literal["knowledge_base", "lab_config"] = "knowledge_base"
        range_unit, ranges = test.unit, self._ranges[test_id]
        if test_id in self._lab_ranges:
            source = "lab_config"
            range_unit, ranges = self._lab_ranges[test_id]
        years = _DEFAULT_AGE if age is None else age
        fits = [
            r
            for r in ranges
            if (r.spec.age_min is None or years >= r.spec.age_min)
            and (r.spec.age_max is None or years < r.spec.age_max)
        ]
        if sex is not Sex.UNKNOWN:
            fits = [r for r in fits if r.spec.sex in (sex.value, "any")]
        if not fits:
            return None
        lows = [r.low for r in fits]
        highs = [r.high for r in fits]
        low = None if None in lows else min(v for v in lows if v is not None)
        high = None if None in highs else max(v for v in highs if v is not None)
        low_c = None if low is None else self.convert(test_id, low, range_unit, target)
        high_c = None if high is None else self.convert(test_id, high, range_unit, target)
        if (low is not None and low_c is None) or (high is not None and high_c is None):
            return None
        text = _render(low_c, high_c, fits[0].text) if target != range_unit else fits[0].text
        if len(fits) > 1:
            text = _render(low_c, high_c, fits[0].text)
        who = [sex.value if sex is not Sex.UNKNOWN else "any sex"]
        if age is not None:
            who.append(f"age {age:g}")
        elif any(r.spec.age_min is not None or r.spec.age_max is not None for r in ranges):
            who.append("adult (age not given)")
        return ReferenceRange(
            low=low_c,
            high=high_c,
            text=text,
            source=source,
            applies_to=", ".join(who),
        )

    def critical_limits(
        self, test_id: str, unit: str | None = None
    ) -> tuple[float | None, float | None]:
        """The critical (low, high) limits in ``unit`` (canonical when None); None where absent.

        The lab's override replaces the knowledge base's limits when configured.
        """
        test = self._tests[test_id]
        target = test.unit if unit is None else unit
        limit_unit, critical = self._lab_critical.get(test_id, (test.unit, test.critical))
        if critical is None:
            return (None, None)
        return tuple(  # type: ignore[return-value]
            None if limit is None else self.convert(test_id, limit, limit_unit, target)
            for limit in (critical.low, critical.high)
        )

    def noise_margin(self, test_id: str) -> float:
        """The fraction of a limit within which a deviation counts as noise (lab override first)."""
        return self._lab_noise.get(test_id, self._tests[test_id].noise_margin)


def _render(low: float | None, high: float | None, template: str) -> str:
    low_in, high_in = bounds_inclusive(ReferenceRange(low=None, high=1.0, text=template))
    if low is not None and high is not None:
        return f"{_fmt(low)}-{_fmt(high)}"
    if high is not None:
        return f"{'<=' if high_in else '<'}{_fmt(high)}"
    if low is not None:
        low_in = bounds_inclusive(ReferenceRange(low=1.0, high=None, text=template))[0]
        return f"{'>=' if low_in else '>'}{_fmt(low)}"
    return template


@lru_cache(maxsize=1)
def _packaged_data() -> tuple[TestsData, UnitTable]:
    # The packaged files never change within a process: read and validate them once, so each
    # lab's overrides only pay for building the indexes.
    return read_tests(None), UnitTable.load()


@lru_cache(maxsize=1)
def _packaged_panels() -> tuple[PanelDef, ...]:
    data, _ = _packaged_data()
    return read_panels(None, {t.id for t in data.tests})


def _read_overrides(overrides: Mapping[str, Any] | str | Path) -> LabOverrides:
    name = "overrides"
    data: Any = overrides
    if isinstance(overrides, str | Path):
        path = Path(overrides)
        name = path.name
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise KnowledgeBaseError(f"{name}: cannot be read ({exc.strerror})") from exc
        try:
            data = json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=_LOADER)
        except (ValueError, yaml.YAMLError) as exc:
            raise KnowledgeBaseError(f"{name}: not valid YAML/JSON") from exc
    try:
        return LabOverrides.model_validate(data)
    except ValidationError as exc:
        raise KnowledgeBaseError(f"{name}: {first_error(exc)}") from exc


@lru_cache(maxsize=1)
def default_kb() -> KnowledgeBase:
    """The packaged knowledge base without overrides, loaded once per process."""
    return KnowledgeBase.load()
