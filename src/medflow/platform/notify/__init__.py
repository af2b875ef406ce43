"""The notifier port and its adapters (outbox folder, SMTP, webhook, memory)."""

from medflow.platform.notify.base import (
    Attachment,
    InvalidMessageError,
    Message,
    Notifier,
    build_email,
    parse_email,
)
from medflow.platform.notify.memory import MemoryNotifier
from medflow.platform.notify.outbox import OutboxNotifier
from medflow.platform.notify.smtp import SmtpNotifier
from medflow.platform.notify.webhook import WebhookNotifier, verify_signature

__all__ = [
    "Attachment",
    "InvalidMessageError",
    "MemoryNotifier",
    "Message",
    "Notifier",
    "OutboxNotifier",
    "SmtpNotifier",
    "WebhookNotifier",
    "build_email",
    "parse_email",
    "verify_signature",
]
