"""The webhook notifier against a real HTTP endpoint on loopback: what is signed and how,
which replies are retried, and that a retry carries the same delivery id."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from tests.contract.webhook_server import WebhookServer

from medflow.errors import ConfigError
from medflow.platform.config import NotifySettings, Settings
from medflow.platform.db import Database
from medflow.platform.notify import Attachment, Message, WebhookNotifier, verify_signature
from medflow.platform.notify.webhook import sign_body
from medflow.platform.services import build_notifier

SECRET = b"receiver-secret"
MSG = Message(
    to="oncall@hospital.test",
    subject="Critical potassium",
    text="K 6.8 mmol/L",
    html="<b>K 6.8</b>",
    attachments=(Attachment("r.json", b"{}", "application/json"),),
)


@pytest.fixture
def server() -> Iterator[WebhookServer]:
    hook = WebhookServer(SECRET).start()
    yield hook
    hook.stop()


def _notifier(tmp_path: Path, url: str) -> WebhookNotifier:
    settings = NotifySettings(
        webhook_url=url,
        webhook_secret=SecretStr(SECRET.decode()),
        retry_base_s=1.0,
        max_attempts=3,
        timeout_s=2.0,
    )
    return WebhookNotifier(Database(f"sqlite:///{tmp_path / 'n.db'}"), settings)


def test_each_delivery_is_signed_and_carries_its_id(tmp_path: Path, server: WebhookServer) -> None:
    nid = _notifier(tmp_path, server.url).send(MSG)
    [delivery] = server.deliveries
    assert delivery.signed
    assert delivery.headers["Medflow-Delivery"] == nid
    body = delivery.json
    assert (body["to"], body["subject"], body["text"].strip()) == (
        MSG.to,
        MSG.subject,
        "K 6.8 mmol/L",
    )
    assert body["attachments"] == [
        {"filename": "r.json", "content_type": "application/json", "size": 2}
    ]
    # Any change to the body, another secret, or an old timestamp fails verification.
    header = delivery.headers["Medflow-Signature"]
    assert not verify_signature(SECRET, header, delivery.body + b" ")
    assert not verify_signature(b"other", header, delivery.body)
    assert not verify_signature(SECRET, header, delivery.body, now=time.time() + 3600)
    assert verify_signature(SECRET, sign_body(SECRET, b"x", 1000), b"x", now=1000)


def test_a_server_error_is_retried_with_the_same_delivery_id(
    tmp_path: Path, server: WebhookServer
) -> None:
    notifier = _notifier(tmp_path, server.url)
    server.status_next = [503]
    nid = notifier.send(MSG)
    rec = notifier.get(nid)
    assert (rec.status, rec.attempts) == ("failed", 1)
    assert "replied 503" in (rec.last_error or "")
    assert rec.next_attempt_at is not None
    assert notifier.retry_failed(now=datetime.now(UTC) + timedelta(seconds=5)) == 1
    assert notifier.get(nid).status == "sent"
    assert [d.headers["Medflow-Delivery"] for d in server.deliveries] == [nid]


def test_a_refusal_is_not_retried(tmp_path: Path, server: WebhookServer) -> None:
    notifier = _notifier(tmp_path, server.url)
    server.status_next = [400]
    rec = notifier.get(notifier.send(MSG))
    assert (rec.status, rec.next_attempt_at) == ("failed", None)
    assert "refused the message (400)" in (rec.last_error or "")


def test_an_endpoint_that_does_not_answer_is_retried(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/hook"
    notifier = _notifier(tmp_path, url)
    rec = notifier.get(notifier.send(MSG))
    assert rec.status == "failed"
    assert rec.next_attempt_at is not None
    assert "unreachable" in (rec.last_error or "")


def test_the_webhook_backend_needs_its_url_and_secret(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'n.db'}")
    with pytest.raises(ConfigError, match=r"^notify\.webhook_url"):
        build_notifier(Settings(data_dir=tmp_path, notify={"backend": "webhook"}), db)
    only_url = {"backend": "webhook", "webhook_url": "https://hooks.example/x"}
    with pytest.raises(ConfigError, match=r"^notify\.webhook_secret"):
        build_notifier(Settings(data_dir=tmp_path, notify=only_url), db)
    db.close()
