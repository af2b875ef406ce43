"""Database backends the contract suites run against.

SQLite always; PostgreSQL (marked ``service("postgres")``) in a database created for the test
session and dropped after it, at ``MEDFLOW_TEST_POSTGRES`` (default: trust auth on loopback).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from medflow.platform.db import Database

PG_ADMIN = os.environ.get(
    "MEDFLOW_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)

DB_BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.service("postgres")),
]


def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this session, dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    name = f"medflow_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN}: {exc.orig}")
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _truncate_all(url: str) -> None:
    from sqlalchemy import create_engine, text

    from medflow.platform.db.models import Base

    engine = create_engine(url)
    with engine.begin() as conn:
        names = ", ".join(t.name for t in Base.metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


def open_database(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Database:
    """A migrated, empty database of the given backend."""
    if backend == "sqlite":
        return Database(f"sqlite:///{tmp_path / 'medflow.db'}")
    url: str = request.getfixturevalue("postgres_url")
    db = Database(url)
    _truncate_all(url)
    return db
