"""The imaging pipelines: an instance arrives, a study goes quiet, it is processed, the provider
is told.

Two declarations run on any runner:

* ``imaging`` (one execution per uploaded object, started by the ``raw/imaging/`` trigger):
  ``register`` records a DICOM instance's arrival, or processes a PNG/JPEG at once as a study
  of its own (see :func:`process_image_study`); a file that is neither readable DICOM nor a
  readable PNG/JPEG, or whose name claims another format than its bytes, fails permanently and
  ``quarantine`` moves it to the ``quarantine`` bucket with its reason.
* ``imaging_study`` (one execution per stable DICOM study, started by :class:`StudySweeper`):
  ``deidentify`` -> ``analyze`` -> ``notify`` -> ``mark_done``.

A study is processed once its instances stop arriving for a quiet time (as Orthanc's
``StableStudy`` event after ``StableAge`` seconds): each arriving instance leaves a marker under
``work/imaging/studies/<Study UID>/``; a sweep finds studies whose newest marker is older than
the quiet time and that are not done for their current number of instances, so a series that
comes late reopens the study instead of being lost.

PNG and JPEG uploads (a photograph, a screenshot, an export from a viewer) carry no study, series
or instance UID and nothing says more images belong with them, so each is a one-image study:

* its Study Instance UID is derived from the file's content (:func:`image_study_uid`: ``2.25.``
  and 128 bits of a hash of the sha256), not from a ``study_id`` or ``accession`` the uploader
  might give. The same bytes always make the same study (a re-upload rewrites the same results,
  idempotent), the UID holds nothing about the patient, and an uploaded label (unchecked, and an
  identifier itself) can never merge unrelated images into one report or make one image's
  report overwrite another's. Images that belong together should come as DICOM.
* it is processed at once, inside the ``register`` step, rather than through the quiet-time
  sweep: the quiet time exists to wait for a study's other series, and a raster has none to
  wait for, so waiting would only delay the report by the quiet time plus a sweep period.
  It runs inside ``register`` because a declaration is one step list for every upload: steps
  of their own would also run, empty, for every DICOM instance. Processing is idempotent
  (same keys, one notification per study), so the step's retries are safe; it never touches
  the sweep's markers, so the sweep never processes it a second time.

Buckets: originals stay in ``raw`` (never modified); de-identified copies go to
``deidentified`` under the new (remapped) UIDs; the report (HTML, JSON, DICOM SR) to ``results``
under ``imaging/<Study Instance UID>/``, the key the portal reads, rasters included: their SR
carries the findings and quality results under the derived study UID and references no source
image (a raster has no SOP instance to reference), so a PACS can file the model findings of
every upload the same way.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from medflow.analyzers.imaging.analyzer import BatchResult, ImagingAnalyzer, image_study_uid
from medflow.analyzers.imaging.deid import Deidentifier
from medflow.analyzers.imaging.read import (
    ReadLimits,
    check_name,
    quiet_pydicom,
    read_dicom,
    read_raster,
)
from medflow.domain.imaging import DeidOptions, ImagingReport
from medflow.platform.notify.base import Message, Notifier
from medflow.platform.runner.base import Runner
from medflow.platform.runner.context import StepContext
from medflow.platform.runner.declaration import NO_RETRY, Pipeline, RetryPolicy, Step
from medflow.platform.storage.base import ObjectEvent, ObjectStore, sha256_hex

log = logging.getLogger(__name__)

WORK_BUCKET = "work"
DEID_BUCKET = "deidentified"
RESULTS_BUCKET = "results"
STUDIES_PREFIX = "imaging/studies/"
IMAGES_PREFIX = "imaging/images/"
"""Work markers of one-image (PNG/JPEG) studies; kept apart from the sweep's ``STUDIES_PREFIX``."""
RASTER_KINDS = ("png", "jpeg")
_RASTER_FILES = {"png": (".png", "image/png"), "jpeg": (".jpg", "image/jpeg")}


