"""Speech analyzer: audio files -> validated 16 kHz samples -> transcript with word timings.

Public API::

    from medflow.analyzers.speech import Transcriber, WhisperEngine, to_json

    transcriber = Transcriber(engine=WhisperEngine(model_path=None, cpu_threads=2))
    transcript = transcriber.transcribe(audio_bytes, "visit.m4a", vocabulary=["apixaban"],
                                        on_progress=lambda fraction, message: ...)
    to_json(transcript)  # {"text", "words": [{"text", "start", "end", "confidence"}], ...}

faster-whisper is imported only when a :class:`WhisperEngine` is built.
"""

from medflow.analyzers.speech.audio import AudioLimits, AudioSource, decode
from medflow.analyzers.speech.engine import SpeechEngine, WhisperEngine, bundled_model_path
from medflow.analyzers.speech.errors import (
    AudioTooLongError,
    AudioTooShortError,
    NotAudioError,
    SilentAudioError,
    ToolMissingError,
    TruncatedAudioError,
)
from medflow.analyzers.speech.output import to_json
from medflow.analyzers.speech.transcriber import ProgressCallback, Transcriber
from medflow.analyzers.speech.vocabulary import bundled_vocabulary
from medflow.analyzers.speech.wer import word_error_rate

__all__ = [
    "AudioLimits",
    "AudioSource",
    "AudioTooLongError",
    "AudioTooShortError",
    "NotAudioError",
    "ProgressCallback",
    "SilentAudioError",
    "SpeechEngine",
    "ToolMissingError",
    "Transcriber",
    "TruncatedAudioError",
    "WhisperEngine",
    "bundled_model_path",
    "bundled_vocabulary",
    "decode",
    "to_json",
    "word_error_rate",
]
