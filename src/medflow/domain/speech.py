"""Typed results of speech transcription: words with timings and confidence, segments, transcript.

Every model is frozen: a transcript is a fact about one recording and is never edited in place.
Times are seconds from the start of the recording (chunked transcription re-bases each chunk's
times onto the whole recording before building these models).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Word(BaseModel):
    """One recognised word.

    Attributes:
        text: the word as the engine wrote it, punctuation attached, surrounding spaces removed.
        start: start time in seconds.
        end: end time in seconds (``>= start``).
        confidence: the engine's probability for the word, 0..1.
    """

    model_config = ConfigDict(frozen=True)

    text: str
    start: float = Field(ge=0.0)
    end: float = Field(ge=0.0)
    confidence: float = Field(ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _end_after_start(self) -> Word:
        if self.end < self.start:
            raise ValueError(f"word ends ({self.end}) before it starts ({self.start})")
        return self


class Segment(BaseModel):
    """A stretch of speech the engine decoded as one unit (roughly a phrase or sentence).

    Attributes:
        text: the segment text, stripped.
        start: start time in seconds.
        end: end time in seconds.
        words: the words of the segment in time order.
        avg_logprob: mean token log-probability the engine reported (closer to 0 is surer).
        no_speech_prob: the engine's probability that the segment holds no speech.
    """

    model_config = ConfigDict(frozen=True)

    text: str
    start: float = Field(ge=0.0)
    end: float = Field(ge=0.0)
    words: tuple[Word, ...] = ()
    avg_logprob: float = 0.0
    no_speech_prob: float = Field(default=0.0, ge=0.0, le=1.0)


class Transcript(BaseModel):
    """The transcript of one recording.

    Attributes:
        text: the whole text, segments joined by single spaces.
        language: ISO 639-1 code of the language transcribed (``"en"`` for English-only models).
        language_probability: how sure the model was of a language it detected; None when the
            language was set (or the model knows only English).
        duration_s: duration of the decoded audio in seconds.
        words: every word of every segment, in time order.
        segments: the segments in time order.
        engine: the engine's name, e.g. ``"faster-whisper"``.
        model: the model's name or the folder it was loaded from (no user data).
        vocabulary_hints: the vocabulary terms passed to the engine as hints ("" terms omitted).
        chunks: how many windows the recording was cut into.
        warnings: what the transcriber could not do or noticed (truncated file, silent chunks).
    """

    model_config = ConfigDict(frozen=True)

    text: str
    language: str = "en"
    language_probability: float | None = Field(default=None, ge=0.0, le=1.0)
    duration_s: float = Field(ge=0.0)
    words: tuple[Word, ...] = ()
    segments: tuple[Segment, ...] = ()
    engine: str
    model: str
    vocabulary_hints: tuple[str, ...] = ()
    chunks: int = Field(default=1, ge=1)
    warnings: tuple[str, ...] = ()

    @property
    def mean_confidence(self) -> float:
        """Mean word confidence, or 0.0 when there are no words."""
        if not self.words:
            return 0.0
        return sum(w.confidence for w in self.words) / len(self.words)
