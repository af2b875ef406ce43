"""The insight report: the seed's shape plus per-rule counts, cleaning counts and the decision.

The seed shape is ``{"file", "timestamp", "records", "anomalies_detected", "fields_flagged",
"sample_anomalies": [{"row", "reason"}]}``; every other field is added after those, so a reader
of the seed report keeps working.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Decision(StrEnum):
    """What happened to the file."""

    ACCEPTED = "accepted"
    """Every row passed the rules."""
    PARTIAL = "partial"
    """Failing rows went to quarantine; the others to the curated file."""
    QUARANTINED = "quarantined"
    """The whole file went to quarantine (schema mismatch, or failure rate over the threshold)."""


class SampleAnomaly(BaseModel):
    """One flagged row: its 1-based data-row number in the original file and why."""

    model_config = ConfigDict(frozen=True)

    row: int
    reason: str
    kind: str = Field(default="rule", description="rule, outlier, multivariate or unparsed")


class OutlierSummary(BaseModel):
    """What the anomaly detector found among rows that passed the rules."""

    model_config = ConfigDict(frozen=True)

    univariate: int = 0
    multivariate: int = 0
    per_column: dict[str, int] = Field(default_factory=dict)
    rows: int = 0


class CellChange(BaseModel):
    """One cell cleaning changed: where, which step, and the value before and after."""

    model_config = ConfigDict(frozen=True)

    row: int
    column: str
    step: str
    before: str
    after: str


class DuplicateRow(BaseModel):
    """An exact duplicate row removed by cleaning, and the earlier row it repeats."""

    model_config = ConfigDict(frozen=True)

    row: int
    duplicate_of: int


class RecognisedColumn(BaseModel):
    """What a column was recognised as (when rules were inferred)."""

    model_config = ConfigDict(frozen=True)

    column: str
    meaning: str
    unit: str = ""
    how: str = ""


class InsightReport(BaseModel):
    """The JSON insight report of one checked file.

    Attributes:
        file: the file's name as given.
        timestamp: when the check finished (ISO 8601, UTC).
        records: data rows read (ragged rows included, header excluded).
        anomalies_detected: distinct rows flagged by a rule, a parse failure or the detector.
        fields_flagged: columns with at least one failure or outlier, most flagged first.
        sample_anomalies: the first flagged rows with their reasons.
        dataset: the rule set's dataset name; rules_version its version.
        rows_curated: rows written to the curated file (0 when the file is quarantined).
        rows_quarantined: rows written to quarantine with reasons (ragged rows included).
        duplicate_rows_removed: exact duplicates dropped by cleaning.
        failure_rate: rows_quarantined / records.
        rule_counts: rows failing each rule, by rule id.
        column_failures: failures charged to each column (the HTML chart).
        cleaning: changes made by each cleaning step.
        outliers: the anomaly detector's findings.
        decision: accepted, partial or quarantined; decision_reason says why.
        encoding, delimiter: what the reader found.
        missing_columns: declared columns absent from the file (fatal only when required).
        cleaning_samples: changed cells, before and after, up to the sample size per step.
        duplicate_rows: removed duplicates with the row each repeats (all of them are in
            ``duplicate_rows.csv``).
        date_formats: per date column, the formats decided from its values.
        rules_inferred: no rule set was given; the rules were inferred from the file and
            written beside the report (``rules_file``) for a person to edit and pass back.
        recognised_columns: what each column was recognised as (inferred rules only).
    """

    model_config = ConfigDict(frozen=True)

    file: str
    timestamp: str
    records: int
    anomalies_detected: int
    fields_flagged: list[str]
    sample_anomalies: list[SampleAnomaly]
    dataset: str
    rules_version: str
    rows_curated: int
    rows_quarantined: int
    duplicate_rows_removed: int
    failure_rate: float
    rule_counts: dict[str, int]
    column_failures: dict[str, int]
    cleaning: dict[str, int]
    outliers: OutlierSummary
    decision: Decision
    decision_reason: str
    encoding: str
    delimiter: str
    missing_columns: list[str] = Field(default_factory=list)
    extra_columns: list[str] = Field(default_factory=list)
    cleaning_samples: list[CellChange] = Field(default_factory=list)
    duplicate_rows: list[DuplicateRow] = Field(default_factory=list)
    date_formats: dict[str, str] = Field(default_factory=dict)
    rules_inferred: bool = False
    rules_file: str | None = None
    recognised_columns: list[RecognisedColumn] = Field(default_factory=list)
