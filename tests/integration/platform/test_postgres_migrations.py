"""The same Alembic migrations on PostgreSQL: they match the models, run both ways, and workers
that open a new database together do not trip over each other."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from alembic import command
from tests.contract.backends import postgres_database

from medflow.platform.db import Database
from medflow.platform.db.database import HEAD_REVISION

pytestmark = pytest.mark.service("postgres")


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from postgres_database()


def test_models_and_migrations_agree_on_postgres(pg_url: str) -> None:
    db = Database(pg_url)
    cfg = db.alembic_config()
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.check(cfg)  # raises if autogenerate would find a difference
    db.close()


def test_downgrade_to_base_and_up_again_on_postgres(pg_url: str) -> None:
    db = Database(pg_url)
    db.downgrade("base")
    assert db.table_names() == ["alembic_version"]
    db.migrate("head")
    assert db.revision() == HEAD_REVISION
    assert "executions" in db.table_names()
    db.close()


def test_processes_opening_a_new_database_together_all_succeed(pg_url: str) -> None:
    errors: list[BaseException] = []
    opened: list[Database] = []
    lock = threading.Lock()

    def open_it() -> None:
        try:
            db = Database(pg_url)  # each its own engine and pool, as separate workers have
            with lock:
                opened.append(db)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert {db.revision() for db in opened} == {HEAD_REVISION}
    for db in opened:
        db.close()