@dataclass(frozen=True)
class ImagingConfig:
    """What a site sets for the imaging pipeline.

    Attributes:
        quiet_s: seconds without a new instance after which a study counts as complete
            (Orthanc's StableAge defaults to 60 s; modalities that pause between series need
            more).
        deid_secret: the site secret for UIDs, pseudonyms and date shifts (16 bytes or more).
        deid_options: the Annex E options of the de-identified copies.
        models_dir: the site's model folder, or None.
        provider_email: who is told when a study's report is ready.
        limits: read limits for incoming files.
    """

    deid_secret: bytes
    provider_email: str
    quiet_s: float = 120.0
    deid_options: DeidOptions = field(default_factory=DeidOptions)
    models_dir: Path | None = None
    limits: ReadLimits = field(default_factory=ReadLimits)


def deid_secret_from(signing_secret: bytes) -> bytes:
    """A de-identification secret derived from the platform's signing secret (HMAC-SHA-256),
    for sites that configure none of their own: stable across restarts, never the key itself."""
    return hmac.new(signing_secret, b"medflow-imaging-deid", hashlib.sha256).digest()


def _marker_prefix(study_uid: str) -> str:
    return f"{STUDIES_PREFIX}{study_uid}/instances/"


def _done_key(study_uid: str) -> str:
    return f"{STUDIES_PREFIX}{study_uid}/done.json"


def register_upload(
    store: ObjectStore, bucket: str, key: str, limits: ReadLimits
) -> dict[str, str]:
    """Check what an upload is and register it: a DICOM instance joins its study's markers
    (:func:`register_instance`); a PNG/JPEG becomes a one-image study (:func:`register_image`).

    Returns:
        ``{"study_uid", "series_uid", "sop_uid", "kind"}`` (``kind``: dicom, png or jpeg).

    Raises:
        InputError subclasses: unreadable, too large, or named as another format (quarantine).
    """
    data = store.get(bucket, key)
    name = key.rsplit("/", 1)[-1]
    kind = check_name(data, name)
    if kind in RASTER_KINDS:
        return register_image(data, name, kind, limits)
    return {**_register_dicom(store, bucket, key, data, limits), "kind": "dicom"}


def register_image(data: bytes, name: str, kind: str, limits: ReadLimits) -> dict[str, str]:
    """Validate a PNG/JPEG by decoding it, and name its one-image study.

    Decoding here, before anything is written, is what turns a truncated file or a
    decompression bomb (dimensions over the limits, refused from the header before any pixel
    is decoded) into a quarantine with its reason.

    Returns:
        ``{"study_uid", "series_uid": "", "sop_uid": "", "kind"}``.

    Raises:
        ImageTooLargeError: over the file or pixel limits.
        CorruptFileError: truncated or undecodable.
    """
    read_raster(data, name, limits)
    study = image_study_uid(sha256_hex(data))
    return {"study_uid": study, "series_uid": "", "sop_uid": "", "kind": kind}


def register_instance(
    store: ObjectStore, bucket: str, key: str, limits: ReadLimits
) -> dict[str, str]:
    """Record the arrival of one DICOM instance (idempotent: one marker per SOP Instance UID).

    Returns:
        ``{"study_uid", "series_uid", "sop_uid"}``.

    Raises:
        InputError subclasses: the object is not a readable DICOM file (quarantine it).
    """
    return _register_dicom(store, bucket, key, store.get(bucket, key), limits)


def _register_dicom(
    store: ObjectStore, bucket: str, key: str, data: bytes, limits: ReadLimits
) -> dict[str, str]:
    name = key.rsplit("/", 1)[-1]
    ds = read_dicom(data, name, limits)
    with quiet_pydicom():
        ids = {
            "study_uid": str(ds.get("StudyInstanceUID", "") or f"no-study-{name}"),
            "series_uid": str(ds.get("SeriesInstanceUID", "") or ""),
            "sop_uid": str(ds.get("SOPInstanceUID", "") or name),
        }
    meta = store.head(bucket, key).metadata
    marker = {
        "bucket": bucket,
        "key": key,
        "provider_email": str(meta.get("provider_email", "")),
        **ids,
    }
    store.put(
        WORK_BUCKET,
        _marker_prefix(ids["study_uid"]) + f"{ids['sop_uid']}.json",
        json.dumps(marker).encode(),
        content_type="application/json",
    )
    return ids


def _markers(store: ObjectStore, study_uid: str) -> list[dict[str, str]]:
    return [
        json.loads(store.get(WORK_BUCKET, obj.key))
        for obj in store.list(WORK_BUCKET, _marker_prefix(study_uid))
    ]


