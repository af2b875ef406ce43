"""The imaging pipelines: an instance arrives, a study goes quiet, it is processed, the provider
is told.

Two declarations run on any runner:

* ``imaging`` (one execution per uploaded object, started by the ``raw/imaging/`` trigger):
  ``register`` records the instance's arrival; a file that is not readable DICOM fails
  permanently and ``quarantine`` moves it to the ``quarantine`` bucket with its reason.
* ``imaging_study`` (one execution per stable study, started by :class:`StudySweeper`):
  ``deidentify`` -> ``analyze`` -> ``notify`` -> ``mark_done``.

A study is processed once its instances stop arriving for a quiet time (as Orthanc's
``StableStudy`` event after ``StableAge`` seconds): each arriving instance leaves a marker under
``work/imaging/studies/<Study UID>/``; a sweep finds studies whose newest marker is older than
the quiet time and that are not done for their current number of instances, so a series that
comes late reopens the study instead of being lost.

Buckets: originals stay in ``raw`` (never modified); de-identified copies go to
``deidentified`` under the new (remapped) UIDs; the report (HTML, JSON, DICOM SR) to ``results``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from medflow.analyzers.imaging.analyzer import ImagingAnalyzer
from medflow.analyzers.imaging.deid import Deidentifier
from medflow.analyzers.imaging.read import ReadLimits, quiet_pydicom, read_dicom
from medflow.domain.imaging import DeidOptions, ImagingReport
from medflow.platform.notify.base import Message
from medflow.platform.runner.base import Runner
from medflow.platform.runner.context import StepContext
from medflow.platform.runner.declaration import NO_RETRY, Pipeline, RetryPolicy, Step
from medflow.platform.storage.base import ObjectEvent, ObjectStore, sha256_hex

log = logging.getLogger(__name__)

WORK_BUCKET = "work"
DEID_BUCKET = "deidentified"
RESULTS_BUCKET = "results"
STUDIES_PREFIX = "imaging/studies/"


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


def register_instance(
    store: ObjectStore, bucket: str, key: str, limits: ReadLimits
) -> dict[str, str]:
    """Record the arrival of one DICOM instance (idempotent: one marker per SOP Instance UID).

    Returns:
        ``{"study_uid", "series_uid", "sop_uid"}``.

    Raises:
        InputError subclasses: the object is not a readable DICOM file (quarantine it).
    """
    data = store.get(bucket, key)
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


def deidentify_study(store: ObjectStore, study_uid: str, deid: Deidentifier) -> list[str]:
    """De-identified copies of every instance of a study into ``deidentified``.

    Keys use the remapped UIDs (``imaging/<new study>/<new series>/<new sop>.dcm``), so the
    copy's location reveals nothing; writing twice gives the same keys (idempotent).
    """
    keys = []
    for marker in _markers(store, study_uid):
        data, _ = deid.deidentify_file(store.get(marker["bucket"], marker["key"]), marker["key"])
        new = [deid.uids.map(marker[k]) or "none" for k in ("study_uid", "series_uid", "sop_uid")]
        key = f"imaging/{new[0]}/{new[1]}/{new[2]}.dcm"
        store.put(DEID_BUCKET, key, data, content_type="application/dicom")
        keys.append(key)
    return keys


def analyze_study(
    store: ObjectStore, study_uid: str, analyzer: ImagingAnalyzer
) -> tuple[ImagingReport, list[str]]:
    """Analyse a study's originals; write report.html, report.json and the findings SR.

    Returns:
        The report and the result keys (under ``results/imaging/<study>/``).
    """
    import io

    from medflow.reports.imaging_html import render_imaging_html

    markers = _markers(store, study_uid)
    batch = analyzer.analyze_many(
        (m["key"].rsplit("/", 1)[-1], store.get(m["bucket"], m["key"])) for m in markers
    )
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
    return report, keys


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
        return register_instance(ctx.services.store, event.bucket, event.key, config.limits)

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
        keys = deidentify_study(ctx.services.store, study["study_uid"], deid)
        return {"study_uid": study["study_uid"], "deidentified_keys": keys}

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
        version="1",
        steps=(Step("register", register, RetryPolicy(max_attempts=3)),),
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
