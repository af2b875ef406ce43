"""Shared fixtures of the speech tests: audio made on the fly with sox/ffmpeg/espeak-ng."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "fixtures" / "audio"))

import make_dictations
from speech_testkit import EnergyEngine, MakeAudio


@pytest.fixture
def sox_audio(tmp_path: Path) -> MakeAudio:
    """``sox_audio("x.wav", ["synth", "1", "sine", "440"])`` -> bytes of a sox-made file."""

    def make(name: str, effects: Sequence[str]) -> bytes:
        out = tmp_path / name
        subprocess.run(
            ["sox", "-n", "-r", "16000", "-c", "1", "-b", "16", str(out), *effects],
            check=True,
            capture_output=True,
        )
        return out.read_bytes()

    return make


@pytest.fixture
def convert(tmp_path: Path) -> Callable[[bytes, str], bytes]:
    """``convert(wav_bytes, "x.m4a")`` -> the same audio re-encoded by ffmpeg."""

    def run(data: bytes, name: str) -> bytes:
        src = tmp_path / "convert-src.wav"
        src.write_bytes(data)
        out = tmp_path / name
        subprocess.run(
            ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(src), str(out)], check=True
        )
        return out.read_bytes()

    return run


@pytest.fixture(scope="session")
def dictations(tmp_path_factory: pytest.TempPathFactory) -> list[make_dictations.Clip]:
    """The espeak-ng dictations of tests/fixtures/audio, generated once per session."""
    return make_dictations.make_dictations(tmp_path_factory.mktemp("dictations"))


@pytest.fixture(scope="session")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A short espeak-ng clinical sentence (about 5 s) as 16 kHz WAV bytes."""
    out = tmp_path_factory.mktemp("spoken") / "spoken.wav"
    make_dictations.speak("Start metformin 500 milligrams twice daily.", out)
    return out.read_bytes()


@pytest.fixture
def energy_engine() -> EnergyEngine:
    """A fresh :class:`EnergyEngine`."""
    return EnergyEngine()
