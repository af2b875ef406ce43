"""Audio decoding and validation: any container ffmpeg reads -> 16 kHz mono float32, in windows.

Why the ffmpeg program and not PyAV: measured on a 10-minute 44.1 kHz stereo MP3, both decode in
about 1.3-1.5 s (RTF ~0.002, negligible beside recognition); the program streams its output, so a
3-hour recording is decoded window by window in bounded memory, it needs no Python extra (the
checks here work without the speech extra), and its error text is readable.

Whisper models expect 16 kHz mono (OpenAI Whisper, ``audio.py``: ``SAMPLE_RATE = 16000``).
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import numpy as np
import numpy.typing as npt

from medflow.analyzers.speech.errors import (
    AudioTooLongError,
    AudioTooShortError,
    SilentAudioError,
    TruncatedAudioError,
)
from medflow.analyzers.speech.probe import AudioInfo, check_wav_header, find_tool, probe
from medflow.errors import EmptyInputError

SAMPLE_RATE = 16_000
FloatArray = npt.NDArray[np.float32]
_BYTES_PER_SAMPLE = 4  # f32le
_FRAME_S = 0.1  # quiet-point search resolution when cutting windows


@dataclass(frozen=True)
class AudioLimits:
    """What a recording must satisfy before it is transcribed.

    Attributes:
        min_duration_s: shorter recordings are refused (no word fits in less; default 0.5 s).
        max_duration_s: longer recordings are refused before decoding (default 4 hours).
        silence_dbfs: a recording (or window) whose RMS level is below this is silent.
            -60 dBFS sits well under quiet speech (about -40 dBFS) and above digital silence.
        truncation_tolerance: decoded/declared duration below this ratio means truncated.
    """

    min_duration_s: float = 0.5
    max_duration_s: float = 4 * 3600.0
    silence_dbfs: float = -60.0
    truncation_tolerance: float = 0.9


@dataclass(frozen=True)
class AudioWindow:
    """A stretch of decoded audio and where it sits in the recording.

    Attributes:
        offset_s: start of the window in the recording, in seconds.
        samples: 16 kHz mono float32 samples.
    """

    offset_s: float
    samples: FloatArray = field(repr=False)

    @property
    def duration_s(self) -> float:
        """Length of the window in seconds."""
        return len(self.samples) / SAMPLE_RATE


def rms_dbfs(samples: FloatArray) -> float:
    """Root-mean-square level of float samples in dB relative to full scale (-inf for silence)."""
    if len(samples) == 0:
        return float("-inf")
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return 20.0 * float(np.log10(rms)) if rms > 0.0 else float("-inf")


def quietest_cut(samples: FloatArray, lo: int, hi: int) -> int:
    """Sample index in ``[lo, hi)`` at the start of the quietest 100 ms frame (a pause, ideally).

    Cutting a long recording at a pause keeps words whole across windows.
    """
    frame = int(SAMPLE_RATE * _FRAME_S)
    n = (hi - lo) // frame
    if n <= 1:
        return hi
    frames = samples[lo : lo + n * frame].reshape(n, frame)
    energy = np.mean(np.square(frames, dtype=np.float64), axis=1)
    return lo + int(np.argmin(energy)) * frame + frame // 2


def _safe_suffix(filename: str) -> str:
    # ffmpeg guesses some formats from the extension; keep it, but never a path or odd characters.
    suffix = Path(filename).suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,5}", suffix) else ""


class AudioSource:
    """One uploaded recording: validated on entry, decoded window by window.

    Use as a context manager; the bytes are written to a private temporary file (MP4/M4A need a
    seekable input) that is removed on exit.

    Args:
        data: the file's bytes.
        filename: the name the user gave it (used in messages only).
        limits: duration and level limits.

    Raises (on entry):
        EmptyInputError: 0 bytes.
        NotAudioError: not audio.
        TruncatedAudioError: damaged container or truncated WAV.
        AudioTooShortError / AudioTooLongError: declared duration outside the limits.
        ToolMissingError: ffmpeg/ffprobe not installed.
    """

    def __init__(self, data: bytes, filename: str, limits: AudioLimits | None = None) -> None:
        self.filename = filename
        self.limits = limits or AudioLimits()
        self._data = data
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.path: Path | None = None
        self.info: AudioInfo | None = None
        self.decoded_s = 0.0
        self.finished = False
        self.decoder_errors = ""

    def __enter__(self) -> AudioSource:
        if not self._data:
            raise EmptyInputError(self.filename, "the audio file is empty (0 bytes)")
        check_wav_header(self._data, self.filename)
        self._tmp = tempfile.TemporaryDirectory(prefix="medflow-audio-")
        self.path = Path(self._tmp.name) / f"input{_safe_suffix(self.filename)}"
        self.path.write_bytes(self._data)
        try:
            self.info = probe(self.path, self.filename)
            self._check_declared(self.info.duration_s)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Remove the temporary copy of the recording."""
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def _check_declared(self, duration: float | None) -> None:
        lim = self.limits
        if duration is None:
            return
        if duration < lim.min_duration_s:
            raise AudioTooShortError(
                self.filename,
                f"recording is {duration:.2f} s long; at least {lim.min_duration_s:g} s needed",
            )
        if duration > lim.max_duration_s:
            raise AudioTooLongError(
                self.filename,
                f"recording is {duration / 60:.0f} min long; the limit is "
                f"{lim.max_duration_s / 60:.0f} min",
            )

    @property
    def declared_s(self) -> float | None:
        """Duration the header declares, when it declares one."""
        return self.info.duration_s if self.info else None

    @property
    def truncated(self) -> bool:
        """True once decoding has ended (``finished``) well short of the declared duration."""
        declared = self.declared_s
        if not self.finished or declared is None or declared <= 0.0:
            return False
        short = declared - self.decoded_s
        return self.decoded_s < declared * self.limits.truncation_tolerance and short > 0.5

    def windows(self, window_s: float = 600.0, search_s: float = 30.0) -> Iterator[AudioWindow]:
        """Decode the recording and yield consecutive windows of about ``window_s`` seconds.

        Each window ends at the quietest 100 ms within its last ``search_s`` seconds, so windows
        meet at pauses. Memory stays at about one window whatever the recording's length.

        Args:
            window_s: target window length in seconds.
            search_s: how far before the target end to look for a pause.

        Raises:
            AudioTooLongError: more audio decoded than ``max_duration_s`` (header lied or absent).
            TruncatedAudioError: ffmpeg failed before any audio came out.
        """
        if self.path is None:
            raise RuntimeError("AudioSource must be entered (with ...) before decoding")
        ffmpeg = find_tool("ffmpeg")
        target = int(window_s * SAMPLE_RATE)
        search = min(int(search_s * SAMPLE_RATE), target // 2)
        read_bytes = target * _BYTES_PER_SAMPLE
        out = ["-map", "0:a:0", "-f", "f32le", "-ac", "1", "-ar", str(SAMPLE_RATE), "-"]
        cmd = [ffmpeg, "-nostdin", "-v", "error", "-i", str(self.path), *out]
        offset = 0
        buf = np.zeros(0, dtype=np.float32)
        with (
            tempfile.TemporaryFile() as err,
            subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err) as proc,
        ):
            assert proc.stdout is not None
            try:
                while True:
                    raw = proc.stdout.read(read_bytes)
                    self.finished = not raw
                    if raw:
                        usable = len(raw) - len(raw) % _BYTES_PER_SAMPLE
                        buf = np.concatenate([buf, np.frombuffer(raw[:usable], np.float32)])
                        self.decoded_s = (offset + len(buf)) / SAMPLE_RATE
                        if self.decoded_s > self.limits.max_duration_s:
                            self._check_declared(self.decoded_s)
                    while len(buf) >= target + search or (not raw and len(buf) > target):
                        cut = quietest_cut(buf, target - search, target)
                        yield AudioWindow(offset / SAMPLE_RATE, buf[:cut].copy())
                        offset += cut
                        buf = buf[cut:]
                    if not raw:
                        break
            finally:
                proc.kill()
                proc.wait()
                err.seek(0)
                self.decoder_errors = err.read()[-2000:].decode("utf-8", "replace")
            if offset + len(buf) == 0:
                raise TruncatedAudioError(self.filename, "no audio could be decoded from the file")
            if len(buf):
                yield AudioWindow(offset / SAMPLE_RATE, buf)


