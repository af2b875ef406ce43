"""Typed models shared by every layer. Imports nothing else of medflow."""

from medflow.domain.labs import (
    BBox,
    Evidence,
    ExtractionInfo,
    Finding,
    FindingSeverity,
    Flag,
    LabReport,
    LabResult,
    LabSummary,
    NoiseNote,
    RawLabRow,
    ReferenceRange,
    Significance,
    Trend,
)
from medflow.domain.patient import PatientInfo, Sex

__all__ = [
    "BBox",
    "Evidence",
    "ExtractionInfo",
    "Finding",
    "FindingSeverity",
    "Flag",
    "LabReport",
    "LabResult",
    "LabSummary",
    "NoiseNote",
    "PatientInfo",
    "RawLabRow",
    "ReferenceRange",
    "Sex",
    "Significance",
    "Trend",
]
