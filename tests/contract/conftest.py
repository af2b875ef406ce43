"""Fixtures shared by the contract suites (backends live in ``backends.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from medflow.platform.db import Database

from .backends import DB_BACKENDS, open_database, postgres_database


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this session, dropped afterwards."""
    yield from postgres_database()


@pytest.fixture(params=DB_BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    database = open_database(request.param, tmp_path, request)
    yield database
    database.close()


@pytest.fixture(scope="session")
def broker_url() -> Iterator[str]:
    """A RabbitMQ virtual host of this session's own, deleted afterwards."""
    from tests.rabbitmq import rabbitmq_vhost

    with rabbitmq_vhost() as url:
        yield url
