"""Errors of the imaging analyzer, each a subclass of the matching :mod:`medflow.errors` base.

Every input error names the file (``InputError(filename, reason)``) and says what to do; none
carries a header value, so a message can be logged without leaking patient data.
"""

from __future__ import annotations

from medflow.errors import (
    ConfigError,
    CorruptFileError,
    FileTooLargeError,
    NoResultsError,
    UnsupportedFileError,
)


class NotDicomError(UnsupportedFileError):
    """The file is neither DICOM (Part 10 or a bare data set) nor a PNG/JPEG image."""


class NoPixelDataError(NoResultsError):
    """The DICOM file is valid but holds no image (a structured report, a presentation state)."""


class CodecUnavailableError(UnsupportedFileError):
    """The pixel data uses a compressed transfer syntax that no installed codec decodes."""


class TruncatedDicomError(CorruptFileError):
    """The file ends early: its header or its pixel data is shorter than it declares."""


class MisnamedImageError(UnsupportedFileError):
    """The name claims one format (``.png``, ``.jpg``, ``.dcm``) and the bytes are another."""


class ImageTooLargeError(FileTooLargeError):
    """The header declares more pixel data than the configured limit (refused before decoding)."""


class ModelManifestError(ConfigError):
    """A model folder holds a manifest that is invalid or names a missing ONNX file."""

    def __init__(self, manifest: str, reason: str) -> None:
        self.manifest = manifest
        self.reason = reason
        super().__init__(f"{manifest}: {reason}")