def decode(data: bytes, filename: str, limits: AudioLimits | None = None) -> FloatArray:
    """Decode and validate a whole recording into 16 kHz mono float32 samples.

    For recordings that fit in memory; :class:`AudioSource` streams long ones.

    Args:
        data: the file's bytes (wav, mp3, m4a, ogg, webm, flac, ... anything ffmpeg reads).
        filename: the name the user gave it, used in error messages.
        limits: duration and level limits (defaults: 0.5 s .. 4 h, silent below -60 dBFS).

    Returns:
        The samples, values in [-1, 1].

    Raises:
        EmptyInputError: 0 bytes. SilentAudioError: below the silence level.
        NotAudioError, TruncatedAudioError, AudioTooShortError, AudioTooLongError,
        ToolMissingError: see :class:`AudioSource`.
    """
    with AudioSource(data, filename, limits) as src:
        parts = [w.samples for w in src.windows(window_s=3600.0)]
        samples = np.concatenate(parts) if len(parts) > 1 else parts[0]
        validate_decoded(src, samples)
    return samples


def validate_decoded(src: AudioSource, samples: FloatArray) -> None:
    """Checks only decoding can make: truncation, real duration, silence.

    Raises:
        TruncatedAudioError: decoding stopped well short of the declared duration.
        AudioTooShortError: the decoded audio is shorter than the minimum.
        SilentAudioError: the RMS level is below the silence level.
    """
    lim = src.limits
    if src.truncated:
        raise TruncatedAudioError(
            src.filename,
            f"file is truncated: {src.decoded_s:.1f} s decoded of the "
            f"{src.declared_s or 0.0:.1f} s its header declares",
        )
    duration = len(samples) / SAMPLE_RATE
    if duration < lim.min_duration_s:
        raise AudioTooShortError(
            src.filename,
            f"recording is {duration:.2f} s long; at least {lim.min_duration_s:g} s needed",
        )
    level = rms_dbfs(samples)
    if level < lim.silence_dbfs:
        raise SilentAudioError(
            src.filename,
            f"recording is silent (level {level:.0f} dBFS, below {lim.silence_dbfs:g})",
        )
