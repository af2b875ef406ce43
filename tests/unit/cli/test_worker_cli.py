"""``medflow worker``: refuses to start without the Celery runner or with a broker it cannot
reach, in one line naming the setting (exit 2)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medflow.cli import app


def test_worker_needs_the_celery_runner(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["worker", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "runner.backend is 'threads'; medflow worker needs celery" in result.stderr


def test_worker_with_no_broker_names_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("MEDFLOW_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MEDFLOW_RUNNER__BACKEND", "celery")
    monkeypatch.setenv("MEDFLOW_RUNNER__BROKER_URL", f"amqp://guest:guest@127.0.0.1:{port}//")
    from medflow.platform.config import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["worker"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("medflow: configuration: runner.broker_url: cannot reach the broker")
