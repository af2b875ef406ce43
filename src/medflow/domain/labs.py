"""Typed results of the lab-report pipeline: rows as printed, interpreted results, findings."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from medflow.domain.patient import PatientInfo


class Flag(StrEnum):
    """FHIR R4 ObservationInterpretation codes used for lab values.

    ``A`` marks an abnormal qualitative result (e.g. "Positive" where "Negative" is expected).
    """

    NORMAL = "N"
    LOW = "L"
    HIGH = "H"
    CRITICAL_LOW = "LL"
    CRITICAL_HIGH = "HH"
    ABNORMAL = "A"


class Significance(StrEnum):
    """How much a result matters.

    ``noise``: outside the range by less than the test's noise margin, on a test where such a
    small deviation is not clinically meaningful. ``significant``: outside the range beyond that.
    ``critical``: beyond a critical limit; someone should be told now. ``review``: held for
    review: the value as read is implausible (beyond physiological limits, more than 10x outside
    its range, a merged or ambiguous decimal), so it is shown with the reason and left out of the
    findings until a person has checked the printed report.
    """

    NORMAL = "normal"
    NOISE = "noise"
    SIGNIFICANT = "significant"
    CRITICAL = "critical"
    REVIEW = "review"


class BBox(BaseModel):
    """Where on a page a row was read, in PDF points from the top-left corner."""

    model_config = ConfigDict(frozen=True)

    page: int = Field(ge=1)
    x0: float
    top: float
    x1: float
    bottom: float


class RawLabRow(BaseModel):
    """One test row as printed on the report, before any interpretation.

    Attributes:
        name: the test name as printed (wrapped lines joined with a space).
        value_text: the value as printed (``"12.1"``, ``"<0.5"``, ``"1,234"``, ``"Positive"``).
        unit_text: the unit as printed, or ``""``.
        range_text: the reference range as printed, or ``""``.
        flag_text: a flag printed beside the value (``"H"``, ``"L"``, ``"*"``), or ``""``.
        section: the section header the row sits under (``"COMPLETE BLOOD COUNT"``), or ``""``.
        line: the whole line as read, kept as evidence.
        bbox: where on the page it was read.
        ocr: whether the row came from OCR rather than a text layer.
        corrections: OCR readings the reader corrected, each in words with the text as read
            (``'unit read as "mmo] /T." taken as mmol/L'``); the whole line as read stays in
            ``line``.
        value_confidence: for an OCR-read row, Tesseract's confidence (0-100) in the value
            cell, the lowest over its words; None when unknown (no word found for the value,
            or Tesseract gave none) and on a text layer.
        name_confidence: for an OCR-read row, Tesseract's confidence (0-100) in the test
            name, the lowest over its words that hold a letter or digit (one misread letter
            names another test: "Troponin I" read as "Troponin T"); None when unknown and on
            a text layer.
        changed: the cells of an OCR-read row that a re-read of the page image or a repair
            changed, by field name (``"value_text"``, ``"range_text"``, ``"flag_text"``,
            ``"unit_text"``, ``"name"``); ``corrections`` says what was read.
        held: why the reader holds the value for review, in words (two readings of a scanned
            value fall on different sides of its printed range), or ``""``.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    value_text: str
    unit_text: str = ""
    range_text: str = ""
    flag_text: str = ""
    section: str = ""
    line: str = ""
    bbox: BBox | None = None
    ocr: bool = False
    corrections: tuple[str, ...] = ()
    value_confidence: float | None = None
    name_confidence: float | None = None
    changed: tuple[str, ...] = ()
    held: str = ""


class ReferenceRange(BaseModel):
    """A reference interval in the result's unit.

    Attributes:
        low: the lower limit, or None for "< high" ranges.
        high: the upper limit, or None for "> low" ranges.
        text: the range as printed or as the knowledge base states it.
        source: where the range came from: the report itself, the knowledge base, or a
            per-lab override in configuration.
        applies_to: who the range is for, e.g. ``"female, adult"``.
        source_detail: the source in words, for a reader: ``"printed on the report"``, the
            laboratory's name for an override, the knowledge base's cited source.
    """

    model_config = ConfigDict(frozen=True)

    low: float | None = None
    high: float | None = None
    text: str = ""
    source: Literal["report", "knowledge_base", "lab_config"] = "report"
    applies_to: str = ""
    source_detail: str = ""


Comparator = Literal["<", "<=", ">", ">="]


