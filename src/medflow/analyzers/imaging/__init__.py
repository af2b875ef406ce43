"""Imaging analyzer: DICOM / PNG / JPEG in; metadata, quality, findings, reports out.

Public API::

    Deidentifier(secret, DeidOptions(...)).deidentify_file(src, name) -> (bytes, DeidSummary)
    ImagingAnalyzer(ModelRunner(folder)).analyze(src, name) -> ImageAnalysis
    ImagingAnalyzer(...).analyze_many([(name, src), ...]) -> BatchResult
    BatchResult.findings_sr(study_uid) -> pydicom Dataset (Comprehensive SR)
    read_findings_sr(src) -> list of findings
    read_dicom(src, name, ReadLimits(...)) -> pydicom Dataset

Heavy libraries (pydicom, numpy, onnxruntime, pytesseract) are imported inside the functions
that need them, so importing this package stays cheap.
"""

from medflow.analyzers.imaging.analyzer import BatchResult, ImagingAnalyzer
from medflow.analyzers.imaging.deid import Deidentifier, UIDMapper
from medflow.analyzers.imaging.errors import (
    CodecUnavailableError,
    ImageTooLargeError,
    ModelManifestError,
    NoPixelDataError,
    NotDicomError,
    TruncatedDicomError,
)
from medflow.analyzers.imaging.models import ModelManifest, ModelRunner
from medflow.analyzers.imaging.read import ReadLimits, read_dicom
from medflow.analyzers.imaging.sr import build_findings_sr, read_findings_sr

__all__ = [
    "BatchResult",
    "CodecUnavailableError",
    "Deidentifier",
    "ImageTooLargeError",
    "ImagingAnalyzer",
    "ModelManifest",
    "ModelManifestError",
    "ModelRunner",
    "NoPixelDataError",
    "NotDicomError",
    "ReadLimits",
    "TruncatedDicomError",
    "UIDMapper",
    "build_findings_sr",
    "read_dicom",
    "read_findings_sr",
]