def stable_studies(store: ObjectStore, quiet_s: float, now: datetime | None = None) -> list[str]:
    """Studies whose newest instance arrived at least ``quiet_s`` ago and that are not done
    for their current number of instances."""
    now = now or datetime.now(UTC)
    newest: dict[str, datetime] = {}
    counts: dict[str, int] = {}
    done: dict[str, int] = {}
    for obj in store.list(WORK_BUCKET, STUDIES_PREFIX):
        study, _, rest = obj.key[len(STUDIES_PREFIX) :].partition("/")
        if rest == "done.json":
            done[study] = int(json.loads(store.get(WORK_BUCKET, obj.key))["instances"])
        elif rest.startswith("instances/"):
            counts[study] = counts.get(study, 0) + 1
            if study not in newest or obj.created_at > newest[study]:
                newest[study] = obj.created_at
    return sorted(
        study
        for study, last in newest.items()
        if (now - last).total_seconds() >= quiet_s and done.get(study) != counts[study]
    )


@dataclass
class StudyOutcome:
    """What processing one study produced (keys in their buckets, no patient data)."""

    study_uid: str
    instances: int
    deidentified_keys: list[str]
    result_keys: list[str]
    rejected: dict[str, str]
    report: ImagingReport | None = None

    def summary(self) -> dict[str, Any]:
        """The JSON-serialisable part, for the runner's state."""
        return {
            "study_uid": self.study_uid,
            "instances": self.instances,
            "deidentified_keys": self.deidentified_keys,
            "result_keys": self.result_keys,
            "rejected": self.rejected,
        }


def deidentify_study(
    store: ObjectStore, study_uid: str, deid: Deidentifier, review: list[str] | None = None
) -> list[str]:
    """De-identified copies of every instance of a study into ``deidentified``.

    Keys use the remapped UIDs (``imaging/<new study>/<new series>/<new sop>.dcm``), so the
    copy's location reveals nothing; writing twice gives the same keys (idempotent).

    Args:
        review: when given, one line is appended per copy whose pixels a person must review
            (text may remain: ``DeidSummary.needs_review``), naming the copy's key and why.
    """
    keys = []
    for marker in _markers(store, study_uid):
        data, summary = deid.deidentify_file(
            store.get(marker["bucket"], marker["key"]), marker["key"]
        )
        new = [deid.uids.map(marker[k]) or "none" for k in ("study_uid", "series_uid", "sop_uid")]
        key = f"imaging/{new[0]}/{new[1]}/{new[2]}.dcm"
        store.put(DEID_BUCKET, key, data, content_type="application/dicom")
        keys.append(key)
        if review is not None and summary.needs_review:
            review.append(f"{key}: {'; '.join(summary.review_reasons)}")
    return keys


def analyze_study(
    store: ObjectStore, study_uid: str, analyzer: ImagingAnalyzer
) -> tuple[ImagingReport, list[str]]:
    """Analyse a study's originals; write report.html, report.json and the findings SR.

    Returns:
        The report and the result keys (under ``results/imaging/<study>/``).
    """
    markers = _markers(store, study_uid)
    batch = analyzer.analyze_many(
        (m["key"].rsplit("/", 1)[-1], store.get(m["bucket"], m["key"])) for m in markers
    )
    return batch.report, _write_results(store, study_uid, batch)


def _write_results(store: ObjectStore, study_uid: str, batch: BatchResult) -> list[str]:
    """Write report.html, report.json and findings.sr.dcm under ``results/imaging/<study>/``."""
    import io

    from medflow.reports.imaging_html import render_imaging_html

    report = batch.report
    base = f"imaging/{study_uid}/"
    sr = io.BytesIO()
    batch.findings_sr(study_uid).save_as(sr, enforce_file_format=True)
    outputs = {
        "report.html": (render_imaging_html(report).encode(), "text/html"),
        "report.json": (report.model_dump_json(indent=2).encode(), "application/json"),
        "findings.sr.dcm": (sr.getvalue(), "application/dicom"),
    }
    keys = []
    for name, (data, content_type) in outputs.items():
        store.put(RESULTS_BUCKET, base + name, data, content_type=content_type)
        keys.append(base + name)
    return keys


