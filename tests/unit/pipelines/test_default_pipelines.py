"""Every pipeline registered from settings, and the imaging study flow through the platform."""

from __future__ import annotations

from pathlib import Path

from pydicom.data import get_testdata_file

from medflow.pipelines import default_pipelines
from medflow.pipelines.imaging import StudySweeper
from medflow.platform import Platform, Settings


def _run_study(settings: Settings) -> Platform:
    platform = Platform(settings, pipelines=default_pipelines(settings))
    data = Path(str(get_testdata_file("CT_small.dcm"))).read_bytes()
    first = platform.ingest(data, "CT_small.dcm", "imaging", {})
    assert platform.runner.wait(first, 60).status == "succeeded"
    sweeper = StudySweeper(platform.services.store, platform.runner, quiet_s=0.0)
    started = sweeper.sweep_once()
    assert len(started) == 1
    assert platform.runner.wait(started[0], 120).status == "succeeded"
    return platform


def test_settings_register_every_pipeline(tmp_path: Path) -> None:
    names = {p.name for p in default_pipelines(Settings(data_dir=tmp_path))}
    assert {"labs", "records", "imaging", "imaging_study"} <= names


def test_an_imaging_study_is_deidentified_reported_and_the_provider_told(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        notify={"backend": "memory"},  # type: ignore[arg-type]
        imaging={"quiet_s": 0.01, "provider_email": "radiology@hospital.test"},  # type: ignore[arg-type]
    )
    platform = _run_study(settings)
    try:
        store = platform.services.store
        assert store.list("deidentified", "imaging/")
        reports = [o.key for o in store.list("results", "imaging/")]
        assert any(k.endswith("report.html") for k in reports)
        assert any(k.endswith("findings.sr.dcm") for k in reports)
        sent = platform.services.db.notifications.list()
        assert [n.recipient for n in sent] == ["radiology@hospital.test"]
    finally:
        platform.close()


def test_no_provider_configured_means_no_message_but_a_stored_report(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        notify={"backend": "memory"},  # type: ignore[arg-type]
        imaging={"quiet_s": 0.01},  # type: ignore[arg-type]
    )
    platform = _run_study(settings)
    try:
        assert platform.services.db.notifications.list() == []
        assert platform.services.store.list("results", "imaging/")
    finally:
        platform.close()
