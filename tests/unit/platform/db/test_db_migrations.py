"""The shipped Alembic migrations match the models and run both ways; SQLite is set up safely."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import text

from medflow.platform.db import Database


def test_models_and_migrations_agree(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    cfg = db.alembic_config()
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.check(cfg)  # raises if autogenerate would find a difference


def test_downgrade_to_base_and_up_again(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    db.downgrade("base")
    assert db.table_names() == ["alembic_version"]
    db.migrate("head")
    assert "executions" in db.table_names()


def test_upgrade_from_the_first_revision_keeps_rows(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}", migrate=False)
    db.migrate("0001")
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO notifications (id, channel, recipient, subject, status, attempts,"
                " payload, created_at) VALUES ('n1', 'email', 'a@b.c', 's', 'sent', 1, 'p',"
                " '2026-01-01 00:00:00')"
            )
        )
    db.migrate("head")
    assert db.notifications.get("n1").idempotency_key is None


def test_sqlite_runs_with_wal_foreign_keys_and_busy_timeout(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}", busy_timeout_ms=1234)
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 1234


def test_parent_folder_is_created(tmp_path: Path) -> None:
    Database(f"sqlite:///{tmp_path / 'new' / 'deeper' / 'm.db'}")
    assert (tmp_path / "new" / "deeper" / "m.db").is_file()


def test_readers_do_not_wait_for_a_writer(tmp_path: Path) -> None:
    import threading

    db = Database(f"sqlite:///{tmp_path / 'm.db'}", busy_timeout_ms=100)
    doc, _ = db.documents.get_or_create(bucket="raw", key="k", sha256="a" * 64, size=1)
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with db.transaction() as s:
            s.execute(text("UPDATE documents SET status = 'busy'"))
            holding.set()
            release.wait(10)

    t = threading.Thread(target=writer)
    t.start()
    holding.wait(10)
    try:
        assert db.documents.get(doc.id).status == "received"
        assert len(db.executions.list()) == 0
    finally:
        release.set()
        t.join()
    assert db.documents.get(doc.id).status == "busy"


def test_head_revision_constant_matches_the_migrations(tmp_path: Path) -> None:
    from alembic.script import ScriptDirectory

    from medflow.platform.db.database import HEAD_REVISION

    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    assert ScriptDirectory.from_config(db.alembic_config()).get_heads() == [HEAD_REVISION]
    assert db.revision() == HEAD_REVISION