def mark_done(store: ObjectStore, study_uid: str, instances: int) -> None:
    """Record that the study was processed with ``instances`` instances."""
    store.put(
        WORK_BUCKET,
        _done_key(study_uid),
        json.dumps({"instances": instances, "at": datetime.now(UTC).isoformat()}).encode(),
        content_type="application/json",
    )


def provider_message_text(report: ImagingReport, study_uid: str) -> tuple[str, str]:
    """Subject and plain text telling the provider a study's report is ready.

    The subject names no patient; the text lists per image the quality verdict and the positive
    findings with their scores and models.
    """
    positives = [(a.metadata.source, f) for a in report.images for f in a.findings if f.positive]
    subject = f"Imaging report ready: {len(report.images)} image(s), {len(positives)} finding(s)"
    lines = [f"Study {study_uid}: {len(report.images)} image(s) analysed.", ""]
    for a in report.images:
        lines.append(f"- {a.metadata.source}: quality {a.quality.worst.value}")
        for f in a.findings:
            if f.positive:
                lines.append(
                    f"    {f.label}: {f.score:.2f} (threshold {f.threshold:.2f}, "
                    f"{f.model} {f.model_version})"
                )
    for name, reason in report.rejected.items():
        lines.append(f"- {name}: not analysed ({reason})")
    lines += ["", "Model findings are decision support, not a diagnosis."]
    return subject, "\n".join(lines)


# -- one-image (PNG/JPEG) studies ------------------------------------------------------------


