"""The dictation pipeline: a recorded visit -> transcript -> entities -> a medical resume record.

Steps (each idempotent: re-running one for the same document rewrites the same objects and
updates the one health record)::

    transcribe  audio (wav, mp3, m4a, ogg, webm; decoded by ffmpeg) -> transcript with word
                timings and confidence (faster-whisper, medical vocabulary hints, VAD on;
                long recordings in windows, progress reported per window)
    extract     transcript -> clinical entities (Comprehend Medical shape)
    record      entities -> the "medical resume" (HTML page) and a row in ``health_records``
    quarantine  (on a permanent error) the original copied to "quarantine" with its reason

Objects written under the ``results`` bucket, ``dictation/<document id>/``: ``transcript.json``
(text, segments, words with timings and confidence), ``result.json``, ``entities.json``
(Comprehend shape), ``fhir.json`` (FHIR R4 Bundle), ``resume.json`` and ``resume.html``.

Vocabulary hints, first that applies: the upload's ``vocabulary`` metadata (comma-separated);
else the medications, conditions and allergies in the patient's earlier health records (a
returning patient's lists name what is likely to be said: measured in benchmarks/dictation.py,
passing the words a clip really contains took the bundled dictations from 23.6 % to 12.0 % WER);
else the bundled list of the most prescribed drugs.

The speech model is loaded once per process, and only when the first dictation runs: building
the pipeline list (``medflow serve``, the web app) costs nothing. Which model and language come
from the ``dictation`` settings (``model``: tiny.en, base or a folder; ``language``: auto or a
code). Entities are extracted from English transcripts only: a recording in another language
keeps its transcript and gets a resume that says, in words, why it lists nothing.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medflow.pipelines.common import (
    original_filename,
    quarantine_step,
    read_original,
    require_document,
)
from medflow.platform.runner import Pipeline, RetryPolicy, Step, StepContext

if TYPE_CHECKING:
    from medflow.analyzers.speech import Transcriber
    from medflow.platform.config import Settings
    from medflow.platform.db.health_records import HealthRecord

log = logging.getLogger(__name__)

NAME = "dictation"
VERSION = "1"
RESULTS_BUCKET = "results"
AUDIO_SUFFIXES = frozenset({".wav", ".mp3", ".m4a", ".ogg", ".oga", ".opus", ".webm", ".flac"})
LOW_CONFIDENCE = 0.5
"""Words the engine gave less probability than this are listed on the resume for checking."""

TranscriberFactory = Callable[[], "Transcriber"]


def default_transcriber() -> Transcriber:
    """faster-whisper with the bundled Whisper tiny.en model and the bundled vocabulary."""
    from medflow.analyzers.speech import Transcriber, WhisperEngine

    return Transcriber(engine=WhisperEngine(cpu_threads=2))


class LazyTranscriber:
    """Builds its transcriber on first use, once, whichever thread asks first.

    Args:
        factory: makes the transcriber (loads the model); :func:`default_transcriber` if None.
    """

    def __init__(self, factory: TranscriberFactory | None = None) -> None:
        self._factory = factory or default_transcriber
        self._lock = threading.Lock()
        self._transcriber: Transcriber | None = None

    @property
    def loaded(self) -> bool:
        """Whether the model has been loaded."""
        return self._transcriber is not None

    def get(self) -> Transcriber:
        """The transcriber, built now if this is the first call."""
        with self._lock:
            if self._transcriber is None:
                self._transcriber = self._factory()
            return self._transcriber


_shared = LazyTranscriber()
_by_choice: dict[tuple[str, str, str], LazyTranscriber] = {}
_choice_lock = threading.Lock()


def shared_transcriber() -> LazyTranscriber:
    """The process's lazily-loaded default transcriber (shared by the pipeline and the CLI)."""
    return _shared


def transcriber_for(model: str, language: str, models_dir: Path) -> LazyTranscriber:
    """The process's lazily-loaded transcriber for a model and language choice.

    tiny.en with no language set is :func:`shared_transcriber`; every other choice gets one
    transcriber per process too, so a model is loaded once however many pipelines use it.

    Args:
        model: ``tiny.en``, ``base`` or a CTranslate2 model folder.
        language: ``auto`` or an ISO 639-1 code.
        models_dir: where packaged models are joined.
    """
    if model == "tiny.en" and language in ("auto", "en"):
        return _shared
    key = (model, language, str(models_dir))
    with _choice_lock:
        if key not in _by_choice:

            def factory() -> Transcriber:
                from medflow.analyzers.speech import Transcriber
                from medflow.analyzers.speech.engine import whisper_engine

                engine = whisper_engine(model, models_dir, language=language, cpu_threads=2)
                return Transcriber(engine=engine)

            _by_choice[key] = LazyTranscriber(factory)
        return _by_choice[key]


