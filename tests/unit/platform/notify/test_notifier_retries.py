"""Delivery status, backoff and giving up, on the memory and outbox adapters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from medflow.platform.config import NotifySettings
from medflow.platform.db import Database
from medflow.platform.notify import MemoryNotifier, Message, OutboxNotifier, parse_email

MSG = Message(to="dr@hospital.test", subject="Results", text="body", html="<p>body</p>")


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database(f"sqlite:///{tmp_path / 'n.db'}")


def test_transient_failure_backs_off_exponentially_then_delivers(db: Database) -> None:
    notifier = MemoryNotifier(db, NotifySettings(retry_base_s=10, max_attempts=5))
    notifier.fail_next(2)
    t0 = datetime.now(UTC)
    nid = notifier.send(MSG)
    first = db.notifications.get(nid)
    assert first.status == "failed"
    assert first.next_attempt_at is not None
    assert timedelta(seconds=9) < first.next_attempt_at - t0 < timedelta(seconds=12)
    assert notifier.retry_failed(now=t0) == 0
    assert notifier.retry_failed(now=t0 + timedelta(seconds=11)) == 1
    second = db.notifications.get(nid)
    assert second.attempts == 2
    assert second.next_attempt_at is not None
    assert second.next_attempt_at - t0 > timedelta(seconds=19)
    assert notifier.retry_failed(now=t0 + timedelta(hours=1)) == 1
    assert db.notifications.get(nid).status == "sent"
    assert len(notifier.sent) == 1


def test_permanent_failure_is_not_retried(db: Database) -> None:
    notifier = MemoryNotifier(db, NotifySettings(retry_base_s=0))
    notifier.fail_next(transient=False)
    nid = notifier.send(MSG)
    rec = db.notifications.get(nid)
    assert (rec.status, rec.next_attempt_at) == ("failed", None)
    assert "recipient rejected" in (rec.last_error or "")
    assert notifier.retry_failed(now=datetime.now(UTC) + timedelta(days=1)) == 0


def test_retry_resends_the_stored_message_unchanged(db: Database) -> None:
    notifier = MemoryNotifier(db, NotifySettings(retry_base_s=0))
    notifier.fail_next()
    nid = notifier.send(MSG)
    notifier.retry_failed(now=datetime.now(UTC) + timedelta(seconds=1))
    [(sent_id, msg)] = notifier.sent
    assert sent_id == nid
    assert msg.as_string() == db.notifications.get(nid).payload


def test_outbox_writes_one_eml_per_message(db: Database, tmp_path: Path) -> None:
    notifier = OutboxNotifier(db, NotifySettings(), tmp_path / "outbox")
    nid = notifier.send(MSG)
    path = notifier.path_for(nid)
    assert path is not None
    assert path.name.endswith(f"-{nid}.eml")
    msg = parse_email(path.read_text())
    assert msg["Subject"] == "Results"
    assert [p.name for p in (tmp_path / "outbox").iterdir()] == [path.name]


def test_unwritable_outbox_is_a_retryable_failure(db: Database, tmp_path: Path) -> None:
    blocker = tmp_path / "outbox"
    blocker.write_text("a file where the folder should be")
    notifier = OutboxNotifier(db, NotifySettings(), blocker)
    nid = notifier.send(MSG)
    rec = db.notifications.get(nid)
    assert rec.status == "failed"
    assert rec.next_attempt_at is not None


def test_a_slow_live_senders_message_is_not_taken_for_a_dead_ones(db: Database) -> None:
    """A message still queued a few socket timeouts after it was stored may belong to a
    sender that is alive but slow (a starved CPU, one slow round trip per SMTP command): the
    retry pass leaves it until a send cannot still be running, so it is not sent twice."""
    notifier = MemoryNotifier(db, NotifySettings(timeout_s=2))
    rec, _ = db.notifications.create(
        channel="email", recipient=MSG.to, subject=MSG.subject, payload="Subject: x\n\nbody"
    )
    stored = db.notifications.get(rec.id).created_at
    # 10 s: five socket timeouts, more than an SMTP session's first few round trips.
    assert notifier.retry_failed(now=stored + timedelta(seconds=10)) == 0
    longest = notifier.longest_send_s()
    assert longest >= notifier.round_trips * 2
    assert notifier.retry_failed(now=stored + timedelta(seconds=longest - 1)) == 0
    assert notifier.retry_failed(now=stored + timedelta(seconds=longest + 1)) == 1
    assert [nid for nid, _ in notifier.sent] == [rec.id]