def process_image_study(
    store: ObjectStore,
    notifier: Notifier,
    upload: tuple[str, str],
    registered: dict[str, str],
    deid: Deidentifier,
    analyzer: ImagingAnalyzer,
    provider_email: str = "",
    document_id: str | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> dict[str, Any]:
    """De-identify, analyse, report and notify one PNG/JPEG study, at once (see module doc).

    * de-identified copy: pixels only, re-encoded in the same format, metadata chunks and
      segments gone, burned-in text found by OCR blanked (the de-identifier's options), at
      ``deidentified/imaging/<remapped study UID>/image.png|.jpg``;
    * report: the same analysis as a DICOM frame (quality checks, the site's models),
      ``report.html``, ``report.json`` and ``findings.sr.dcm`` under
      ``results/imaging/<study UID>/``;
    * notification: once per study (a retry or a re-upload of the same bytes sends nothing
      again), to the upload's ``provider_email`` or else ``provider_email``; none when neither.

    Args:
        store: the object store.
        notifier: the notifier.
        upload: ``(bucket, key)`` of the original, which is only read.
        registered: what :func:`register_image` returned.
        deid: the de-identifier.
        analyzer: the analyzer.
        provider_email: the site's provider address, used when the upload names none.
        document_id: the upload's document, linked to the notification.
        progress: called with a fraction and a short message (no patient data).

    Returns:
        The keys written and counts, for the execution's state.

    Raises:
        InputError subclasses: the image cannot be read (quarantine it).
        DependencyMissingError: burned-in text must be checked and Tesseract is missing.
    """
    bucket, key = upload
    study_uid, kind = registered["study_uid"], registered["kind"]
    name = key.rsplit("/", 1)[-1]
    report_progress = progress or (lambda _fraction, _message: None)
    data = store.get(bucket, key)
    report_progress(0.1, "de-identifying")
    clean, summary = deid.deidentify_raster(data, name)
    suffix, content_type = _RASTER_FILES[kind]
    deid_key = f"imaging/{deid.uids.map(study_uid)}/image{suffix}"
    store.put(DEID_BUCKET, deid_key, clean, content_type=content_type)
    report_progress(0.4, "analysing")
    batch = analyzer.analyze_image_study(data, name, study_uid)
    result_keys = _write_results(store, study_uid, batch)
    report_progress(0.9, "notifying")
    notified_key = f"{IMAGES_PREFIX}{study_uid}/notified.json"
    if store.exists(WORK_BUCKET, notified_key):
        notification = json.loads(store.get(WORK_BUCKET, notified_key))["notification_id"]
    else:
        to = str(store.head(bucket, key).metadata.get("provider_email", "")) or provider_email
        notification = None
        if to:
            subject, text = provider_message_text(batch.report, study_uid)
            notification = notifier.send(
                Message(to=to, subject=subject, text=text, related_document_id=document_id)
            )
            store.put(
                WORK_BUCKET,
                notified_key,
                json.dumps({"notification_id": notification}).encode(),
                content_type="application/json",
            )
    report = batch.report
    return {
        "deidentified_keys": [deid_key],
        "masked_regions": len(summary.masked_regions),
        "pixel_review": (
            [f"{deid_key}: {'; '.join(summary.review_reasons)}"] if summary.needs_review else []
        ),
        "result_keys": result_keys,
        "images": len(report.images),
        "positive_findings": sum(f.positive for a in report.images for f in a.findings),
        "notification_id": notification,
    }


# -- the scheduled sweep -------------------------------------------------------------------


def submit_stable_studies(
    store: ObjectStore, runner: Runner, quiet_s: float, now: datetime | None = None
) -> list[str]:
    """Start ``imaging_study`` for every stable study; returns their execution ids.

    Each start is keyed by a ready marker holding the study and its instance count, so a sweep
    that runs twice starts nothing twice (the runner returns the existing execution), while a
    study reopened by a late series gets a new execution.
    """
    ids = []
    for study in stable_studies(store, quiet_s, now):
        count = len(store.list(WORK_BUCKET, _marker_prefix(study)))
        data = json.dumps({"study_uid": study, "instances": count}, sort_keys=True).encode()
        key = f"{STUDIES_PREFIX}{study}/ready-{count}.json"
        obj = store.put(WORK_BUCKET, key, data, content_type="application/json")
        event = ObjectEvent(obj.bucket, obj.key, sha256_hex(data), obj.size, {})
        ids.append(runner.submit(STUDY_PIPELINE, event))
    return ids


class StudySweeper:
    """A background thread that submits stable studies every ``period_s`` seconds.

    Args:
        store: the object store.
        runner: the runner that has ``imaging_study`` registered.
        quiet_s: the quiet time.
        period_s: how often to sweep (default: a quarter of the quiet time, at least 1 s).
    """

    def __init__(
        self, store: ObjectStore, runner: Runner, quiet_s: float, period_s: float | None = None
    ) -> None:
        self.store, self.runner, self.quiet_s = store, runner, quiet_s
        self.period_s = period_s if period_s is not None else max(1.0, quiet_s / 4)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sweep_once(self) -> list[str]:
        """One sweep now; returns the execution ids started."""
        return submit_stable_studies(self.store, self.runner, self.quiet_s)

    def start(self) -> None:
        """Start sweeping in the background (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, name="medflow-imaging-sweep", daemon=True
        )
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.period_s):
            try:
                self.sweep_once()
            except Exception:
                log.exception("imaging sweep failed; retrying next period")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop sweeping."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


# -- the pipeline declarations -------------------------------------------------------------

INSTANCE_PIPELINE = "imaging"
STUDY_PIPELINE = "imaging_study"
QUARANTINE_BUCKET = "quarantine"


def _study_of(ctx: StepContext) -> dict[str, Any]:
    event = ctx.object_event
    data: dict[str, Any] = json.loads(ctx.services.store.get(event.bucket, event.key))
    return data


def imaging_pipelines(config: ImagingConfig) -> tuple[Pipeline, Pipeline]:
    """The ``imaging`` and ``imaging_study`` declarations for a site's configuration.

    The de-identifier and the analyzer (with its ONNX sessions) are built here, once, and
    shared by every execution.

    Raises:
        ModelManifestError: the model folder holds an invalid manifest.
    """
    from medflow.analyzers.imaging.models import ModelRunner

    deid = Deidentifier(config.deid_secret, config.deid_options, config.limits)
    analyzer = ImagingAnalyzer(ModelRunner(config.models_dir), config.limits)

    def register(ctx: StepContext) -> dict[str, Any]:
        event = ctx.object_event
        store = ctx.services.store
        ids = register_upload(store, event.bucket, event.key, config.limits)
        if ids["kind"] not in RASTER_KINDS:
            return dict(ids)  # DICOM: the study is processed when it goes quiet
        outcome = process_image_study(
            store,
            ctx.services.notifier,
            (event.bucket, event.key),
            ids,
            deid,
            analyzer,
            config.provider_email,
            ctx.document_id,
            ctx.progress,
        )
        return {**ids, **outcome}

    def quarantine(ctx: StepContext) -> dict[str, Any]:
        event = ctx.object_event
        store = ctx.services.store
        error = dict(ctx.state.get("error", {}))
        if store.exists(event.bucket, event.key):
            store.move(event.bucket, event.key, QUARANTINE_BUCKET, event.key)
        store.put(
            QUARANTINE_BUCKET,
            event.key + ".reason.json",
            json.dumps(error).encode(),
            content_type="application/json",
        )
        return {"quarantined": event.key}

    def deidentify(ctx: StepContext) -> dict[str, Any]:
        study = _study_of(ctx)
        ctx.progress(0.0, "de-identifying")
        review: list[str] = []
        keys = deidentify_study(ctx.services.store, study["study_uid"], deid, review)
        return {"study_uid": study["study_uid"], "deidentified_keys": keys, "pixel_review": review}

    def analyze(ctx: StepContext) -> dict[str, Any]:
        study_uid = str(ctx.state["study_uid"])
        ctx.progress(0.0, "analysing")
        report, keys = analyze_study(ctx.services.store, study_uid, analyzer)
        positives = sum(f.positive for a in report.images for f in a.findings)
        return {
            "result_keys": keys,
            "images": len(report.images),
            "rejected": dict(report.rejected),
            "positive_findings": positives,
        }

    def notify(ctx: StepContext) -> dict[str, Any]:
        store = ctx.services.store
        study = _study_of(ctx)
        done_key = f"{STUDIES_PREFIX}{study['study_uid']}/notified-{study['instances']}.json"
        if store.exists(WORK_BUCKET, done_key):  # a retried step sends nothing twice
            return dict(json.loads(store.get(WORK_BUCKET, done_key)))
        markers = _markers(store, study["study_uid"])
        to = next((m["provider_email"] for m in markers if m.get("provider_email")), "")
        to = to or config.provider_email
        if not to:  # nobody configured to hear of it: the report is stored, no message sent
            return {"notification_id": None}
        report = ImagingReport.model_validate_json(
            store.get(RESULTS_BUCKET, f"imaging/{study['study_uid']}/report.json")
        )
        subject, text = provider_message_text(report, study["study_uid"])
        notification = ctx.services.notifier.send(
            Message(to=to, subject=subject, text=text, related_document_id=ctx.document_id)
        )
        out = {"notification_id": notification}
        store.put(WORK_BUCKET, done_key, json.dumps(out).encode(), content_type="application/json")
        return out

    def done(ctx: StepContext) -> dict[str, Any]:
        study = _study_of(ctx)
        mark_done(ctx.services.store, study["study_uid"], int(study["instances"]))
        return {"done": True}

    def study_failed(ctx: StepContext) -> dict[str, Any]:
        # The originals stay in ``raw``; the failure is recorded beside the study's markers so
        # staff see it, and a late series (new instance count) will try the study again.
        study = _study_of(ctx)
        ctx.services.store.put(
            WORK_BUCKET,
            f"{STUDIES_PREFIX}{study['study_uid']}/failed-{study['instances']}.json",
            json.dumps(dict(ctx.state.get("error", {}))).encode(),
            content_type="application/json",
        )
        return {"failed": True}

    instance = Pipeline(
        name=INSTANCE_PIPELINE,
        version="2",  # 2: PNG/JPEG processed as one-image studies instead of quarantined
        # A raster's whole study runs in ``register``: the timeout of the study steps, and
        # the notify step's retries (every part is idempotent).
        steps=(Step("register", register, RetryPolicy(max_attempts=5, timeout_s=1800.0)),),
        on_failure=Step("quarantine", quarantine, NO_RETRY),
    )
    study = Pipeline(
        name=STUDY_PIPELINE,
        version="1",
        steps=(
            Step("deidentify", deidentify, RetryPolicy(timeout_s=1800.0)),
            Step("analyze", analyze, RetryPolicy(timeout_s=1800.0)),
            Step("notify", notify, RetryPolicy(max_attempts=5)),
            Step("mark_done", done),
        ),
        on_failure=Step("record_failure", study_failed, NO_RETRY),
    )
    return instance, study
