"""Web settings: the first admin from ``MEDFLOW_ADMIN_EMAIL``/``PASSWORD`` (still honoured)
or ``MEDFLOW_WEB__ADMIN_*``; the session backend choice; an unreachable Redis answers 503."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from medflow.platform import Platform, Settings
from medflow.web.app import create_app
from medflow.web.sessions import DatabaseSessionStore

PASSWORD = "correct horse battery"


@contextmanager
def _app(tmp_path: Path, **web: Any) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path,
        storage={"backend": "memory"},
        notify={"backend": "memory"},
        security={"signing_secret": "test-secret-for-web-settings"},
        web={"base_url": "http://testserver", **web},
    )
    with (
        Platform(settings, pipelines=[]) as platform,
        TestClient(create_app(platform), base_url="http://testserver") as client,
    ):
        yield client


def test_legacy_admin_env_names_still_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDFLOW_ADMIN_EMAIL", "root@example.org")
    monkeypatch.setenv("MEDFLOW_ADMIN_PASSWORD", PASSWORD)
    web = Settings().web
    assert web.admin_email == "root@example.org"
    assert web.admin_password is not None and web.admin_password.get_secret_value() == PASSWORD
    monkeypatch.setenv("MEDFLOW_WEB__ADMIN_EMAIL", "grouped@example.org")
    assert Settings().web.admin_email == "grouped@example.org"  # the grouped name wins
    assert Settings(web={"admin_email": "arg@example.org"}).web.admin_email == "arg@example.org"


def test_the_app_bootstraps_the_admin_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDFLOW_ADMIN_EMAIL", "root@example.org")
    monkeypatch.setenv("MEDFLOW_ADMIN_PASSWORD", PASSWORD)
    with _app(tmp_path) as client:
        accounts = client.app.state.portal.accounts  # type: ignore[attr-defined]
        user = accounts.authenticate("root@example.org", PASSWORD)
        assert user is not None and user.role == "admin"
        assert isinstance(accounts.sessions, DatabaseSessionStore)


def test_redis_sessions_need_a_url_and_production_refuses_placeholder_passwords() -> None:
    with pytest.raises(ValidationError, match="session_redis_url"):
        Settings(web={"session_backend": "redis"})
    with pytest.raises(ValidationError, match=r"web\.admin_password is a placeholder"):
        Settings(
            environment="production",
            security={"signing_secret": "a-real-secret-value-1234"},
            web={"admin_email": "a@example.org", "admin_password": "changeme"},
        )


def test_an_unreachable_redis_answers_503_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDFLOW_ADMIN_EMAIL", "root@example.org")
    monkeypatch.setenv("MEDFLOW_ADMIN_PASSWORD", PASSWORD)
    with _app(
        tmp_path, session_backend="redis", session_redis_url="redis://127.0.0.1:1/0"
    ) as client:
        page = client.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf is not None
        r = client.post(
            "/login",
            data={"email": "root@example.org", "password": PASSWORD, "csrf_token": csrf[1]},
        )
        assert r.status_code == 503 and "sessions are unavailable" in r.json()["detail"]
        client.cookies.set("medflow_session", "anything")
        assert client.get("/", follow_redirects=False).status_code == 503
