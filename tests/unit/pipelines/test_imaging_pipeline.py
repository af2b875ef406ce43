"""The imaging pipeline's store-level work: arrivals, the quiet-time rule, one study end to end."""

from __future__ import annotations

import io
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pydicom
import pytest

from medflow.analyzers.imaging.analyzer import ImagingAnalyzer
from medflow.analyzers.imaging.deid import Deidentifier
from medflow.analyzers.imaging.models import ModelRunner
from medflow.analyzers.imaging.read import ReadLimits
from medflow.errors import InputError
from medflow.pipelines.imaging import (
    DEID_BUCKET,
    RESULTS_BUCKET,
    analyze_study,
    deidentify_study,
    mark_done,
    provider_message_text,
    register_instance,
    stable_studies,
)
from medflow.platform.storage.memory import MemoryObjectStore

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures" / "imaging"))
import imaging_fixtures as fx

SECRET = b"pipeline-secret-0123456789abcdef"
STUDY = "1.2.826.0.1.3680043.8.498.500"


def _put(store: MemoryObjectStore, key: str, **overrides: object) -> str:
    buf = io.BytesIO()
    fx.ct_image(StudyInstanceUID=STUDY, **overrides).save_as(buf, enforce_file_format=True)
    store.put("raw", key, buf.getvalue())
    return key


def test_study_is_stable_only_after_the_quiet_time() -> None:
    store = MemoryObjectStore()
    for i in range(2):
        register_instance(store, "raw", _put(store, f"imaging/ct{i}.dcm", seed=i), ReadLimits())
    now = datetime.now(UTC)
    assert stable_studies(store, quiet_s=60, now=now) == []
    assert stable_studies(store, quiet_s=60, now=now + timedelta(seconds=61)) == [STUDY]


def test_registering_twice_is_idempotent_and_late_series_reopen_the_study() -> None:
    store = MemoryObjectStore()
    key = _put(store, "imaging/a.dcm", seed=1)
    register_instance(store, "raw", key, ReadLimits())
    register_instance(store, "raw", key, ReadLimits())
    later = datetime.now(UTC) + timedelta(seconds=500)
    assert stable_studies(store, 60, later) == [STUDY]
    mark_done(store, STUDY, instances=1)
    assert stable_studies(store, 60, later) == []
    register_instance(store, "raw", _put(store, "imaging/b.dcm", seed=2), ReadLimits())
    assert stable_studies(store, 60, later) == [STUDY]  # a late series reopens the study


def test_non_dicom_arrival_raises_for_quarantine() -> None:
    store = MemoryObjectStore()
    store.put("raw", "imaging/notes.dcm", b"not an image")
    with pytest.raises(InputError, match=r"notes\.dcm"):
        register_instance(store, "raw", "imaging/notes.dcm", ReadLimits())


def test_study_is_deidentified_analysed_and_reported(tmp_path: Path) -> None:
    store = MemoryObjectStore()
    for i in range(2):
        register_instance(store, "raw", _put(store, f"imaging/ct{i}.dcm", seed=i), ReadLimits())
    originals = {o.key: store.get("raw", o.key) for o in store.list("raw")}
    deid = Deidentifier(SECRET)
    keys = deidentify_study(store, STUDY, deid)
    assert len(keys) == 2
    assert all(STUDY not in k for k in keys)
    copy = pydicom.dcmread(io.BytesIO(store.get(DEID_BUCKET, keys[0])))
    assert copy.StudyInstanceUID == deid.uids.map(STUDY)
    assert copy.PatientIdentityRemoved == "YES"
    assert deidentify_study(store, STUDY, deid) == keys  # idempotent
    fx.write_model(tmp_path / "models")
    report, result_keys = analyze_study(
        store, STUDY, ImagingAnalyzer(ModelRunner(tmp_path / "models"))
    )
    assert sorted(k.rsplit("/", 1)[-1] for k in result_keys) == [
        "findings.sr.dcm",
        "report.html",
        "report.json",
    ]
    data = json.loads(store.get(RESULTS_BUCKET, f"imaging/{STUDY}/report.json"))
    assert len(data["images"]) == 2
    assert {o.key: store.get("raw", o.key) for o in store.list("raw")} == originals
    subject, text = provider_message_text(report, STUDY)
    assert "Jane" not in subject
    assert "Doe" not in subject
    assert "2 image(s)" in subject
    assert "decision support" in text


