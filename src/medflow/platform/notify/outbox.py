"""``OutboxNotifier``: messages written as ``.eml`` files to a folder (the embedded default).

Any mail client opens them; nothing leaves the machine. Files are written atomically (temporary
name, then rename), named ``<UTC time>-<notification id>.eml`` so they sort by time.
"""

from __future__ import annotations

import logging
import os
import tempfile
from email.message import EmailMessage
from pathlib import Path

from medflow.errors import TransientNotifierError
from medflow.platform.config import NotifySettings
from medflow.platform.db import Database
from medflow.platform.db.models import utcnow
from medflow.platform.notify.base import Notifier

log = logging.getLogger(__name__)


class OutboxNotifier(Notifier):
    """Writes each message to ``outbox_dir``.

    Args:
        db: the database (delivery status).
        settings: the notify settings group.
        outbox_dir: the folder (created if missing).
    """

    channel = "email"

    def __init__(self, db: Database, settings: NotifySettings, outbox_dir: Path) -> None:
        super().__init__(db, settings)
        self.outbox_dir = outbox_dir

    def path_for(self, notification_id: str) -> Path | None:
        """The file written for a notification, if any."""
        found = sorted(self.outbox_dir.glob(f"*-{notification_id}.eml"))
        return found[-1] if found else None

    def _deliver(self, notification_id: str, message: EmailMessage) -> None:
        stamp = utcnow().strftime("%Y%m%dT%H%M%S%f")
        target = self.outbox_dir / f"{stamp}-{notification_id}.eml"
        try:
            self.outbox_dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.outbox_dir, prefix=".", suffix=".part")
            with os.fdopen(fd, "wb") as fh:
                fh.write(message.as_bytes())
            os.replace(tmp, target)
        except OSError as exc:
            raise TransientNotifierError(
                f"cannot write to the outbox {self.outbox_dir}: {exc.strerror}"
            ) from exc
        log.info("notification %s written to the outbox as %s", notification_id, target.name)
