"""Contract suite of the Notifier port: every adapter stores status and delivers the same MIME.

A new adapter joins by adding a parameter to ``harness`` that returns the notifier and a way
to read back what it delivered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from pydantic import SecretStr

from medflow.platform.config import NotifySettings
from medflow.platform.db import Database
from medflow.platform.notify import (
    Attachment,
    InvalidMessageError,
    MemoryNotifier,
    Message,
    Notifier,
    OutboxNotifier,
    SmtpNotifier,
    WebhookNotifier,
    parse_email,
)

from .smtp_server import SmtpServer
from .webhook_server import WebhookServer


@dataclass
class Harness:
    notifier: Notifier
    delivered: Callable[[], list[EmailMessage]]
    channel: str = "email"  # what the notifications table records as the channel


@pytest.fixture(
    params=[
        "memory",
        "outbox",
        pytest.param("smtp", marks=pytest.mark.service("smtp")),
        "webhook",
    ]
)
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    db = Database(f"sqlite:///{tmp_path / 'n.db'}")
    settings = NotifySettings(from_address="medflow@hospital.test")
    if request.param == "memory":
        mem = MemoryNotifier(db, settings)
        yield Harness(mem, lambda: [m for _, m in mem.sent])
    elif request.param == "outbox":
        out = OutboxNotifier(db, settings, tmp_path / "outbox")
        yield Harness(
            out,
            lambda: [
                parse_email(p.read_text()) for p in sorted((tmp_path / "outbox").glob("*.eml"))
            ],
        )
    elif request.param == "webhook":
        hook = WebhookServer(b"hook-secret").start()
        hook_settings = settings.model_copy(
            update={"webhook_url": hook.url, "webhook_secret": SecretStr("hook-secret")}
        )
        yield Harness(WebhookNotifier(db, hook_settings), hook.messages, "webhook")
        hook.stop()
    else:
        server = SmtpServer().start()
        smtp_settings = settings.model_copy(
            update={"smtp_host": "127.0.0.1", "smtp_port": server.port, "smtp_security": "none"}
        )
        yield Harness(SmtpNotifier(db, smtp_settings), lambda: list(server.handler.messages))
        server.stop()
    db.close()


MSG = Message(
    to="doctor@hospital.test",
    subject="Lab results: 1 critical value",
    text="Potassium 6.8 mmol/L (critical)",
    html="<p><b>Potassium 6.8 mmol/L</b> (critical)</p>",
)


def test_send_delivers_text_and_html_alternatives(harness: Harness) -> None:
    nid = harness.notifier.send(MSG)
    [msg] = harness.delivered()
    assert msg["To"] == "doctor@hospital.test"
    assert msg["From"] == "medflow@hospital.test"
    assert msg["Subject"] == MSG.subject
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert text is not None
    assert "Potassium 6.8" in text.get_content()
    assert html is not None
    assert "<b>Potassium" in html.get_content()
    rec = harness.notifier.get(nid)
    assert (rec.status, rec.attempts, rec.recipient, rec.channel) == (
        "sent",
        1,
        "doctor@hospital.test",
        harness.channel,
    )
    assert rec.sent_at is not None


def test_attachments_and_related_document(harness: Harness) -> None:
    db = harness.notifier.db
    doc, _ = db.documents.get_or_create(bucket="raw", key="labs/r.pdf", sha256="a" * 64, size=1)
    message = Message(
        to="doctor@hospital.test",
        subject="Report",
        text="see attached",
        attachments=(Attachment("report.pdf", b"%PDF-1.4 test", "application/pdf"),),
        related_document_id=doc.id,
    )
    nid = harness.notifier.send(message)
    [msg] = harness.delivered()
    [att] = list(msg.iter_attachments())
    assert att.get_filename() == "report.pdf"
    assert att.get_content() == b"%PDF-1.4 test"
    assert [n.id for n in db.notifications.list(document_id=doc.id)] == [nid]


@pytest.mark.parametrize(
    "message",
    [
        Message(to="not-an-address", subject="s", text="t"),
        Message(to="a@b.test", subject="two\nlines", text="t"),
        Message(to="a@b.test\nBcc: evil@x.test", subject="s", text="t"),
        Message(to="a@b.test", subject="  ", text="t"),
    ],
)
def test_invalid_messages_are_refused_before_storing(harness: Harness, message: Message) -> None:
    with pytest.raises(InvalidMessageError):
        harness.notifier.send(message)
    assert harness.notifier.db.notifications.list() == []
    assert harness.delivered() == []


def test_retry_failed_with_nothing_due_sends_nothing(harness: Harness) -> None:
    harness.notifier.send(MSG)
    later = datetime.now(UTC) + timedelta(days=1)
    assert harness.notifier.retry_failed(now=later) == 0
    assert len(harness.delivered()) == 1


def test_same_idempotency_key_sends_once(harness: Harness) -> None:
    keyed = Message(
        to="doctor@hospital.test", subject="Results", text="t", idempotency_key="labs:doc1:doctor"
    )
    first = harness.notifier.send(keyed)
    second = harness.notifier.send(keyed)
    assert second == first
    assert len(harness.delivered()) == 1


def test_a_message_whose_sender_died_before_delivering_is_sent_by_the_retry_pass(
    harness: Harness,
) -> None:
    from medflow.platform.notify import build_email

    db = harness.notifier.db
    keyed = Message(
        to="doctor@hospital.test", subject="Results", text="t", idempotency_key="labs:d9:doctor"
    )
    # Stored, then the process died before handing it over.
    mime = build_email(keyed, "medflow@hospital.test")
    rec, _ = db.notifications.create(
        channel="email",
        recipient=keyed.to,
        subject=keyed.subject,
        payload=mime.as_string(),
        idempotency_key=keyed.idempotency_key,
    )
    assert harness.notifier.send(keyed) == rec.id  # the step's rerun: not sent twice
    assert harness.delivered() == []
    assert harness.notifier.retry_failed() == 0  # too recent: its sender may still be at it
    later = datetime.now(UTC) + timedelta(hours=1)
    assert harness.notifier.retry_failed(now=later) == 1
    assert harness.notifier.retry_failed(now=later) == 0
    assert len(harness.delivered()) == 1
    assert harness.notifier.get(rec.id).status == "sent"
