"""Declarative rule sets for a records dataset, loaded from YAML.

A rule set names a dataset's columns (type, required, allowed values, regex, numeric or date
range, code system, unit), its unique keys, its cross-field rules, its references to another
file, how cleaning parses dates, when a whole file is quarantined, and which columns the anomaly
detector watches. Unknown keys are rejected (as medspacy's ``from_dict`` rules do), and every rule
must name a declared column, so a typo fails when the rules load, not when a file is checked.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from medflow.analyzers.records.dates import DEFAULT_FORMATS
from medflow.analyzers.records.errors import RuleSetError

_PACKAGE = "medflow.analyzers.records"


class ColumnType(StrEnum):
    """The type a column's cells must parse as (cells are read as text first)."""

    STRING = "string"
    INTEGER = "integer"
    FLOAT = "float"
    DATE = "date"
    DATETIME = "datetime"
    """A date with a time of day; the time is kept (converted to UTC when it has an offset)."""


class CodeSystem(StrEnum):
    """Code systems whose membership can be checked."""

    ICD10CM = "icd10cm"
    LOINC = "loinc"
    SNOMEDCT = "snomedct"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UnitSpec(_Strict):
    """A numeric column whose unit is given per row in another column.

    Attributes:
        column: the column holding each row's unit (``weight_unit``).
        quantity: the quantity in ``units.yaml`` (``mass``, ``length``, ``temperature``).
        to: the unit every value is converted to; the unit column is rewritten to it.
    """

    column: str
    quantity: str
    to: str


DateBound = dt.date | Literal["today"]


class ColumnSpec(_Strict):
    """What one column must hold.

    Attributes:
        type: the type every non-empty cell must parse as.
        required: an empty cell fails the row.
        regex: a pattern every non-empty cell must match in full.
        allowed: the only values allowed (after cleaning).
        min: the lowest allowed number, or date (``today`` means the check date).
        max: the highest allowed number or date.
        code: a code system every non-empty cell must belong to.
        normalize: ``sex`` unifies sex/gender codes during cleaning; ``number`` reads numbers
            written with a currency sign, thousands separators or a percent sign.
        unit: per-row unit normalisation during cleaning.
        date_format: the column's date format (strptime), pinned; without it the format is
            decided once per column from all its values (see :mod:`.dates`).
        ignore_case: ``allowed`` is matched without regard to case, and cleaning writes the
            listed spelling.
        meaning: what the column was recognised as (``heart_rate``, ``date_of_birth``...).
        measured_in: the unit the column's values are in, when it holds one (UCUM).
    """

    type: ColumnType = ColumnType.STRING
    required: bool = False
    regex: str | None = None
    allowed: tuple[str, ...] | None = None
    min: int | float | DateBound | None = None
    max: int | float | DateBound | None = None
    code: CodeSystem | None = None
    normalize: Literal["sex", "number"] | None = None
    unit: UnitSpec | None = None
    date_format: str | None = None
    ignore_case: bool = False
    meaning: str | None = None
    measured_in: str | None = None


class DateOrderRule(_Strict):
    """``first <= then`` when both dates are present (admission <= discharge)."""

    id: str
    rule: Literal["date_order"]
    first: str
    then: str


class AgeFromDobRule(_Strict):
    """The age column equals whole years between ``dob`` and ``at``, within a tolerance."""

    id: str
    rule: Literal["age_from_dob"]
    age: str
    dob: str
    at: str
    tolerance_years: int = Field(default=1, ge=0)


class NumberOrderRule(_Strict):
    """``lower < higher`` when both numbers are present (diastolic below systolic pressure)."""

    id: str
    rule: Literal["number_order"]
    lower: str
    higher: str


CrossFieldRule = Annotated[
    DateOrderRule | AgeFromDobRule | NumberOrderRule, Field(discriminator="rule")
]


class ReferenceRule(_Strict):
    """Every non-empty value of ``column`` exists in ``ref_column`` of the file ``dataset``."""

    id: str
    column: str
    dataset: str
    ref_column: str


class DecisionSpec(_Strict):
    """When a whole file goes to quarantine.

    Attributes:
        max_failure_rate: a file whose share of failing rows is above this is quarantined whole.
        extra_columns: ``reject`` quarantines a file with undeclared columns.
    """

    max_failure_rate: float = Field(default=0.2, ge=0.0, le=1.0)
    extra_columns: Literal["allow", "reject"] = "allow"


class IsolationForestSpec(_Strict):
    """The multivariate outlier detector's settings (scikit-learn IsolationForest)."""

    enabled: bool = True
    contamination: float = Field(
        default=0.005,
        gt=0.0,
        le=0.5,
        description="the largest share of rows the detector may flag (a cap, not a quota)",
    )
    score_threshold: float = Field(
        default=4.0,
        gt=0.0,
        description="robust z-score of a row's isolation score above which it is flagged",
    )
    n_estimators: int = Field(default=100, ge=10)
    max_samples: int = Field(default=4096, ge=64, description="rows per isolation tree")
    sample_rows: int = Field(default=100_000, ge=100)
    seed: int = 0


