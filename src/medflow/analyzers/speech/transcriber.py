"""Transcriber: an uploaded recording -> validated, windowed, hinted, re-based Transcript.

Long recordings are cut into windows (10 minutes by default) at pauses, each window transcribed
on its own and its times shifted by the window's offset, with progress reported as it goes.
Memory stays at about one window, so a 3-hour recording needs no more than a 10-minute one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Literal

from medflow.analyzers.speech.audio import (
    AudioLimits,
    AudioSource,
    AudioWindow,
    rms_dbfs,
    validate_decoded,
)
from medflow.analyzers.speech.engine import SpeechEngine, WhisperEngine
from medflow.analyzers.speech.errors import SilentAudioError
from medflow.analyzers.speech.invented import strip_invented
from medflow.analyzers.speech.models import language_name
from medflow.analyzers.speech.vocabulary import (
    DEFAULT_HINT_TOKENS,
    VocabularyIndex,
    budget_terms,
    bundled_vocabulary,
)
from medflow.domain.speech import Segment, Transcript, Word

logger = logging.getLogger(__name__)

#: ``on_progress(fraction, message)``: fraction in [0, 1], non-decreasing, 1.0 once at the end.
ProgressCallback = Callable[[float, str], None]

#: How lexicon hints are chosen: ``draft``: lexicon terms a fast draft transcript sounds like;
#: ``prior``: the lexicon's first terms (the most prescribed drugs); ``draft+prior``: both,
#: draft matches first, the rest of the budget filled from the prior. Measured on the bundled
#: dictations with a 96-token budget (benchmarks/dictation.py): prior 23.6 % WER in one pass,
#: draft+prior 22.9 % with an extra greedy pass, draft alone 28.7 %, no hints 33.7 %; the
#: sound-alike search finds too few misheard names to pay for its pass, so ``prior`` is default.
HintMode = Literal["draft", "prior", "draft+prior"]

#: Below this probability a detected language is reported as a warning on the transcript.
LOW_LANGUAGE_PROBABILITY = 0.5

_DRAFT_SHARE = 0.3  # share of a window's progress given to the draft pass (it is ~2x faster)


class Transcriber:
    """Turns an audio file into a :class:`~medflow.domain.speech.Transcript`.

    Args:
        engine: the recogniser; a :class:`WhisperEngine` with the bundled model when None.
        limits: duration and level limits; ``AudioLimits(max_duration_s=...)`` refuses long
            recordings, a larger one lets them through in windows.
        window_s: target window length for long recordings, in seconds.
        lexicon: the vocabulary hints are chosen from, most frequent first (None: the bundled
            ``vocabulary.txt``; an empty sequence: no lexicon hints and no draft pass).
        hint_mode: how lexicon terms are chosen (see :data:`HintMode`).
        hint_tokens: token budget of the hints sent with each window.
    """

    def __init__(
        self,
        engine: SpeechEngine | None = None,
        *,
        limits: AudioLimits | None = None,
        window_s: float = 600.0,
        lexicon: Sequence[str] | None = None,
        hint_mode: HintMode = "prior",
        hint_tokens: int = DEFAULT_HINT_TOKENS,
    ) -> None:
        self.engine: SpeechEngine = engine if engine is not None else WhisperEngine()
        self.limits = limits or AudioLimits()
        self.window_s = window_s
        self.lexicon = bundled_vocabulary() if lexicon is None else tuple(lexicon)
        self.hint_mode = hint_mode
        uses_draft = bool(self.lexicon) and hint_mode.startswith("draft")
        self._index = VocabularyIndex(self.lexicon) if uses_draft else None
        self.hint_tokens = hint_tokens

    def transcribe(
        self,
        audio: bytes,
        filename: str,
        *,
        vocabulary: Sequence[str] | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> Transcript:
        """Transcribe one recording.

        Args:
            audio: the file's bytes (wav, mp3, m4a, ogg, webm, flac, ...).
            filename: the name the user gave it (used in messages, never logged with content).
            vocabulary: terms to favour for this recording (e.g. the patient's medication
                and problem lists); sent first, then lexicon sound-alikes (draft modes); when
                given, the generic prior is not added.
            on_progress: called with (fraction, message) as windows are decoded.

        Returns:
            The transcript, times relative to the start of the recording.

        Raises:
            EmptyInputError: empty file; SilentAudioError (silent, or no speech found);
                AudioTooShortError.
            NotAudioError, TruncatedAudioError, AudioTooLongError: see ``AudioSource``.
        """
        report = on_progress or (lambda _f, _m: None)
        explicit = tuple(vocabulary or ())
        segments: list[Segment] = []
        used_hints: dict[str, None] = {}
        warnings: list[str] = []
        windows = silent = 0
        language, probability = self.engine.language, None
        with AudioSource(audio, filename, self.limits) as src:
            total = src.declared_s
            report(0.0, "decoding audio")
            for window in src.windows(self.window_s):
                windows += 1
                if windows == 1 and src.finished:
                    validate_decoded(src, window.samples)  # whole file in one window
                elif src.truncated and not warnings:
                    warnings.append(
                        f"file ends early: {src.decoded_s:.0f} s decoded of "
                        f"{src.declared_s or 0.0:.0f} s declared; transcribed what was readable"
                    )
                span = total or (window.offset_s + window.duration_s)
                message = f"transcribing window {windows} (from {window.offset_s / 60:.0f} min)"

                def tick(
                    part: float, _w: AudioWindow = window, _m: str = message, _s: float = span
                ) -> None:
                    """Report ``part`` (0..1) of window ``_w`` done."""
                    done = _w.offset_s + min(1.0, part) * _w.duration_s
                    report(min(0.999, done / _s) if _s else 0.0, _m)

                if rms_dbfs(window.samples) < self.limits.silence_dbfs:
                    silent += 1
                    tick(1.0)
                    continue
                if language is None:  # a multilingual model: judged on the first speech heard
                    language, probability = self.engine.detect_language(window.samples)
                    if probability < LOW_LANGUAGE_PROBABILITY:
                        warnings.append(
                            f"language detected as {language_name(language)} ({language}) with "
                            f"probability {probability:.2f} only; set the language if it is wrong"
                        )
                hints = self._hints(window, explicit, tick, language)
                used_hints.update(dict.fromkeys(hints))
                first = _DRAFT_SHARE if self._index is not None else 0.0

                def on_segment(t: float, _w: AudioWindow = window, _f: float = first) -> None:
                    tick(_f + (1.0 - _f) * t / max(_w.duration_s, 1e-9))

                found = self.engine.transcribe(
                    window.samples, hints=hints, on_segment=on_segment, language=language
                )
                found, invented = strip_invented(found, hints)
                warnings.extend(
                    replace(run, start=run.start + window.offset_s).warning() for run in invented
                )
                segments.extend(_shift(s, window.offset_s) for s in found)
            duration = src.decoded_s
        if silent == windows:
            raise SilentAudioError(filename, "recording is silent (no window above the level)")
        if not any(s.text for s in segments):
            raise SilentAudioError(filename, "no speech was found in the recording")
        if silent:
            warnings.append(f"{silent} of {windows} windows were silent and skipped")
        words = _monotonic([w for s in segments for w in s.words])
        report(1.0, "done")
        logger.info("transcribed %.0f s in %d windows, %d words", duration, windows, len(words))
        return Transcript(
            text=" ".join(s.text for s in segments if s.text),
            language=language or "en",
            language_probability=None if probability is None else round(probability, 3),
            duration_s=duration,
            words=tuple(words),
            segments=tuple(segments),
            engine=self.engine.name,
            model=self.engine.model_name,
            vocabulary_hints=tuple(used_hints),
            chunks=windows,
            warnings=tuple(warnings),
        )

    def _hints(
        self,
        window: AudioWindow,
        explicit: tuple[str, ...],
        tick: Callable[[float], None],
        language: str,
    ) -> tuple[str, ...]:
        """Explicit terms first, then lexicon terms the draft sounds like, then the prior.

        The bundled lexicon is English (US prescribing names): a recording in another language
        gets only the caller's own terms.
        """
        if language != "en":
            return budget_terms(explicit, self.hint_tokens, self.engine.count_tokens)
        matched: list[str] = []
        if self._index is not None:
            draft = self.engine.transcribe(
                window.samples,
                draft=True,
                on_segment=lambda t: tick(_DRAFT_SHARE * t / max(window.duration_s, 1e-9)),
                language=language,
            )
            matched = [m.term for m in self._index.find(" ".join(s.text for s in draft))]
        # A caller's own terms replace the generic prior: measured on the bundled dictations,
        # the clip's terms alone gave 10.9 % WER and the same terms topped up with the prior 12.8 %.
        use_prior = self.hint_mode.endswith("prior") and not explicit
        prior = self.lexicon if use_prior else ()
        return budget_terms(
            [*explicit, *matched, *prior], self.hint_tokens, self.engine.count_tokens
        )


def _shift(segment: Segment, offset: float) -> Segment:
    """Re-base a window's segment onto the whole recording."""
    if offset == 0.0:
        return segment
    words = tuple(
        w.model_copy(update={"start": w.start + offset, "end": w.end + offset})
        for w in segment.words
    )
    return segment.model_copy(
        update={"start": segment.start + offset, "end": segment.end + offset, "words": words}
    )


def _monotonic(words: list[Word]) -> list[Word]:
    """Clamp word times so that starts never go backwards and no word ends before it starts.

    Whisper's cross-attention timings can overlap by a few milliseconds at segment joins.
    """
    out: list[Word] = []
    last_start = 0.0
    for w in words:
        start = max(w.start, last_start)
        end = max(w.end, start)
        out.append(w if (start, end) == (w.start, w.end) else w.model_copy(update={
            "start": start, "end": end}))  # fmt: skip
        last_start = start
    return out
