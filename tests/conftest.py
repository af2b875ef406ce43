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


_SERVICE_SUITES = ("contract", "integration")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests of the real services run one after another on one xdist worker.

    Some of them stop and start RabbitMQ or kill Celery workers on purpose (the fault and
    durability tests), which other tests using the same broker must not see; the rest of the
    suite spreads over the other workers (``make test`` runs ``pytest -n 2 --dist loadgroup``).
    Without xdist the mark does nothing.
    """
    root = config.rootpath / "tests"
    for item in items:
        parts = item.path.relative_to(root).parts if item.path.is_relative_to(root) else ()
        if parts and parts[0] in _SERVICE_SUITES:
            item.add_marker(pytest.mark.xdist_group("services"))
