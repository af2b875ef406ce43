"""medflow: medical documents and records in; checked, structured, explained results out.

The public Python API is what this module exports (held in place by
``tests/unit/test_exported_members.py``): the typed domain models and the error tree. Analyzers,
pipelines and the platform are imported from their own packages, lazily, because they pull in
heavy dependencies (PDF, OCR, NLP, speech, imaging).
"""

from importlib import metadata as _metadata

from medflow.domain import (
    Evidence,
    Finding,
    FindingSeverity,
    Flag,
    LabReport,
    LabResult,
    LabSummary,
    PatientInfo,
    RawLabRow,
    ReferenceRange,
    Sex,
    Significance,
)
from medflow.errors import (
    AnalyzerError,
    ConfigError,
    CorruptFileError,
    DependencyMissingError,
    EmptyInputError,
    EncryptedFileError,
    FileTooLargeError,
    InputError,
    MedflowError,
    NoResultsError,
    NotifierError,
    PipelineError,
    StorageError,
    TransientError,
    UnsupportedFileError,
)

try:
    __version__ = _metadata.version("medflow")
except _metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = [
    "AnalyzerError",
    "ConfigError",
    "CorruptFileError",
    "DependencyMissingError",
    "EmptyInputError",
    "EncryptedFileError",
    "Evidence",
    "FileTooLargeError",
    "Finding",
    "FindingSeverity",
    "Flag",
    "InputError",
    "LabReport",
    "LabResult",
    "LabSummary",
    "MedflowError",
    "NoResultsError",
    "NotifierError",
    "PatientInfo",
    "PipelineError",
    "RawLabRow",
    "ReferenceRange",
    "Sex",
    "Significance",
    "StorageError",
    "TransientError",
    "UnsupportedFileError",
    "__version__",
]
