"""``SmtpNotifier``: delivery through an SMTP server (RFC 5321), with STARTTLS or implicit TLS.

``smtplib`` and socket errors never leave this module: they become
:class:`~medflow.errors.TransientNotifierError` (connection refused or dropped, timeouts, 4xx
replies: RFC 5321 §4.2.1 "transient negative completion") or
:class:`~medflow.errors.NotifierError` (5xx replies, authentication refused, TLS certificate
problems: retrying will not help until someone changes the configuration).
"""

from __future__ import annotations

import functools
import logging
import smtplib
import socket
import ssl
from email.message import EmailMessage
from pathlib import Path

from medflow.errors import NotifierError, TransientNotifierError
from medflow.platform.config import NotifySettings
from medflow.platform.db import Database
from medflow.platform.notify.base import Notifier

log = logging.getLogger(__name__)


@functools.cache
def _local_hostname() -> str:
    """The name this host gives in EHLO, looked up once per process.

    ``smtplib`` otherwise calls ``socket.getfqdn()`` on every connection: a reverse lookup
    that, on a host whose resolver cannot be reached, waits out DNS timeouts on each send.
    """
    fqdn = socket.getfqdn()
    if "." in fqdn:
        return fqdn
    # smtplib's own fallback (RFC 5321 §4.1.3: an address literal when there is no FQDN).
    try:
        return f"[{socket.gethostbyname(socket.gethostname())}]"
    except OSError:
        return "[127.0.0.1]"


class SmtpNotifier(Notifier):
    """Sends each message over one SMTP session.

    Args:
        db: the database (delivery status).
        settings: host, port, security (``starttls``, ``ssl`` or ``none``), credentials,
            timeout, retry policy.
        ca_file: a CA bundle to trust besides the system's (a private mail relay).
    """

    channel = "email"

    def __init__(self, db: Database, settings: NotifySettings, ca_file: Path | None = None) -> None:
        super().__init__(db, settings)
        self._ca_file = ca_file

    def _tls(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        if self._ca_file is not None:
            ctx.load_verify_locations(cafile=str(self._ca_file))
        return ctx

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.smtp_security == "ssl":
            return smtplib.SMTP_SSL(
                s.smtp_host,
                s.smtp_port,
                local_hostname=_local_hostname(),
                timeout=s.timeout_s,
                context=self._tls(),
            )
        smtp = smtplib.SMTP(
            s.smtp_host, s.smtp_port, local_hostname=_local_hostname(), timeout=s.timeout_s
        )
        if s.smtp_security == "starttls":
            try:
                smtp.starttls(context=self._tls())
            except BaseException:
                smtp.close()
                raise
        return smtp

    def _deliver(self, notification_id: str, message: EmailMessage) -> None:
        s = self.settings
        where = f"SMTP server {s.smtp_host}:{s.smtp_port}"
        try:
            with self._connect() as smtp:
                if s.smtp_username:
                    password = s.smtp_password.get_secret_value() if s.smtp_password else ""
                    smtp.login(s.smtp_username, password)
                smtp.send_message(message, from_addr=s.from_address, to_addrs=[message["To"]])
        except smtplib.SMTPAuthenticationError as exc:
            raise NotifierError(f"{where} refused the credentials ({exc.smtp_code})") from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise NotifierError(f"{where} does not support {exc}") from exc
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            err = TransientNotifierError if all(400 <= c < 500 for c in codes) else NotifierError
            raise err(f"{where} refused the recipient ({', '.join(map(str, codes))})") from exc
        except smtplib.SMTPResponseException as exc:
            err = TransientNotifierError if 400 <= exc.smtp_code < 500 else NotifierError
            raise err(f"{where} replied {exc.smtp_code}") from exc
        except smtplib.SMTPServerDisconnected as exc:
            raise TransientNotifierError(f"{where} closed the connection") from exc
        except ssl.SSLCertVerificationError as exc:
            raise NotifierError(f"{where}: TLS certificate not trusted ({exc.reason})") from exc
        except ssl.SSLError as exc:
            raise TransientNotifierError(f"{where}: TLS failed ({exc.reason})") from exc
        except smtplib.SMTPException as exc:
            raise TransientNotifierError(f"{where}: {type(exc).__name__}") from exc
        except (TimeoutError, OSError) as exc:
            raise TransientNotifierError(f"{where} unreachable ({type(exc).__name__})") from exc
        log.info("notification %s accepted by %s", notification_id, where)
