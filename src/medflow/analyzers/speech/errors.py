"""Errors of the speech analyzer, each a subclass of the matching :mod:`medflow.errors` base.

Every input error names the file (``InputError(filename, reason)``) and says what is wrong; none
carries transcript text, so a message can be logged without leaking patient data.
"""

from __future__ import annotations

from pathlib import Path

from medflow.errors import (
    AnalyzerError,
    ConfigError,
    CorruptFileError,
    EmptyInputError,
    FileTooLargeError,
    UnsupportedFileError,
)


class NotAudioError(UnsupportedFileError):
    """The file is not audio ffmpeg can read (a text file, random bytes, an image)."""


class TruncatedAudioError(CorruptFileError):
    """The file is an audio container but damaged: truncated, missing its index, unreadable."""


class SilentAudioError(EmptyInputError):
    """The recording holds no sound loud enough to be speech, or no speech was found in it."""


class AudioTooShortError(EmptyInputError):
    """The recording is shorter than the minimum duration that can hold a spoken word."""


class AudioTooLongError(FileTooLargeError):
    """The recording is longer than the configured maximum duration (refused before decoding)."""


class ToolMissingError(AnalyzerError, FileNotFoundError):
    """A command-line tool the analyzer needs (ffmpeg, ffprobe) is not on the PATH."""

    def __init__(self, tool: str) -> None:
        self.tool = tool
        super().__init__(
            f"audio decoding needs the {tool} program, which is not on the PATH: "
            "install ffmpeg (Debian/Ubuntu: apt install ffmpeg)"
        )


class ModelIntegrityError(ConfigError):
    """A speech model file on disk is not the one the catalogue names (missing, wrong size,
    wrong sha256): it is never loaded.

    Attributes:
        path: the file.
        reason: what is wrong with it, and what to do.
    """

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"speech model file {path} {reason}")


class LanguageNotSupportedError(ConfigError):
    """The chosen speech model cannot transcribe the language asked for (an English-only
    model asked for Spanish), or the language code is unknown."""
