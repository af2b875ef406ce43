"""``WebhookNotifier``: each message POSTed as JSON to an HTTPS endpoint, signed, with retries.

For sites that fan messages out themselves (an SNS topic's HTTPS subscription, a chat bridge,
a hospital integration engine). The body is JSON::

    {"id": "<notification id>", "channel": "webhook", "to": "...", "subject": "...",
     "text": "...", "html": "..." | null, "related_document_id": "..." | null,
     "attachments": [{"filename", "content_type", "size"}], "mime": "<RFC 5322 message>"}

``mime`` is the same message every other adapter delivers, attachments included, so a receiver
can forward it as mail unchanged.

Signature (the scheme Stripe and GitHub webhooks use): header ``Medflow-Signature:
t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" under notify.webhook_secret>``. Receivers
recompute it (:func:`verify_signature`) and refuse old timestamps, which stops replays.
``Medflow-Delivery`` carries the notification id: a retry of the same message has the same id,
so a receiver can drop a delivery it already took.

Errors: connection failures, timeouts, 408, 429 and 5xx replies are transient (retried with the
notifier's backoff); other 4xx replies are permanent (the endpoint refuses this message).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from email.message import EmailMessage

import httpx

from medflow.errors import NotifierError, TransientNotifierError
from medflow.platform.config import NotifySettings
from medflow.platform.db import Database
from medflow.platform.notify.base import Notifier

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Medflow-Signature"
DELIVERY_HEADER = "Medflow-Delivery"
_TRANSIENT_STATUS = {408, 425, 429}


def sign_body(secret: bytes, body: bytes, timestamp: int) -> str:
    """The ``Medflow-Signature`` header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(
    secret: bytes, header: str, body: bytes, tolerance_s: float = 300.0, now: float | None = None
) -> bool:
    """Whether ``header`` signs ``body`` under ``secret`` and is at most ``tolerance_s`` old
    (what a receiver checks; constant-time)."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        timestamp = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    expected = sign_body(secret, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


def webhook_body(notification_id: str, message: EmailMessage) -> bytes:
    """The JSON body delivered for one message."""
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    attachments = [
        {
            "filename": part.get_filename(),
            "content_type": part.get_content_type(),
            "size": len(part.get_payload(decode=True) or b""),
        }
        for part in message.iter_attachments()
    ]
    payload = {
        "id": notification_id,
        "channel": "webhook",
        "to": message["To"],
        "subject": message["Subject"],
        "text": text.get_content() if text is not None else "",
        "html": html.get_content() if html is not None else None,
        "attachments": attachments,
        "mime": message.as_string(),
    }
    return json.dumps(payload).encode()


class WebhookNotifier(Notifier):
    """POSTs each message to ``notify.webhook_url``, signed with ``notify.webhook_secret``.

    Args:
        db: the database (delivery status).
        settings: the ``notify`` group (URL, secret, timeout, retry policy).
        client: an ``httpx.Client`` to send with (tests); default one per notifier.

    Raises:
        ConfigError: no URL or no secret configured (raised by :func:`build_notifier`).
    """

    channel = "webhook"
    round_trips = 4  # connect, TLS handshake, send, reply: each up to timeout_s

    def __init__(
        self, db: Database, settings: NotifySettings, client: httpx.Client | None = None
    ) -> None:
        super().__init__(db, settings)
        if not settings.webhook_url or settings.webhook_secret is None:
            raise NotifierError("the webhook notifier needs webhook_url and webhook_secret")
        self.url = settings.webhook_url
        self._secret = settings.webhook_secret.get_secret_value().encode()
        self._client = client or httpx.Client(timeout=settings.timeout_s)

    def _deliver(self, notification_id: str, message: EmailMessage) -> None:
        body = webhook_body(notification_id, message)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign_body(self._secret, body, int(time.time())),
            DELIVERY_HEADER: notification_id,
            "User-Agent": "medflow-webhook/1",
        }
        where = f"webhook {httpx.URL(self.url).host}"
        try:
            resp = self._client.post(self.url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise TransientNotifierError(f"{where} timed out") from exc
        except httpx.HTTPError as exc:
            raise TransientNotifierError(f"{where} unreachable ({type(exc).__name__})") from exc
        code = resp.status_code
        if 200 <= code < 300:
            log.info("notification %s accepted by %s (%d)", notification_id, where, code)
            return
        if code >= 500 or code in _TRANSIENT_STATUS:
            raise TransientNotifierError(f"{where} replied {code}")
        raise NotifierError(f"{where} refused the message ({code})")