def settings_transcriber(settings: Settings) -> LazyTranscriber:
    """The transcriber the ``dictation`` settings choose (see :func:`transcriber_for`)."""
    group = settings.dictation
    return transcriber_for(group.model, group.language, settings.speech_models_dir)


def non_english_note(language: str) -> str:
    """Why a transcript in ``language`` (not English) has no clinical entities, in words."""
    from medflow.analyzers.speech.models import language_name

    return (
        f"the recording was transcribed in {language_name(language)} ({language}); clinical "
        "entities are extracted from English only, so none were extracted (the transcript is "
        "kept as spoken)"
    )


def result_key(document_id: str, name: str) -> str:
    """Where an output of the dictation pipeline lives in the results bucket."""
    return f"dictation/{document_id}/{name}"


def _put_json(ctx: StepContext, document_id: str, name: str, value: Any) -> str:
    key = result_key(document_id, name)
    ctx.services.store.put(
        RESULTS_BUCKET,
        key,
        json.dumps(value, indent=2).encode(),
        {"document_id": document_id},
        "application/json",
    )
    return key


def _get_json(ctx: StepContext, document_id: str, name: str) -> Any:
    return json.loads(ctx.services.store.get(RESULTS_BUCKET, result_key(document_id, name)))


def _vocabulary(meta: dict[str, str]) -> list[str] | None:
    """Per-recording hints from upload metadata ``vocabulary`` (comma-separated), if any."""
    terms = [t.strip() for t in meta.get("vocabulary", "").split(",") if t.strip()]
    return terms or None


#: The most terms a patient's earlier records contribute as hints (the transcriber's token
#: budget trims further).
PATIENT_TERMS = 24


def patient_vocabulary(records: Sequence[HealthRecord], document_id: str) -> list[str]:
    """Hint terms from a patient's earlier health records: newest record first, its medications,
    allergies, then conditions, each once; negated findings and ``document_id``'s own record
    (a re-run of this recording) left out.

    Args:
        records: the patient's health records (any order).
        document_id: the recording being transcribed.

    Returns:
        At most :data:`PATIENT_TERMS` terms.
    """
    terms: dict[str, str] = {}
    earlier = [r for r in records if r.document_id != document_id]
    for record in sorted(earlier, key=lambda r: r.created_at, reverse=True):
        resume = record.resume
        found = [m.get("name") for m in resume.get("medications", []) if not m.get("negated")]
        found += [a.get("substance") for a in resume.get("allergies", [])]
        found += [c.get("text") for c in resume.get("conditions", []) if not c.get("negated")]
        for term in found:
            if isinstance(term, str) and term.strip():
                terms.setdefault(term.strip().lower(), term.strip())
    return list(terms.values())[:PATIENT_TERMS]


def _hint_terms(ctx: StepContext, document_id: str) -> tuple[list[str] | None, str]:
    """(terms, where they came from) for this recording; None: the bundled prior."""
    meta = dict(ctx.object_event.metadata)
    given = _vocabulary(meta)
    if given:
        return given, "upload"
    patient_id = meta.get("patient_id")
    if patient_id:
        from medflow.platform.db.health_records import health_record_repository

        records = health_record_repository(ctx.services.db).list_by_patient(patient_id)
        history = patient_vocabulary(records, document_id)
        if history:
            return history, "patient records"
    return None, "bundled"


def make_transcribe_step(lazy: LazyTranscriber) -> Callable[[StepContext], dict[str, Any]]:
    """The transcribe step, using ``lazy``'s transcriber."""

    def transcribe_step(ctx: StepContext) -> dict[str, Any]:
        """Transcribe the recording; store ``transcript.json``. InputError on bad audio."""
        from medflow.analyzers.speech import to_json

        document_id = require_document(ctx)
        data, filename = read_original(ctx)
        ctx.progress(0.0, "loading the speech model")
        transcriber = lazy.get()
        vocabulary, hints_from = _hint_terms(ctx, document_id)
        transcript = transcriber.transcribe(
            data,
            filename,
            vocabulary=vocabulary,
            on_progress=lambda fraction, message: ctx.progress(0.7 * fraction, message),
        )
        key = _put_json(ctx, document_id, "transcript.json", to_json(transcript))
        log.info(
            "document %s: %.0f s audio, %d words",
            document_id,
            transcript.duration_s,
            len(transcript.words),
        )
        return {
            "transcript_key": key,
            "duration_s": round(transcript.duration_s, 3),
            "words": len(transcript.words),
            "mean_confidence": round(transcript.mean_confidence, 3),
            "hints_from": hints_from,
        }

    return transcribe_step