@pytest.fixture
def platform(tmp_path: Path):  # type: ignore[no-untyped-def]
    from medflow.pipelines.imaging import ImagingConfig, imaging_pipelines
    from medflow.platform.config import Settings
    from medflow.platform.db import Database
    from medflow.platform.notify import MemoryNotifier
    from medflow.platform.runner import Services
    from medflow.platform.services import Platform

    fx.write_model(tmp_path / "models")
    db = Database(f"sqlite:///{tmp_path / 'medflow.sqlite'}")
    settings = Settings(data_dir=tmp_path)
    services = Services(
        settings=settings,
        store=MemoryObjectStore(),
        db=db,
        notifier=MemoryNotifier(db, settings.notify),
    )
    config = ImagingConfig(
        deid_secret=SECRET,
        provider_email="radiology@example.org",
        quiet_s=0.0,
        models_dir=tmp_path / "models",
    )
    with Platform(services=services, pipelines=imaging_pipelines(config)) as p:
        yield p


def _dicom(seed: int) -> bytes:
    buf = io.BytesIO()
    fx.ct_image(seed=seed, StudyInstanceUID=STUDY).save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def test_platform_runs_instances_then_the_stable_study_and_tells_the_provider(
    platform,  # type: ignore[no-untyped-def]
) -> None:
    from medflow.pipelines.imaging import StudySweeper

    runner, store = platform.runner, platform.services.store
    for i in range(2):
        rec = runner.wait(platform.ingest(_dicom(i), f"ct{i}.dcm", "imaging"))
        assert rec.status == "succeeded"
    bad = runner.wait(platform.ingest(b"not dicom", "notes.dcm", "imaging"))
    assert bad.status == "quarantined"
    quarantined = [o.key for o in store.list("quarantine")]
    assert any(k.endswith("notes.dcm") for k in quarantined)
    assert any(k.endswith("notes.dcm.reason.json") for k in quarantined)

    sweeper = StudySweeper(store, runner, quiet_s=0.0)
    started = sweeper.sweep_once()
    assert len(started) == 1
    rec = runner.wait(started[0], timeout=120)
    assert rec.status == "succeeded", rec
    assert len(store.list(DEID_BUCKET)) == 2
    assert store.exists(RESULTS_BUCKET, f"imaging/{STUDY}/findings.sr.dcm")
    sent = platform.services.notifier.sent
    assert len(sent) == 1
    assert sent[0][1]["To"] == "radiology@example.org"
    assert "2 image(s)" in sent[0][1]["Subject"]
    assert sweeper.sweep_once() == []  # done: nothing started twice


def test_late_series_reprocesses_the_study_and_notifies_again(
    platform,  # type: ignore[no-untyped-def]
) -> None:
    from medflow.pipelines.imaging import StudySweeper

    runner, store = platform.runner, platform.services.store
    runner.wait(platform.ingest(_dicom(1), "ct1.dcm", "imaging"))
    sweeper = StudySweeper(store, runner, quiet_s=0.0)
    first = sweeper.sweep_once()
    assert runner.wait(first[0], timeout=120).status == "succeeded"
    assert sweeper.sweep_once() == []
    runner.wait(platform.ingest(_dicom(2), "ct2.dcm", "imaging"))  # a late series
    second = sweeper.sweep_once()
    assert len(second) == 1
    assert second != first
    assert runner.wait(second[0], timeout=120).status == "succeeded"
    assert len(platform.services.notifier.sent) == 2  # one per completed version of the study
    report = json.loads(store.get(RESULTS_BUCKET, f"imaging/{STUDY}/report.json"))
    assert len(report["images"]) == 2
