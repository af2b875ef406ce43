"""Building the platform from configuration, and the whole path: file in, results and email out."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pytest

from medflow.errors import ConfigError, EmptyInputError, FileTooLargeError
from medflow.platform import Pipeline, Platform, RetryPolicy, Settings, Step, StepContext
from medflow.platform.db import Observation
from medflow.platform.notify import Message, OutboxNotifier, SmtpNotifier
from medflow.platform.services import build_services
from medflow.platform.storage import LocalObjectStore

FAST = RetryPolicy(max_attempts=2, base_delay_s=0.01, timeout_s=10)


def _settings(tmp_path: Path, **extra: Any) -> Settings:
    runner = {"poll_s": 0.02, "inbox_poll_s": 0.05, "heartbeat_s": 0.2, "workers": 1}
    return Settings(data_dir=tmp_path / "data", runner=runner, **extra)


def _labs_pipeline() -> Pipeline:
    def parse(ctx: StepContext) -> dict[str, Any]:
        data = ctx.services.store.get(ctx.event["bucket"], ctx.event["key"])
        return {"value": float(data.decode().split("=")[1])}

    def store(ctx: StepContext) -> None:
        assert ctx.document_id is not None
        ctx.services.db.results.replace_observations(
            ctx.document_id,
            [
                Observation(
                    name="Potassium", value=ctx.state["value"], unit="mmol/L", loinc="2823-3"
                )
            ],
            patient_id=ctx.event["metadata"].get("patient_id"),
        )

    def notify(ctx: StepContext) -> dict[str, Any]:
        nid = ctx.services.notifier.send(
            Message(
                to="dr@hospital.test",
                subject="Lab results",
                text=f"K {ctx.state['value']}",
                related_document_id=ctx.document_id,
            )
        )
        return {"notification": nid}

    return Pipeline(
        "labs",
        "1",
        (Step("parse", parse, FAST), Step("store", store, FAST), Step("notify", notify, FAST)),
    )


def test_defaults_build_folder_store_sqlite_and_outbox(tmp_path: Path) -> None:
    services = build_services(_settings(tmp_path))
    assert isinstance(services.store, LocalObjectStore)
    assert isinstance(services.notifier, OutboxNotifier)
    assert (tmp_path / "data" / "medflow.db").is_file()
    assert (tmp_path / "data" / "signing.key").is_file()
    services.close()


def test_smtp_backend_is_chosen_by_configuration(tmp_path: Path) -> None:
    services = build_services(_settings(tmp_path, notify={"backend": "smtp"}))
    assert isinstance(services.notifier, SmtpNotifier)
    services.close()


def test_s3_backend_with_nothing_at_the_endpoint_names_the_setting(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    storage = {
        "backend": "s3",
        "s3_endpoint_url": f"http://127.0.0.1:{port}",
        "s3_access_key_id": "k",
        "s3_secret_access_key": "s",
    }
    with pytest.raises(ConfigError, match=r"^storage\.s3_endpoint_url: cannot reach"):
        Platform(Settings(data_dir=tmp_path, storage=storage))


def test_s3_backend_without_credentials_names_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    storage = {"backend": "s3", "s3_endpoint_url": "http://127.0.0.1:9"}
    with pytest.raises(ConfigError, match=r"^storage\.s3_access_key_id: no S3 credentials"):
        Platform(Settings(data_dir=tmp_path, storage=storage))


def test_ingest_runs_the_pipeline_end_to_end(tmp_path: Path) -> None:
    with Platform(_settings(tmp_path), pipelines=[_labs_pipeline()]) as platform:
        eid = platform.ingest(b"K=6.8", "k.txt", "labs", {"patient_id": "P1"}, "text/plain")
        rec = platform.runner.wait(eid, timeout=30)
        assert rec.status == "succeeded"
        db = platform.services.db
        [obs] = db.results.observations(patient_id="P1", loinc="2823-3")
        assert obs.value == 6.8
        notification = db.notifications.get(rec.state["notification"])
        assert notification.status == "sent"
        assert len(list((tmp_path / "data" / "outbox").glob("*.eml"))) == 1
        assert rec.document_id is not None
        assert db.documents.get(rec.document_id).content_type == "text/plain"
        assert platform.ingest(b"K=6.8", "again.txt", "labs") == eid


def test_ingest_refuses_oversized_and_empty_files_before_storing(tmp_path: Path) -> None:
    settings = _settings(tmp_path, storage={"max_upload_bytes": 10})
    with Platform(settings, pipelines=[_labs_pipeline()]) as platform:
        with pytest.raises(FileTooLargeError, match=r"big\.pdf: 11 bytes is over"):
            platform.ingest(b"x" * 11, "big.pdf", "labs")
        with pytest.raises(EmptyInputError, match=r"empty\.pdf"):
            platform.ingest(b"", "empty.pdf", "labs")
        assert platform.services.store.list("raw") == []
        assert platform.runner.list_executions() == []


def test_put_under_a_trigger_prefix_starts_the_pipeline(tmp_path: Path) -> None:
    with Platform(_settings(tmp_path), pipelines=[_labs_pipeline()]) as platform:
        platform.services.store.put("raw", "labs/x/k.txt", b"K=3.1")
        platform.services.store.put("raw", "elsewhere/k.txt", b"K=9.9")
        platform.services.store.copy("raw", "labs/x/k.txt", "raw", "labs/y/copy.txt")
        [rec] = platform.runner.list_executions()
        assert platform.runner.wait(rec.id, timeout=30).state["value"] == 3.1


def test_file_dropped_in_the_inbox_is_processed(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    with Platform(settings, pipelines=[_labs_pipeline()]) as platform:
        platform.start()
        (settings.inbox_dir / "labs" / "k.txt").write_bytes(b"K=4.2")
        deadline = time.monotonic() + 30
        while not platform.runner.list_executions(status="succeeded"):
            assert time.monotonic() < deadline, "inbox file was not processed"
            time.sleep(0.05)
        [rec] = platform.runner.list_executions()
        assert rec.state["value"] == 4.2
        assert list((settings.inbox_dir / "labs").iterdir()) == []


def test_serve_forever_runs_until_told_to_stop(tmp_path: Path) -> None:
    import threading

    settings = _settings(tmp_path)
    stop = threading.Event()
    with Platform(settings, pipelines=[_labs_pipeline()]) as platform:
        server = threading.Thread(target=platform.serve_forever, args=(stop,))
        server.start()
        eid = platform.ingest(b"K=5.0", "k.txt", "labs")
        deadline = time.monotonic() + 30
        while not platform.runner.get_execution(eid).done:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        stop.set()
        server.join(30)
        assert not server.is_alive()
        assert not platform.runner.running


def test_quarantine_is_audited(tmp_path: Path) -> None:
    def bad(ctx: StepContext) -> None:
        raise ValueError("unreadable")

    pipeline = Pipeline(
        "labs", "1", (Step("parse", bad, FAST),), Step("quarantine", lambda c: None)
    )
    with Platform(_settings(tmp_path), pipelines=[pipeline]) as platform:
        rec = platform.runner.wait(platform.ingest(b"x", "x.pdf", "labs"), timeout=30)
        assert rec.status == "quarantined"
        assert rec.document_id is not None
        [entry] = platform.services.db.audit.list(object_id=rec.document_id)
        assert (entry.actor, entry.action) == ("runner", "quarantined")
        assert entry.detail == {"execution": rec.id, "step": "parse", "error_type": "ValueError"}


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgres://u@127.0.0.1/x", "is not a database URL SQLAlchemy reads"),
        ("nonsense", "is not a database URL SQLAlchemy reads"),
        ("postgresql+psycopg://u:pw@127.0.0.1:{port}/x", "cannot open the database"),
    ],
)
def test_a_wrong_database_url_names_the_setting(tmp_path: Path, url: str, says: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = Settings(data_dir=tmp_path, database={"url": url.format(port=port)})
    with pytest.raises(ConfigError, match=rf"^database\.url: .*{says}") as caught:
        build_services(settings)
    assert "pw" not in str(caught.value)  # the password is masked


def test_celery_runner_with_no_broker_names_the_setting(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    runner = {"backend": "celery", "broker_url": f"amqp://guest:guest@127.0.0.1:{port}//"}
    with pytest.raises(ConfigError, match=r"^runner\.broker_url: cannot reach the broker"):
        Platform(Settings(data_dir=tmp_path, runner=runner))
