"""Transcriber: windows, re-based times, progress, silent windows, hints and JSON output.

These use ``EnergyEngine`` (tests/fixtures/audio/speech_testkit.py), a deterministic engine
that turns each burst of sound into a word, so times can be checked exactly; the Whisper engine
has its own tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from speech_testkit import EnergyEngine, MakeAudio, needs_tools, three_hour_mp3

from medflow.analyzers.speech import AudioLimits, Transcriber, to_json
from medflow.analyzers.speech.errors import AudioTooLongError, SilentAudioError
from medflow.domain.speech import Transcript

pytestmark = needs_tools

# A 1 s tone every 4 s for 60 s: tones start at 0, 4, 8, ... 56 s.
BEEPS = ["synth", "1", "sine", "440", "vol", "0.5", "pad", "0", "3", "repeat", "14"]


def test_long_recording_is_windowed_and_times_rebased(
    sox_audio: MakeAudio, energy_engine: EnergyEngine
) -> None:
    transcriber = Transcriber(energy_engine, window_s=15.0, lexicon=())
    progress: list[tuple[float, str]] = []
    result = transcriber.transcribe(
        sox_audio("beeps.wav", BEEPS), "beeps.wav", on_progress=lambda f, m: progress.append((f, m))
    )
    assert result.chunks >= 4
    assert result.duration_s == pytest.approx(60.0)
    starts = [w.start for w in result.words]
    assert starts == pytest.approx([4.0 * i for i in range(15)], abs=0.11)
    assert all(w.end - w.start == pytest.approx(1.0, abs=0.11) for w in result.words)
    fractions = [f for f, _ in progress]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    assert fractions.count(1.0) == 1
    assert any("window 3" in m for _, m in progress)


def test_silent_windows_are_skipped_with_a_warning(
    sox_audio: MakeAudio, energy_engine: EnergyEngine
) -> None:
    # 5 s of tone bursts, then 25 s of silence.
    audio = sox_audio("tail.wav", ["synth", "1", "sine", "440", "pad", "0", "1", "repeat", "2",
                                   "pad", "0", "24"])  # fmt: skip
    result = Transcriber(energy_engine, window_s=10.0, lexicon=()).transcribe(audio, "tail.wav")
    assert len(result.words) == 3
    assert any("silent and skipped" in w for w in result.warnings)
    assert all(duration <= 10.0 for _, _, duration in energy_engine.calls)
    assert len(energy_engine.calls) < result.chunks


def test_silent_recording_is_refused(sox_audio: MakeAudio, energy_engine: EnergyEngine) -> None:
    with pytest.raises(SilentAudioError, match=r"hush\.wav: recording is silent"):
        Transcriber(energy_engine, lexicon=()).transcribe(
            sox_audio("hush.wav", ["trim", "0", "5"]), "hush.wav"
        )
    assert energy_engine.calls == []


def test_sound_without_speech_is_refused(sox_audio: MakeAudio, energy_engine: EnergyEngine) -> None:
    # Audible but quieter than the engine's word threshold: no words come back.
    hum = sox_audio("hum.wav", ["synth", "3", "sine", "60", "vol", "0.005"])
    with pytest.raises(SilentAudioError, match="no speech was found"):
        Transcriber(energy_engine, lexicon=()).transcribe(hum, "hum.wav")


def test_limit_chosen_by_caller_refuses_long_recordings(
    sox_audio: MakeAudio, energy_engine: EnergyEngine
) -> None:
    transcriber = Transcriber(energy_engine, limits=AudioLimits(max_duration_s=30.0), lexicon=())
    with pytest.raises(AudioTooLongError):
        transcriber.transcribe(sox_audio("beeps.wav", BEEPS), "beeps.wav")
    assert energy_engine.calls == []


def test_caller_vocabulary_is_sent_without_a_draft_pass(
    sox_audio: MakeAudio, energy_engine: EnergyEngine
) -> None:
    transcriber = Transcriber(energy_engine, lexicon=())
    result = transcriber.transcribe(
        sox_audio("b.wav", BEEPS), "b.wav", vocabulary=["apixaban", "metoprolol"]
    )
    assert energy_engine.calls == [(False, ("apixaban", "metoprolol"), 60.0)]
    assert result.vocabulary_hints == ("apixaban", "metoprolol")


def test_lexicon_draft_pass_precedes_the_hinted_pass(
    sox_audio: MakeAudio, energy_engine: EnergyEngine
) -> None:
    # The energy engine writes "tone"; a lexicon holding "tones" is matched by sound.
    transcriber = Transcriber(energy_engine, lexicon=["apixaban", "tones"], hint_mode="draft")
    result = transcriber.transcribe(sox_audio("b.wav", BEEPS), "b.wav", vocabulary=["warfarin"])
    (draft, draft_hints, _), (final, final_hints, _) = energy_engine.calls
    assert (draft, draft_hints) == (True, ())
    assert (final, final_hints) == (False, ("warfarin", "tones"))
    assert result.vocabulary_hints == ("warfarin", "tones")


def test_prior_mode_sends_the_first_lexicon_terms_without_a_draft(
    sox_audio: MakeAudio, energy_engine: EnergyEngine
) -> None:
    lexicon = ["atorvastatin", "levothyroxine", "metformin", "lisinopril"]
    transcriber = Transcriber(energy_engine, lexicon=lexicon, hint_mode="prior", hint_tokens=3)
    audio = sox_audio("b.wav", BEEPS)
    transcriber.transcribe(audio, "b.wav")
    # EnergyEngine counts a token per word: three terms fit the budget of 3.
    assert energy_engine.calls == [(False, ("atorvastatin", "levothyroxine", "metformin"), 60.0)]
    # The caller's own terms replace the generic prior.
    transcriber.transcribe(audio, "b.wav", vocabulary=["warfarin"])
    assert energy_engine.calls[-1] == (False, ("warfarin",), 60.0)


def test_draft_matches_come_before_the_prior(
    sox_audio: MakeAudio, energy_engine: EnergyEngine
) -> None:
    lexicon = ["apixaban", "warfarin", "tones"]
    transcriber = Transcriber(energy_engine, lexicon=lexicon, hint_mode="draft+prior")
    transcriber.transcribe(sox_audio("b.wav", BEEPS), "b.wav")
    assert energy_engine.calls[-1][1] == ("tones", "apixaban", "warfarin")


def test_to_json_shape(sox_audio: MakeAudio, energy_engine: EnergyEngine) -> None:
    result = Transcriber(energy_engine, lexicon=()).transcribe(sox_audio("b.wav", BEEPS), "b.wav")
    doc = to_json(result)
    assert doc["text"] == result.text
    assert doc["engine"] == "energy"
    assert doc["words"][1] == {"text": "tone", "start": 4.0, "end": 5.0, "confidence": 0.9}
    assert set(doc) >= {"text", "words", "segments", "duration_s", "warnings", "language"}
    assert Transcript.model_validate(result.model_dump()) == result


@pytest.mark.slow
def test_three_hour_recording_is_transcribed_in_ten_minute_windows(
    tmp_path: Path, energy_engine: EnergyEngine
) -> None:
    progress: list[float] = []
    result = Transcriber(energy_engine, lexicon=()).transcribe(
        three_hour_mp3(tmp_path), "clinic-day.mp3", on_progress=lambda f, _m: progress.append(f)
    )
    assert result.duration_s == pytest.approx(3 * 3600, rel=0.02)  # MP3 length is estimated
    # A continuous tone has no pause: each window is cut 570-600 s in, so 18 or 19 windows.
    assert result.chunks in (18, 19)
    assert len(energy_engine.calls) == result.chunks
    assert all(duration <= 600.0 for _, _, duration in energy_engine.calls)
    starts = [w.start for w in result.words]
    assert starts[0] == pytest.approx(0.0, abs=0.2)  # MP3 encoder delay
    assert starts == sorted(starts)
    assert starts[-1] > 3 * 3600 - 700
    assert progress == sorted(progress)
    assert progress[-1] == 1.0
    assert len(progress) > 18


def test_a_multilingual_engine_detects_the_language_once_and_keeps_it(
    sox_audio: MakeAudio,
) -> None:
    engine = EnergyEngine(language=None, detects=("es", 0.91))
    transcriber = Transcriber(engine, window_s=15.0, lexicon=["metformin", "apixaban"])
    result = transcriber.transcribe(sox_audio("b.wav", BEEPS), "b.wav")
    assert (result.language, result.language_probability) == ("es", 0.91)
    assert engine.detections == 1, "judged once, on the first window with sound"
    assert result.chunks >= 4 and set(engine.languages) == {"es"}
    # The bundled lexicon is English: a Spanish recording gets no prior hints...
    assert all(hints == () for _draft, hints, _s in engine.calls)
    # ...but the caller's own terms are still sent.
    transcriber.transcribe(sox_audio("b.wav", BEEPS), "b.wav", vocabulary=["metformina"])
    assert engine.calls[-1][1] == ("metformina",)
    assert to_json(result)["language"] == "es"
    assert not result.warnings


def test_an_unsure_language_detection_is_a_warning(sox_audio: MakeAudio) -> None:
    engine = EnergyEngine(language=None, detects=("la", 0.43))
    result = Transcriber(engine, lexicon=()).transcribe(sox_audio("b.wav", BEEPS), "b.wav")
    assert result.language == "la"
    assert any("Latin (la) with probability 0.43" in w for w in result.warnings)


def test_an_english_only_engine_is_never_asked_to_detect(
    sox_audio: MakeAudio, energy_engine: EnergyEngine
) -> None:
    result = Transcriber(energy_engine).transcribe(sox_audio("b.wav", BEEPS), "b.wav")
    assert (result.language, result.language_probability) == ("en", None)
    assert energy_engine.detections == 0
    assert energy_engine.calls[-1][1], "English recordings keep the bundled prior"


def test_a_language_set_on_the_engine_is_used_without_detection(sox_audio: MakeAudio) -> None:
    engine = EnergyEngine(language="es")
    result = Transcriber(engine, lexicon=()).transcribe(sox_audio("b.wav", BEEPS), "b.wav")
    assert (result.language, result.language_probability) == ("es", None)
    assert engine.detections == 0 and set(engine.languages) == {"es"}
