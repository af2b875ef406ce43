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
