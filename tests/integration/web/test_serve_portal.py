"""``serve(platform)`` runs the portal on a real socket: health, login page, OpenAPI, stop."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import httpx

from medflow.pipelines.labs import build_pipeline
from medflow.platform import Platform, Settings
from medflow.web.server import serve


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_serve_answers_on_loopback_and_stops_when_asked(tmp_path: Path) -> None:
    port = _free_port()
    settings = Settings(
        data_dir=tmp_path,
        notify={"backend": "memory"},
        web={"base_url": f"http://127.0.0.1:{port}"},
    )
    stop, started = threading.Event(), threading.Event()
    with Platform(settings, pipelines=[build_pipeline()]) as platform:
        thread = threading.Thread(
            target=serve,
            args=(platform, "127.0.0.1", port),
            kwargs={"stop": stop, "started": started},
        )
        thread.start()
        try:
            assert started.wait(30)
            base = f"http://127.0.0.1:{port}"
            assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
            assert "/api/v1/uploads" in httpx.get(f"{base}/openapi.json").json()["paths"]
            login = httpx.get(f"{base}/login")
            assert login.status_code == 200 and 'name="csrf_token"' in login.text
            assert "HttpOnly" in login.headers["set-cookie"]
            assert "SameSite=lax" in login.headers["set-cookie"]
            assert httpx.get(f"{base}/api/v1/documents").status_code == 401
        finally:
            stop.set()
            thread.join(30)
        assert not thread.is_alive()


def test_medflow_serve_warns_at_start_when_emails_would_carry_a_loopback_url(
    tmp_path: Path,
) -> None:
    import os
    import signal
    import subprocess
    import sys

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDFLOW_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "medflow", "serve", "--port", str(port)],
        cwd=tmp_path,
        env={
            **env,
            "MEDFLOW_DATA_DIR": str(tmp_path / "data"),
            "MEDFLOW_NOTIFY__BACKEND": "memory",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("medflow: portal at"):
                assert line.strip() == f"medflow: portal at http://127.0.0.1:{port}"
                break
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    warnings = [line for line in err.splitlines() if line.startswith("medflow: warning:")]
    assert len(warnings) == 1
    assert f"http://127.0.0.1:{port}" in warnings[0] and "web.public_url" in warnings[0]
