"""Shared test setup: every test starts with no MEDFLOW_* configuration from the environment."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _clean_medflow_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("MEDFLOW_"):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 endpoint (moto's standalone server on a free loopback port) for the session."""
    from tests.s3_server import moto_server

    with moto_server() as url:
        yield url
