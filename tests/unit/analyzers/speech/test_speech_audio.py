"""Decoding to 16 kHz mono float32 and the validation of bad audio input."""

from __future__ import annotations

import itertools
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from speech_testkit import MakeAudio, needs_tools, three_hour_mp3

from medflow.analyzers.speech.audio import (
    SAMPLE_RATE,
    AudioLimits,
    AudioSource,
    decode,
    quietest_cut,
    rms_dbfs,
)
from medflow.analyzers.speech.errors import (
    AudioTooLongError,
    AudioTooShortError,
    NotAudioError,
    SilentAudioError,
    TruncatedAudioError,
)
from medflow.errors import (
    CorruptFileError,
    EmptyInputError,
    FileTooLargeError,
    InputError,
    UnsupportedFileError,
)

pytestmark = needs_tools

TONE = ["synth", "2", "sine", "440", "vol", "0.5"]


@pytest.mark.parametrize("fmt", ["wav", "mp3", "m4a", "ogg", "webm", "flac"])
def test_every_container_decodes_to_16k_mono_float32(
    fmt: str, sox_audio: MakeAudio, convert: Callable[[bytes, str], bytes]
) -> None:
    data = convert(sox_audio("tone.wav", TONE), f"tone.{fmt}")
    samples = decode(data, f"tone.{fmt}")
    assert samples.dtype == np.float32
    assert samples.ndim == 1
    # Lossy codecs pad a few ms; the duration must still be 2 s at 16 kHz.
    assert abs(len(samples) / SAMPLE_RATE - 2.0) < 0.1
    assert -9.5 < rms_dbfs(samples) < -8.0  # a 0.5-amplitude sine is -9.03 dBFS


def test_stereo_44k_is_downmixed_and_resampled(tmp_path: Path) -> None:
    out = tmp_path / "stereo.wav"
    subprocess.run(
        ["sox", "-n", "-r", "44100", "-c", "2", str(out), "synth", "1", "sine", "300"],
        check=True,
    )
    samples = decode(out.read_bytes(), "stereo.wav")
    assert len(samples) == SAMPLE_RATE


def test_empty_file_is_refused_naming_the_file() -> None:
    with pytest.raises(EmptyInputError, match=r"^visit\.wav: .*empty"):
        decode(b"", "visit.wav")


def test_text_file_is_not_audio(tmp_path: Path) -> None:
    with pytest.raises(NotAudioError, match=r"notes\.txt: not an audio file") as info:
        decode(b"Patient seen today. Plan: follow up.\n" * 20, "notes.txt")
    assert isinstance(info.value, UnsupportedFileError)
    assert info.value.filename == "notes.txt"


def test_random_bytes_named_mp3_are_not_audio() -> None:
    noise = bytes(np.random.default_rng(7).integers(0, 256, 20_000, dtype=np.uint8))
    noise = b"\x00" + noise[1:]  # not an MPEG frame sync by chance
    with pytest.raises(UnsupportedFileError, match=r"random\.mp3"):
        decode(noise, "random.mp3")


def test_image_file_has_no_audio_stream(tmp_path: Path) -> None:
    png = tmp_path / "x.png"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "color=red:s=16x16",
            "-frames:v",
            "1",
            str(png),
        ],
        check=True,
    )
    with pytest.raises(NotAudioError, match="no audio stream"):
        decode(png.read_bytes(), "photo.mp3")


