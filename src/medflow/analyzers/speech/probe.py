"""What an audio file claims to be, before any sample is decoded: magic bytes, WAV header, ffprobe.

Checks run from cheapest to dearest so that a text file or a truncated WAV is refused in
microseconds and a 3-hour recording over the limit is refused before a single sample is decoded.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

from medflow.analyzers.speech.errors import NotAudioError, ToolMissingError, TruncatedAudioError

#: Seconds ffprobe may take to read a header; a header that takes longer is treated as damaged.
PROBE_TIMEOUT_S = 60.0

# Container signatures at the start of the file (offset, bytes, name). Sources: RIFF/WAVE
# (Microsoft Multimedia Programming Interface 1.0), ID3v2 (id3.org), MPEG audio frame sync
# (ISO/IEC 11172-3: 11 set bits), ISO BMFF "ftyp" box at offset 4 (ISO/IEC 14496-12), Ogg
# "OggS" (RFC 3533), EBML magic 1A 45 DF A3 for Matroska/WebM, "fLaC" (RFC 9639), "#!AMR".
_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"RIFF", "wav"),
    (0, b"ID3", "mp3"),
    (4, b"ftyp", "mp4"),
    (0, b"OggS", "ogg"),
    (0, b"\x1a\x45\xdf\xa3", "webm"),
    (0, b"fLaC", "flac"),
    (0, b"#!AMR", "amr"),
    (0, b"FORM", "aiff"),
)


def sniff_container(head: bytes) -> str | None:
    """Name the audio container the first bytes announce, or None when none matches.

    Args:
        head: the first bytes of the file (16 are enough).

    Returns:
        ``"wav"``, ``"mp3"``, ``"mp4"``, ``"ogg"``, ``"webm"``, ``"flac"``, ``"amr"``, ``"aiff"``
        or None. A bare MPEG audio frame sync (``FF Ex``/``FF Fx``) counts as mp3.
    """
    for offset, magic, name in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return name
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "mp3"
    return None


def check_wav_header(data: bytes, filename: str) -> None:
    """Refuse a RIFF/WAVE file whose ``data`` chunk declares more bytes than the file holds.

    ffprobe reports a truncated WAV's duration from the bytes present, so the header is the only
    place the loss shows. Streaming writers put 0 or 0xFFFFFFFF in the size fields when they do
    not know the length; those are accepted.

    Args:
        data: the whole file.
        filename: the name used in error messages.

    Raises:
        TruncatedAudioError: the data chunk is cut short, or the header itself is.
    """
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return
    pos = 12
    while pos + 8 <= len(data):
        chunk_id = data[pos : pos + 4]
        (size,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        if chunk_id == b"data":
            if size in (0, 0xFFFFFFFF):
                return
            present = len(data) - (pos + 8)
            if present < size:
                pct = 100.0 * present / size
                raise TruncatedAudioError(
                    filename, f"WAV file is truncated: holds {pct:.0f}% of the audio it declares"
                )
            return
        pos += 8 + size + (size & 1)  # chunks are padded to an even size (RIFF spec)
    raise TruncatedAudioError(filename, "WAV file is truncated: no audio data chunk")


@dataclass(frozen=True)
class AudioInfo:
    """What ffprobe read from the header of the first audio stream.

    Attributes:
        container: ffprobe's format name (e.g. ``"wav"``, ``"mov,mp4,m4a,3gp,3g2,mj2"``).
        codec: the audio codec (e.g. ``"pcm_s16le"``, ``"mp3"``, ``"aac"``, ``"opus"``).
        sample_rate: samples per second of the stream as stored.
        channels: channel count of the stream as stored.
        duration_s: the duration the header declares, or None when it declares none.
    """

    container: str
    codec: str
    sample_rate: int
    channels: int
    duration_s: float | None


def find_tool(name: str) -> str:
    """Return the path of a program on the PATH.

    Raises:
        ToolMissingError: the program is not installed.
    """
    path = shutil.which(name)
    if path is None:
        raise ToolMissingError(name)
    return path


def _float_or_none(value: object) -> float | None:
    try:
        result = float(str(value))
    except ValueError:
        return None
    return result if result >= 0.0 else None


def probe(path: Path, filename: str) -> AudioInfo:
    """Read the header of an audio file with ffprobe.

    Args:
        path: the file on disk.
        filename: the name the user gave it, used in error messages.

    Returns:
        The header facts of the first audio stream.

    Raises:
        NotAudioError: ffprobe cannot read the file and it carries no audio signature, or it
            holds no audio stream (an image, a video without sound).
        TruncatedAudioError: the file starts like an audio container but ffprobe cannot read it
            (an MP4/M4A without its ``moov`` index, a cut-off header).
        ToolMissingError: ffprobe is not installed.
    """
    ffprobe = find_tool("ffprobe")
    with path.open("rb") as fh:
        head = fh.read(16)
    cmd = [
        ffprobe, "-v", "error", "-of", "json",
        "-show_entries", "format=format_name,duration:stream=codec_type,codec_name,"
        "sample_rate,channels,duration",
        str(path),
    ]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=PROBE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        raise TruncatedAudioError(filename, "the audio header could not be read in time") from exc
    container = sniff_container(head)
    if proc.returncode != 0:
        if container is None:
            raise NotAudioError(filename, "not an audio file (no known audio format)")
        raise TruncatedAudioError(filename, f"{container} file is damaged and cannot be read")
    doc = json.loads(proc.stdout or b"{}")
    streams = [s for s in doc.get("streams", []) if s.get("codec_type") == "audio"]
    if not streams:
        raise NotAudioError(filename, "not an audio file (it holds no audio stream)")
    stream = streams[0]
    fmt = doc.get("format", {})
    duration = _float_or_none(stream.get("duration", fmt.get("duration", "N/A")))
    if duration is None:
        duration = _float_or_none(fmt.get("duration", "N/A"))
    return AudioInfo(
        container=str(fmt.get("format_name", container or "unknown")),
        codec=str(stream.get("codec_name", "unknown")),
        sample_rate=int(_float_or_none(stream.get("sample_rate", 0)) or 0),
        channels=int(stream.get("channels", 0) or 0),
        duration_s=duration,
    )
