"""Errors of the records analyzer, each a subclass of the matching :mod:`medflow.errors` base.

Every input error names the file (``InputError(filename, reason)``) and what to do; none carries a
cell value, so a message can be logged without leaking patient data.
"""

from __future__ import annotations

from medflow.errors import (
    ConfigError,
    CorruptFileError,
    EmptyInputError,
    FileTooLargeError,
    NoResultsError,
    UnsupportedFileError,
)


class NotCsvError(UnsupportedFileError):
    """The file holds binary content (NUL bytes, control characters), not delimited text."""


class CsvTooLargeError(FileTooLargeError):
    """The file is larger than the configured limit; refused before reading a row."""


class EmptyCsvError(EmptyInputError):
    """The file has no bytes, or only whitespace."""


class HeaderOnlyError(NoResultsError):
    """The file has a header line but no data rows."""


class CsvEncodingError(CorruptFileError):
    """The file's bytes do not decode in the detected encoding."""


class CsvParseError(CorruptFileError):
    """The file could not be parsed as delimited text (unbalanced quotes, inconsistent layout)."""


class RuleSetError(ConfigError):
    """A rule set is invalid: unknown keys, bad types, a rule naming an undeclared column."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")


class RuleCannotRunError(RuleSetError):
    """A rule cannot run on this check (a reference rule whose file was not given)."""
