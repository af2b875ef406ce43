"""``SesNotifier``: delivery through Amazon SES (``SendRawEmail``), for the AWS deployment.

The message is the same RFC 5322 ``multipart/alternative`` every adapter builds; SES relays it
as it is. The sender (``notify.from_address``) must be a verified SES identity, and a new SES
account is in the sandbox (verified recipients only) until AWS lifts it.

boto3 errors never leave this module: throttling, 5xx and connection failures become
:class:`~medflow.errors.TransientNotifierError` (tried again later); a rejected message, an
unverified sender or a paused sending account become :class:`~medflow.errors.NotifierError`
(nothing will change until someone changes the configuration). Requires the ``aws`` extra.
"""

from __future__ import annotations

import logging
from email.message import EmailMessage
from typing import Any

from medflow.errors import DependencyMissingError, NotifierError, TransientNotifierError
from medflow.platform.config import NotifySettings
from medflow.platform.db import Database
from medflow.platform.notify.base import Notifier

log = logging.getLogger(__name__)

# SES error codes that say "the configuration is wrong", from the SendRawEmail API reference.
_PERMANENT_CODES = frozenset(
    {
        "MessageRejected",
        "MailFromDomainNotVerifiedException",
        "MailFromDomainNotVerified",
        "ConfigurationSetDoesNotExist",
        "ConfigurationSetDoesNotExistException",
        "AccountSendingPausedException",
        "ConfigurationSetSendingPausedException",
        "AccessDenied",
        "AccessDeniedException",
        "InvalidParameterValue",
    }
)


class SesNotifier(Notifier):
    """Sends each message with one SES ``SendRawEmail`` call.

    Args:
        db: the database (delivery status).
        settings: the ``notify`` group (from address, retries).
        client: an SES client; default ``boto3.client("ses")`` (region and endpoint from the
            environment, ``AWS_REGION`` / ``AWS_ENDPOINT_URL``).
    """

    channel = "email"
    # Up to 3 tries (botocore's standard retry mode), each a connect and a read of up to
    # timeout_s; between tries botocore backs off up to 20 s (see longest_send_s).
    round_trips = 6

    def __init__(self, db: Database, settings: NotifySettings, client: Any | None = None) -> None:
        super().__init__(db, settings)
        if client is None:
            try:
                import boto3
                from botocore.config import Config
            except ImportError as exc:
                raise DependencyMissingError("the ses notifier", "aws", "boto3") from exc
            client = boto3.client(
                "ses",
                config=Config(
                    connect_timeout=settings.timeout_s,
                    read_timeout=settings.timeout_s,
                    retries={"total_max_attempts": 3, "mode": "standard"},
                ),
            )
        self._client = client

    def longest_send_s(self) -> float:
        return super().longest_send_s() + 2 * 20.0

    def _deliver(self, notification_id: str, message: EmailMessage) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            reply = self._client.send_raw_email(
                Source=self.settings.from_address,
                Destinations=[str(message["To"])],
                RawMessage={"Data": message.as_bytes()},
            )
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            err = NotifierError if code in _PERMANENT_CODES else TransientNotifierError
            raise err(f"SES refused notification {notification_id} ({code})") from exc
        except BotoCoreError as exc:
            raise TransientNotifierError(
                f"SES unreachable for notification {notification_id} ({type(exc).__name__})"
            ) from exc
        log.info("notification %s accepted by SES as %s", notification_id, reply.get("MessageId"))