def extract_step(ctx: StepContext) -> dict[str, Any]:
    """Extract entities from the transcript; store ``result.json`` and ``entities.json``.

    A transcript with no clinical entity still makes a (sparse) record: the recording was
    valid speech, and the clinician may want its transcript on file.
    """
    from medflow.analyzers.clinical import MODEL_VERSION, to_comprehend
    from medflow.domain.clinical import ClinicalResult
    from medflow.pipelines.documents import clinical_extractor

    document_id = require_document(ctx)
    ctx.progress(0.75, "finding clinical entities")
    transcript = _get_json(ctx, document_id, "transcript.json")
    language = str(transcript.get("language") or "en")
    if language == "en":
        result = clinical_extractor().extract(transcript["text"], original_filename(ctx))
    else:
        result = ClinicalResult(
            text_length=len(transcript["text"]),
            language_supported=False,
            warnings=(non_english_note(language),),
            model_version=MODEL_VERSION,
        )
    ctx.services.store.put(
        RESULTS_BUCKET,
        result_key(document_id, "result.json"),
        result.model_dump_json().encode(),
        {"document_id": document_id},
        "application/json",
    )
    _put_json(ctx, document_id, "entities.json", to_comprehend(result))
    return {
        "entities": len(result.entities),
        "language": language,
        "warnings": list(result.warnings),
    }


def record_step(ctx: StepContext) -> dict[str, Any]:
    """Build the medical resume, render its page and upsert the health record."""
    from medflow.domain.clinical import ClinicalResult
    from medflow.platform.db.health_records import health_record_repository
    from medflow.reports.fhir_clinical import clinical_bundle
    from medflow.reports.resume import medical_resume, render_resume_html

    document_id = require_document(ctx)
    ctx.progress(0.9, "writing the medical resume")
    meta = ctx.object_event.metadata
    patient_id = meta.get("patient_id") or "unknown"
    transcript = _get_json(ctx, document_id, "transcript.json")
    result = ClinicalResult.model_validate_json(
        ctx.services.store.get(RESULTS_BUCKET, result_key(document_id, "result.json"))
    )
    patient = {"id": patient_id, "name": meta.get("patient_name", "")}
    language = str(transcript.get("language") or "en")
    resume = {
        **medical_resume(result, transcript["text"], patient),
        "language": language,
        "notes": list(result.warnings),
    }
    _put_json(ctx, document_id, "resume.json", resume)
    _put_json(
        ctx, document_id, "fhir.json", clinical_bundle(result, patient_id, transcript["text"])
    )
    words = transcript["words"]
    page_transcript = {
        "text": transcript["text"],
        "language": language,
        "duration_s": transcript["duration_s"],
        "mean_confidence": sum(w["confidence"] for w in words) / len(words) if words else 0.0,
        "low_confidence": [w["text"] for w in words if w["confidence"] < LOW_CONFIDENCE],
    }
    html = render_resume_html(resume, page_transcript, f"Medical resume — patient {patient_id}")
    html_key = result_key(document_id, "resume.html")
    ctx.services.store.put(
        RESULTS_BUCKET, html_key, html.encode(), {"document_id": document_id}, "text/html"
    )
    if patient_id != "unknown":
        ctx.services.db.patients.upsert(patient_id, name=meta.get("patient_name") or None)
    record = health_record_repository(ctx.services.db).upsert(
        document_id,
        patient_id,
        kind=NAME,
        title=f"Dictation {original_filename(ctx)}"[:256],
        transcript=transcript["text"],
        resume=resume,
        html_key=html_key,
    )
    return {"health_record": record.id, "resume_key": html_key}


def build_pipeline(transcriber: LazyTranscriber | None = None) -> Pipeline:
    """The dictation pipeline declaration.

    Args:
        transcriber: where the transcriber comes from (tests pass one with a light engine);
            the process's shared lazily-loaded Whisper transcriber when None.
    """
    lazy = transcriber or shared_transcriber()
    return Pipeline(
        name=NAME,
        version=VERSION,
        steps=(
            Step(
                "transcribe",
                make_transcribe_step(lazy),
                RetryPolicy(max_attempts=2, timeout_s=4 * 3600.0),
            ),
            Step("extract", extract_step, RetryPolicy(max_attempts=2, timeout_s=600.0)),
            Step("record", record_step, RetryPolicy(max_attempts=5, timeout_s=120.0)),
        ),
        on_failure=Step("quarantine", quarantine_step, RetryPolicy(max_attempts=5)),
    )
