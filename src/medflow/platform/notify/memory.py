"""``MemoryNotifier``: keeps delivered messages in a list; the test double.

It can be told to fail its next sends (transiently or permanently), so retry behaviour is
testable without a mail server.
"""

from __future__ import annotations

import threading
from email.message import EmailMessage

from medflow.errors import NotifierError, TransientNotifierError
from medflow.platform.config import NotifySettings
from medflow.platform.db import Database
from medflow.platform.notify.base import Notifier


class MemoryNotifier(Notifier):
    """Delivers into :attr:`sent` (``(notification id, message)`` pairs)."""

    channel = "email"

    def __init__(self, db: Database, settings: NotifySettings) -> None:
        super().__init__(db, settings)
        self.sent: list[tuple[str, EmailMessage]] = []
        self._failures: list[NotifierError] = []
        self._lock = threading.Lock()

    def fail_next(self, count: int = 1, *, transient: bool = True) -> None:
        """Make the next ``count`` deliveries fail."""
        with self._lock:
            for _ in range(count):
                self._failures.append(
                    TransientNotifierError("simulated: server unavailable")
                    if transient
                    else NotifierError("simulated: recipient rejected")
                )

    def _deliver(self, notification_id: str, message: EmailMessage) -> None:
        with self._lock:
            if self._failures:
                raise self._failures.pop(0)
            self.sent.append((notification_id, message))
