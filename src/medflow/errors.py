"""Errors raised by medflow.

The tree (every name ends in ``Error``; built-in bases where they fit)::

    MedflowError
    ├── ConfigError(ValueError)
    ├── InputError(ValueError)                 bad input from a user; never retried
    │   ├── UnsupportedFileError               wrong type (not a PDF, not audio, ...)
    │   ├── FileTooLargeError                  over the configured size limit
    │   ├── EmptyInputError                    0 bytes, no text, silent audio
    │   ├── CorruptFileError                   truncated or unreadable
    │   ├── EncryptedFileError                 password-protected
    │   └── NoResultsError                     readable, but nothing to extract
    ├── AnalyzerError                          an analyzer failed on valid input
    ├── StorageError
    │   ├── ObjectNotFoundError(LookupError)
    │   └── SignatureError(PermissionError)    expired or tampered signed URL
    ├── DatabaseError
    ├── PipelineError
    │   ├── PipelineDeclarationError(ValueError)
    │   └── StepTimeoutError(TimeoutError)
    ├── NotifierError
    ├── DependencyMissingError(ImportError)    an optional extra is not installed
    └── TransientError                         marker: a runner may retry this

``TransientError`` is a marker: a runner retries a step that raised it (or an error that
subclasses it, such as a transient notifier error) with backoff; every other error is permanent
and sends the input to quarantine.
"""

from __future__ import annotations


class MedflowError(Exception):
    """Root of every error medflow raises on purpose."""


class ConfigError(MedflowError, ValueError):
    """The configuration is invalid or incomplete."""


class TransientError(MedflowError):
    """A failure that may succeed when tried again (network blip, locked file, busy server)."""


class InputError(MedflowError, ValueError):
    """The input cannot be processed. The message names the file and the problem.

    Attributes:
        filename: the input's name, as the user gave it.
        reason: the problem, one short sentence without the file name.
    """

    def __init__(self, filename: str, reason: str) -> None:
        self.filename = filename
        self.reason = reason
        super().__init__(f"{filename}: {reason}")


class UnsupportedFileError(InputError):
    """The file is not of a type this pipeline reads."""


class FileTooLargeError(InputError):
    """The file exceeds the configured size limit."""


class EmptyInputError(InputError):
    """The file is empty, or holds no usable text or sound."""


class CorruptFileError(InputError):
    """The file is truncated or damaged."""


class EncryptedFileError(InputError):
    """The file is password-protected."""


class NoResultsError(InputError):
    """The file was read but held nothing this pipeline extracts (e.g. a PDF with no lab values)."""


class AnalyzerError(MedflowError):
    """An analyzer failed on input it should have handled."""


class StorageError(MedflowError):
    """The object store failed."""


class TransientStorageError(StorageError, TransientError):
    """The object store failed in a way worth retrying."""


class ObjectNotFoundError(StorageError, LookupError):
    """No object under that bucket and key."""


class SignatureError(StorageError, PermissionError):
    """A signed URL is expired, tampered with, or for another operation."""


class DatabaseError(MedflowError):
    """The database failed."""


class PipelineError(MedflowError):
    """A pipeline could not run."""


class PipelineDeclarationError(PipelineError, ValueError):
    """A pipeline declaration is invalid (unknown step, duplicate name, cycle)."""


class StepTimeoutError(PipelineError, TimeoutError):
    """A step ran past its timeout."""


class NotifierError(MedflowError):
    """A notification could not be sent."""


class TransientNotifierError(NotifierError, TransientError):
    """A notification failed in a way worth retrying (server down, timeout)."""


class DependencyMissingError(MedflowError, ImportError):
    """An optional dependency is not installed; the message says which extra to install."""

    def __init__(self, feature: str, extra: str, missing: str) -> None:
        self.extra = extra
        super().__init__(
            f"{feature} needs the {extra} extra ({missing} is not installed): "
            f"pip install 'medflow[{extra}]'"
        )
