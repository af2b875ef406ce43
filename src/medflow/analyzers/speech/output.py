"""JSON rendering of a transcript, the shape ``medflow transcribe --format json`` prints."""

from __future__ import annotations

from typing import Any

from medflow.domain.speech import Transcript


def to_json(transcript: Transcript) -> dict[str, Any]:
    """A JSON-ready dict: text, words with timings (seconds, 3 decimals) and confidence.

    Args:
        transcript: the transcript to render.

    Returns:
        ``{"text", "language", "language_probability", "duration_s", "engine", "model",
        "chunks", "vocabulary_hints", "warnings", "segments": [{"text", "start", "end"}],
        "words": [{"text", "start", "end", "confidence"}]}``.
    """
    return {
        "text": transcript.text,
        "language": transcript.language,
        "language_probability": transcript.language_probability,
        "duration_s": round(transcript.duration_s, 3),
        "engine": transcript.engine,
        "model": transcript.model,
        "chunks": transcript.chunks,
        "vocabulary_hints": list(transcript.vocabulary_hints),
        "warnings": list(transcript.warnings),
        "segments": [
            {"text": s.text, "start": round(s.start, 3), "end": round(s.end, 3)}
            for s in transcript.segments
        ],
        "words": [
            {
                "text": w.text,
                "start": round(w.start, 3),
                "end": round(w.end, 3),
                "confidence": round(w.confidence, 3),
            }
            for w in transcript.words
        ],
    }
