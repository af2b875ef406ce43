"""Errors of the speech analyzer, each a subclass of the matching :mod:`medflow.errors` base.

Every input error names the file (``InputError(filename, reason)``) and says what is wrong; none
carries transcript text, so a message can be logged without leaking patient data.
"""

from __future__ import annotations

from medflow.errors import (
    AnalyzerError,
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