class LabResult(BaseModel):
    """One test, identified, normalised and interpreted.

    Attributes:
        test_id: the knowledge-base key (``"hemoglobin"``), or None when unknown.
        loinc: the LOINC code, or None when the test is not in the knowledge base.
        name: the knowledge-base display name (or the printed name when unknown).
        printed_name: the name as printed.
        value: the numeric value in ``unit``, or None for qualitative results.
        comparator: set for censored values such as ``<0.5``.
        value_text: the value as printed.
        unit: the UCUM unit of ``value`` (``"g/dL"``, ``"10*3/uL"``), or ``""``.
        printed_unit: the unit as printed.
        reference_range: the range the flag was computed against, or None.
        flag: the interpretation code.
        significance: noise, significant or critical (normal when in range).
        deviation: how far outside the range, as a fraction of the limit crossed
            (0.25 = 25% above the upper limit); 0 when in range.
        critical_low: the critical lower limit applied, if any.
        critical_high: the critical upper limit applied, if any.
        section: the report section.
        row: the row as printed (the evidence).
        note: why the significance was chosen, in words.
        printed_flag: the flag printed on the report, as its FHIR code (``"H"``, ``"HH"``), or
            ``""`` when none was printed.
        flag_disagreement: when the printed flag and the computed one disagree, the two in
            words (``"printed H, computed N against 3.5-5.1 (printed on the report)"``).
        review_reason: why the value is held for review (significance ``review``), else ``""``.
    """

    model_config = ConfigDict(frozen=True)

    test_id: str | None
    loinc: str | None
    name: str
    printed_name: str
    value: float | None
    comparator: Comparator | None = None
    value_text: str
    unit: str = ""
    printed_unit: str = ""
    reference_range: ReferenceRange | None = None
    flag: Flag = Flag.NORMAL
    significance: Significance = Significance.NORMAL
    deviation: float = 0.0
    critical_low: float | None = None
    critical_high: float | None = None
    section: str = ""
    row: RawLabRow
    note: str = ""
    printed_flag: str = ""
    flag_disagreement: str = ""
    review_reason: str = ""


class Evidence(BaseModel):
    """A value a finding rests on."""

    model_config = ConfigDict(frozen=True)

    test_id: str
    name: str
    loinc: str | None
    value: float | None
    value_text: str
    unit: str
    flag: Flag
    reference_range: str = ""


class FindingSeverity(StrEnum):
    """How urgently a finding should be read."""

    INFO = "info"
    SIGNIFICANT = "significant"
    CRITICAL = "critical"


class Finding(BaseModel):
    """A clinical pattern found from one or more values together.

    Attributes:
        code: a stable identifier, e.g. ``"anemia.microcytic"``.
        title: a short headline, e.g. ``"Microcytic anemia"``.
        severity: how urgently it should be read.
        explanation: one or two sentences with the numbers behind the finding.
        evidence: the values it rests on.
        guideline: the source of the rule (e.g. ``"ADA Standards of Care 2024, 2.2"``).
    """

    model_config = ConfigDict(frozen=True)

    code: str
    title: str
    severity: FindingSeverity
    explanation: str
    evidence: tuple[Evidence, ...] = ()
    guideline: str = ""


class NoiseNote(BaseModel):
    """A result set aside as noise, with the reason."""

    model_config = ConfigDict(frozen=True)

    test_id: str | None
    name: str
    value_text: str
    unit: str
    reason: str


class Trend(BaseModel):
    """A change in one test across this patient's reports."""

    model_config = ConfigDict(frozen=True)

    test_id: str
    name: str
    unit: str
    points: tuple[tuple[datetime, float], ...]
    change: float
    change_pct: float | None
    explanation: str


class LabSummary(BaseModel):
    """The diagnostic summary: findings explained, noise named.

    Attributes:
        complete: False when any row could not be read or recognised, a value is held for
            review, or a result had no range to compare with: the summary then never claims
            the report is normal.
        unread: how many rows could not be read or recognised.
        held: how many values are held for review.
        warnings: what a reader must know before trusting the summary, in words (rows not
            read, values held, a language not fully supported).
        low_confidence: how many values were read from a scan with too little certainty to
            be called normal (``analyzers/labs/scan_trust``): Tesseract's confidence below
            the threshold or unknown, or the value changed by a re-read or repair.
    """

    model_config = ConfigDict(frozen=True)

    headline: str
    findings: tuple[Finding, ...] = ()
    noise: tuple[NoiseNote, ...] = ()
    trends: tuple[Trend, ...] = ()
    text: str = ""
    narrative: str | None = None
    narrative_provider: str | None = None
    complete: bool = True
    unread: int = 0
    held: int = 0
    warnings: tuple[str, ...] = ()
    low_confidence: int = 0


class ExtractionInfo(BaseModel):
    """How the text was read from the document."""

    model_config = ConfigDict(frozen=True)

    pages: int = 0
    text_pages: int = 0
    ocr_pages: int = 0
    engine: str = ""
    warnings: tuple[str, ...] = ()


class LabReport(BaseModel):
    """Everything the labs analyzer learned from one report.

    Attributes:
        patient: who the report is about.
        results: every test recognised on the report, in printed order.
        unrecognized: rows that looked like tests but matched no known test.
        summary: the synthesis: findings, noise, trends, summary text.
        lab_name: the laboratory's name when printed.
        collected_at: the collection date when printed.
        extraction: how the text was read.
        language: the report's language when detected as other than English (ISO 639-1,
            ``"es"``), else ``""``.
    """

    model_config = ConfigDict(frozen=True)

    patient: PatientInfo
    results: tuple[LabResult, ...]
    unrecognized: tuple[RawLabRow, ...] = ()
    summary: LabSummary
    lab_name: str = ""
    collected_at: datetime | None = None
    extraction: ExtractionInfo = ExtractionInfo()
    language: str = ""