def test_truncated_mp3_is_corrupt(
    sox_audio: MakeAudio, convert: Callable[[bytes, str], bytes]
) -> None:
    mp3 = convert(sox_audio("long.wav", ["synth", "20", "sine", "440"]), "long.mp3")
    with pytest.raises(TruncatedAudioError, match=r"cut\.mp3: file is truncated") as info:
        decode(mp3[: len(mp3) // 4], "cut.mp3")
    assert isinstance(info.value, CorruptFileError)


def test_truncated_m4a_without_index_is_corrupt(
    sox_audio: MakeAudio, convert: Callable[[bytes, str], bytes]
) -> None:
    m4a = convert(sox_audio("t.wav", TONE), "t.m4a")
    with pytest.raises(CorruptFileError, match=r"cut\.m4a: mp4 file is damaged"):
        decode(m4a[: len(m4a) // 2], "cut.m4a")


def test_truncated_wav_is_corrupt(sox_audio: MakeAudio) -> None:
    wav = sox_audio("t.wav", TONE)
    with pytest.raises(TruncatedAudioError, match=r"holds \d+% of the audio"):
        decode(wav[: len(wav) // 3], "cut.wav")


def test_silence_is_refused(sox_audio: MakeAudio) -> None:
    with pytest.raises(SilentAudioError, match=r"quiet\.wav: recording is silent") as info:
        decode(sox_audio("quiet.wav", ["trim", "0", "3"]), "quiet.wav")
    assert isinstance(info.value, EmptyInputError)


def test_very_quiet_hum_counts_as_silent(sox_audio: MakeAudio) -> None:
    hum = sox_audio("hum.wav", ["synth", "3", "sine", "50", "vol", "0.0005"])  # about -69 dBFS
    with pytest.raises(SilentAudioError):
        decode(hum, "hum.wav")


def test_too_short_tone_is_refused(sox_audio: MakeAudio) -> None:
    with pytest.raises(AudioTooShortError, match=r"0\.20 s long; at least 0\.5 s"):
        decode(sox_audio("blip.wav", ["synth", "0.2", "sine", "440"]), "blip.wav")


def test_too_long_is_refused_before_decoding(sox_audio: MakeAudio) -> None:
    data = sox_audio("ten.wav", ["synth", "10", "sine", "440"])
    with pytest.raises(AudioTooLongError, match=r"the limit is") as info:
        AudioSource(data, "ten.wav", AudioLimits(max_duration_s=5.0)).__enter__()
    assert isinstance(info.value, FileTooLargeError)


def test_three_hour_recording_refused_under_a_two_hour_limit(tmp_path: Path) -> None:
    data = three_hour_mp3(tmp_path)
    with pytest.raises(AudioTooLongError, match=r"long\.mp3: recording is 180 min long"):
        AudioSource(data, "long.mp3", AudioLimits(max_duration_s=7200)).__enter__()


def test_three_hour_recording_streams_in_bounded_windows(tmp_path: Path) -> None:
    data = three_hour_mp3(tmp_path)
    with AudioSource(data, "long.mp3") as src:
        assert src.declared_s is not None
        assert abs(src.declared_s - 10_800) < 60
        windows = []
        for window in src.windows(window_s=120.0, search_s=10.0):
            windows.append((window.offset_s, window.duration_s))
            if len(windows) == 3:
                break  # the rest decodes the same way; stopping early must not hang ffmpeg
    assert windows[0][0] == 0.0
    for (off, dur), (next_off, _) in itertools.pairwise(windows):
        assert next_off == pytest.approx(off + dur)
        assert 110.0 <= dur <= 120.0


def test_windows_cut_at_pauses_and_cover_everything(sox_audio: MakeAudio) -> None:
    # 1 s tone, 1 s silence, repeated: every cut should land inside a silence.
    pattern = ["synth", "1", "sine", "440", "pad", "0", "1", "repeat", "14"]
    data = sox_audio("beeps.wav", pattern)
    with AudioSource(data, "beeps.wav") as src:
        windows = list(src.windows(window_s=7.0, search_s=2.5))
        total = np.concatenate([w.samples for w in windows])
    assert len(total) == 30 * SAMPLE_RATE
    for w in windows[:-1]:
        end = w.offset_s + w.duration_s
        assert end % 2.0 > 1.0, f"cut at {end:.2f} s is inside a tone"


def test_quietest_cut_finds_the_gap() -> None:
    samples = np.full(SAMPLE_RATE * 3, 0.3, dtype=np.float32)
    samples[int(1.5 * SAMPLE_RATE) : int(1.7 * SAMPLE_RATE)] = 0.0
    cut = quietest_cut(samples, SAMPLE_RATE, 2 * SAMPLE_RATE)
    assert 1.5 * SAMPLE_RATE <= cut <= 1.7 * SAMPLE_RATE


def test_rms_dbfs_of_full_scale_square_is_zero() -> None:
    assert rms_dbfs(np.ones(100, dtype=np.float32)) == pytest.approx(0.0)
    assert rms_dbfs(np.zeros(100, dtype=np.float32)) == float("-inf")


def test_every_error_is_an_input_error_naming_the_file() -> None:
    for exc in (NotAudioError, TruncatedAudioError, SilentAudioError, AudioTooShortError,
                AudioTooLongError):  # fmt: skip
        err = exc("a.wav", "why")
        assert isinstance(err, InputError)
        assert str(err) == "a.wav: why"


def test_temporary_copy_is_removed(sox_audio: MakeAudio) -> None:
    with AudioSource(sox_audio("t.wav", TONE), "t.wav") as src:
        assert src.path is not None
        path = src.path
        assert path.exists()
    assert not os.path.exists(path)