class AnomalySpec(_Strict):
    """Which numeric columns the anomaly detector watches, and how hard.

    Attributes:
        columns: numeric columns to watch (default: every integer/float column).
        univariate: ``mad`` (robust z-score, suits one population) or ``quantile`` (fences a
            span beyond the 1st-99th percentiles; suits files mixing newborns and adults).
        mad_threshold: a robust z-score (0.6745 * |x - median| / MAD, Iglewicz & Hoaglin 1993)
            above this flags the cell.
        isolation_forest: the multivariate detector.
    """

    columns: tuple[str, ...] | None = None
    univariate: Literal["mad", "quantile"] = "mad"
    mad_threshold: float = Field(default=5.0, gt=0)
    tail_span: float = Field(
        default=1.0,
        gt=0,
        description="quantile method: how many 1st-99th percentile spans beyond them is far",
    )
    isolation_forest: IsolationForestSpec = IsolationForestSpec()


class RuleSet(_Strict):
    """A dataset's schema and rules.

    Attributes:
        dataset: the dataset's name (``admissions``).
        version: the rule set's version, recorded in every report.
        columns: declared columns by normalised name, in file order.
        unique: keys (lists of columns) whose values must not repeat.
        cross_field: rules across columns of one row.
        references: rules against another file.
        date_formats: the strptime formats a date may be written in; each date column's format
            is decided once from all its values (see :mod:`.dates`), never cell by cell.
        decision: when the whole file is quarantined.
        anomalies: the anomaly detector's settings.
    """

    dataset: str
    version: str = "1"
    description: str = ""
    columns: dict[str, ColumnSpec]
    unique: tuple[tuple[str, ...], ...] = ()
    cross_field: tuple[CrossFieldRule, ...] = ()
    references: tuple[ReferenceRule, ...] = ()
    date_formats: tuple[str, ...] = DEFAULT_FORMATS
    decision: DecisionSpec = DecisionSpec()
    anomalies: AnomalySpec = AnomalySpec()

    @model_validator(mode="after")
    def _names_declared(self) -> RuleSet:
        declared = set(self.columns)
        used: list[tuple[str, str]] = []
        for key in self.unique:
            used += [("unique", c) for c in key]
        for rule in self.cross_field:
            if isinstance(rule, DateOrderRule):
                used += [(rule.id, rule.first), (rule.id, rule.then)]
            elif isinstance(rule, NumberOrderRule):
                used += [(rule.id, rule.lower), (rule.id, rule.higher)]
            else:
                used += [(rule.id, rule.age), (rule.id, rule.dob), (rule.id, rule.at)]
        used += [(r.id, r.column) for r in self.references]
        used += [(name, s.unit.column) for name, s in self.columns.items() if s.unit]
        used += [("anomalies", c) for c in self.anomalies.columns or ()]
        missing = [
            f"{who} names undeclared column {col!r}" for who, col in used if col not in declared
        ]
        if missing:
            raise ValueError("; ".join(missing))
        ids = [r.id for r in self.cross_field] + [r.id for r in self.references]
        if len(ids) != len(set(ids)):
            raise ValueError("rule ids repeat")
        return self

    def date_columns(self) -> list[str]:
        """Declared date and datetime columns, in order."""
        dated = (ColumnType.DATE, ColumnType.DATETIME)
        return [n for n, s in self.columns.items() if s.type in dated]

    def numeric_columns(self) -> list[str]:
        """Declared integer and float columns, in order."""
        numeric = (ColumnType.INTEGER, ColumnType.FLOAT)
        return [n for n, s in self.columns.items() if s.type in numeric]


def rules_from_dict(data: Any, source: str = "<rules>") -> RuleSet:
    """Build a rule set from parsed YAML/JSON.

    Raises:
        RuleSetError: unknown keys, wrong types, or a rule naming an undeclared column.
    """
    if not isinstance(data, dict):
        raise RuleSetError(source, "a rule set must be a mapping with 'dataset' and 'columns'")
    try:
        return RuleSet.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "rule set"
        raise RuleSetError(source, f"{where}: {first['msg']}") from exc


def load_rules(path: str | Path) -> RuleSet:
    """Load a rule set from a YAML file.

    Raises:
        RuleSetError: the file is missing, is not YAML, or is not a valid rule set.
    """
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RuleSetError(p.name, f"cannot read the rule set ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise RuleSetError(p.name, "the rule set is not valid YAML") from exc
    return rules_from_dict(data, p.name)


def builtin_rules(name: str = "admissions") -> RuleSet:
    """A rule set shipped with medflow (``admissions``: a typical admissions/encounters CSV).

    Raises:
        RuleSetError: no built-in rule set has that name.
    """
    ref = resources.files(_PACKAGE).joinpath("data", f"{name}.rules.yaml")
    if not ref.is_file():
        raise RuleSetError(name, "no built-in rule set of that name")
    return rules_from_dict(yaml.safe_load(ref.read_text(encoding="utf-8")), f"{name}.rules.yaml")


def dump_rules(rules: RuleSet) -> str:
    """The rule set as YAML text, with defaults left out so the file stays short."""
    data = rules.model_dump(mode="json", exclude_defaults=True)
    data["dataset"] = rules.dataset
    data["columns"] = {
        n: s.model_dump(mode="json", exclude_defaults=True) for n, s in rules.columns.items()
    }
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
