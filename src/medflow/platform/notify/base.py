"""The ``Notifier`` port: send a message, store its delivery status, retry failed sends.

Every adapter turns a :class:`Message` into one RFC 5322 message (``multipart/alternative``
text + HTML, RFC 2046, plus attachments), stores it in the ``notifications`` table as
``queued``, then delivers it. A transient failure (server down, timeout, 4xx reply) leaves it
``failed`` with a next attempt time, doubling per try, until ``max_attempts``;
:meth:`Notifier.retry_failed` sends the due ones again. A permanent failure (5xx, bad
credentials) is ``failed`` with no next attempt. ``send`` does not raise on delivery failures:
the status says what happened, and a pipeline's notify step does not quarantine a good report
because a mail server was down.
"""

from __future__ import annotations

import email.policy
import logging
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import message_from_string
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from medflow.errors import NotifierError, TransientError
from medflow.platform.config import NotifySettings
from medflow.platform.db import Database, NotificationRecord
from medflow.platform.db.models import utcnow

log = logging.getLogger(__name__)

# Deliberately loose (one @, a dot in the domain, no spaces): full RFC 5321 validation belongs
# to the server; this catches typos and header injection before anything is stored.
_ADDRESS_RE = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")
MAX_BACKOFF_S = 6 * 3600.0
# A live sender can be slowed beyond its socket timeouts by the machine (CPU starved, swapping,
# a slow database commit after the server accepted the message); a message still queued this
# long after its send's longest possible run is taken for one whose sender died.
STALE_MARGIN_S = 30.0


class InvalidMessageError(NotifierError, ValueError):
    """The message cannot be sent as given (bad address, empty subject)."""


@dataclass(frozen=True)
class Attachment:
    """A file attached to a message."""

    filename: str
    content: bytes
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class Message:
    """A message to one person.

    Attributes:
        to: the recipient's address (one; send one message per recipient).
        subject: the subject line.
        text: the plain-text body (always present: some readers show only this).
        html: the HTML body, or None for text only.
        attachments: files to attach.
        related_document_id: the document the message is about (shown to staff).
        idempotency_key: a key unique to this message's purpose (``"labs:<document>:doctor"``);
            sending again with a key already used sends nothing and returns the first id, so
            a step that runs twice sends one message.
    """

    to: str
    subject: str
    text: str
    html: str | None = None
    attachments: tuple[Attachment, ...] = ()
    related_document_id: str | None = None
    idempotency_key: str | None = None


def build_email(message: Message, from_address: str) -> EmailMessage:
    """The RFC 5322 message for ``message``.

    Raises:
        InvalidMessageError: a bad address, a newline in the subject, or an empty subject.
    """
    if not _ADDRESS_RE.match(message.to):
        raise InvalidMessageError("the recipient address is not an email address")
    if not message.subject.strip() or "\n" in message.subject or "\r" in message.subject:
        raise InvalidMessageError("the subject must be one non-empty line")
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = from_address
    msg["To"] = message.to
    msg["Subject"] = message.subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=from_address.rsplit("@", 1)[-1])
    msg.set_content(message.text)
    if message.html is not None:
        msg.add_alternative(message.html, subtype="html")
    for att in message.attachments:
        maintype, _, subtype = att.content_type.partition("/")
        msg.add_attachment(
            att.content, maintype=maintype, subtype=subtype or "octet-stream", filename=att.filename
        )
    return msg


def parse_email(payload: str) -> EmailMessage:
    """Read back a stored message."""
    msg = message_from_string(payload, policy=email.policy.SMTP)
    assert isinstance(msg, EmailMessage)
    return msg


class Notifier(ABC):
    """The port; adapters implement :meth:`_deliver`.

    Args:
        db: where notifications and their status are stored.
        settings: the ``notify`` settings group (from address, max attempts, backoff).
    """

    channel = "email"
    # Network round trips one delivery may wait on, each up to ``timeout_s`` (SMTP: connect,
    # greeting, EHLO, STARTTLS, EHLO again, AUTH, MAIL, RCPT, DATA, end of data, QUIT).
    round_trips = 11

    def __init__(self, db: Database, settings: NotifySettings) -> None:
        self.db = db
        self.settings = settings

    @abstractmethod
    def _deliver(self, notification_id: str, message: EmailMessage) -> None:
        """Hand one message over.

        Raises:
            TransientNotifierError: worth trying again later.
            NotifierError: will not succeed as configured.
        """

    def send(self, message: Message) -> str:
        """Store and deliver ``message``; returns the notification id.

        Delivery failures do not raise: they are stored (see :meth:`get`) and retried by
        :meth:`retry_failed`. A message whose ``idempotency_key`` was used before is not
        sent again.

        Raises:
            InvalidMessageError: the message cannot be built (nothing is stored).
        """
        mime = build_email(message, self.settings.from_address)
        rec, created = self.db.notifications.create(
            channel=self.channel,
            recipient=message.to,
            subject=message.subject,
            payload=mime.as_string(),
            document_id=message.related_document_id,
            idempotency_key=message.idempotency_key,
        )
        if not created:
            log.info("notification %s already exists for this key; not sent again", rec.id)
            return rec.id
        self._attempt(rec.id, mime, attempts_before=0)
        return rec.id

    def _backoff(self, attempts: int) -> float:
        return float(min(MAX_BACKOFF_S, self.settings.retry_base_s * 2.0 ** (attempts - 1)))

    def _attempt(self, notification_id: str, mime: EmailMessage, attempts_before: int) -> None:
        try:
            self._deliver(notification_id, mime)
        except NotifierError as exc:
            attempts = attempts_before + 1
            retry = isinstance(exc, TransientError) and attempts < self.settings.max_attempts
            next_at: datetime | None = (
                utcnow() + timedelta(seconds=self._backoff(attempts)) if retry else None
            )
            self.db.notifications.mark_failed(
                notification_id, f"{type(exc).__name__}: {exc}", next_at
            )
            log.warning(
                "notification %s: try %d failed (%s)%s",
                notification_id,
                attempts,
                type(exc).__name__,
                ", will retry" if retry else ", giving up",
            )
        else:
            self.db.notifications.mark_sent(notification_id)
            log.info("notification %s sent via %s", notification_id, type(self).__name__)

    def longest_send_s(self) -> float:
        """The longest one delivery can take while its sender is alive, margin included: a
        message queued for longer than this was cut off by its sender dying."""
        return float(self.round_trips * self.settings.timeout_s + STALE_MARGIN_S)

    def retry_failed(self, now: datetime | None = None) -> int:
        """Send again every failed notification whose retry time has come, and every one
        left queued by a sender that died before delivering it.

        Called periodically by the serve loop.

        Returns:
            How many were tried.
        """
        now = now or utcnow()
        # A send is over within its round trips' socket timeouts: one still queued after that
        # was cut off by its process dying, and is delivered here. Taking a live sender's
        # message for a dead one's would send it twice, so the bound is generous.
        stale = now - timedelta(seconds=self.longest_send_s())
        due = self.db.notifications.claim_due(now, stale_before=stale)
        for rec in due:
            self._attempt(rec.id, parse_email(rec.payload), attempts_before=rec.attempts)
        return len(due)

    def get(self, notification_id: str) -> NotificationRecord:
        """The notification and its status. Raises RecordNotFoundError."""
        return self.db.notifications.get(notification_id)
