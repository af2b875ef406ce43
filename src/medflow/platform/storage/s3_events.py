"""S3 event notifications delivered to an SQS queue: objects other systems drop into a bucket
start pipelines, as files dropped into the inbox folder do.

The bucket's notification configuration sends ``s3:ObjectCreated:*`` to an SQS queue (S3's own
feature; ``compose.yaml`` and the README show it). :class:`S3EventQueue` long-polls that queue,
turns each record into an :class:`~medflow.platform.storage.ObjectEvent` and hands it to a
callback (the trigger table's submit). A message is deleted only after every record in it was
handled; if the callback fails the message becomes visible again after the queue's visibility
timeout and is tried again (give the queue a redrive policy to park poison messages).

Objects written by other tools carry no ``medflow-sha256``: the consumer hashes them as a stream
and writes the hash back as metadata (a server-side copy onto itself), so every original has its
SHA-256 beside it. Copy events (quarantine moves, that write-back) never start a pipeline.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

from botocore.exceptions import BotoCoreError, ClientError

from medflow.errors import MedflowError
from medflow.platform.storage.base import ObjectEvent, StoredObject
from medflow.platform.storage.s3 import SHA_HEADER, SIDECAR_PREFIX, S3ObjectStore

log = logging.getLogger(__name__)

EventHandler = Callable[[ObjectEvent], None]


def records_of(body: str) -> list[tuple[str, str, str]]:
    """``(event name, physical bucket, key)`` of each S3 record in an SQS message body.

    S3's test message (``s3:TestEvent``) and bodies of other shapes give ``[]``. SNS-wrapped
    notifications (``{"Type": "Notification", "Message": "..."}``) are unwrapped.

    Raises:
        ValueError: the body is not JSON.
    """
    data = json.loads(body)
    if isinstance(data, dict) and data.get("Type") == "Notification" and "Message" in data:
        data = json.loads(data["Message"])
    if not isinstance(data, dict):
        return []
    found = []
    for rec in data.get("Records") or []:
        try:
            name = str(rec["eventName"])
            bucket = str(rec["s3"]["bucket"]["name"])
            # S3 URL-encodes keys in notifications, spaces as '+'.
            key = unquote_plus(str(rec["s3"]["object"]["key"]))
        except (KeyError, TypeError):
            continue
        found.append((name, bucket, key))
    return found


class S3EventQueue:
    """Consumes S3 event notifications from SQS and hands each new object to ``on_event``.

    Args:
        store: the S3 object store (maps physical buckets back to logical ones).
        queue_url: the SQS queue URL (``storage.s3_events_queue_url``).
        on_event: called once per created object; raising leaves the message for a retry.
        sqs_client: a boto3 SQS client; default one built like the store's client.
        wait_s: long-poll wait of one receive (0-20 s).
        visibility_s: how long a received message stays hidden while it is handled.
    """

    def __init__(
        self,
        store: S3ObjectStore,
        queue_url: str,
        on_event: EventHandler,
        *,
        sqs_client: Any | None = None,
        wait_s: int = 10,
        visibility_s: int = 120,
    ) -> None:
        self.store = store
        self.queue_url = queue_url
        self.on_event = on_event
        self.wait_s = wait_s
        self.visibility_s = visibility_s
        self.sqs: Any = sqs_client or self._client()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _client(self) -> Any:
        import boto3

        s = self.store.settings
        secret = s.s3_secret_access_key
        return boto3.session.Session().client(
            "sqs",
            endpoint_url=s.s3_endpoint_url,
            region_name=s.s3_region,
            aws_access_key_id=s.s3_access_key_id,
            aws_secret_access_key=secret.get_secret_value() if secret is not None else None,
        )

    def _object_event(self, name: str, physical: str, key: str) -> ObjectEvent | None:
        if not name.startswith("ObjectCreated:") or name == "ObjectCreated:Copy":
            return None
        bucket = self.store.logical(physical)
        if bucket is None or key.startswith(SIDECAR_PREFIX):
            return None
        obj = self.ensure_sha256(bucket, key)
        return ObjectEvent(obj.bucket, obj.key, obj.sha256, obj.size, dict(obj.metadata))

    def ensure_sha256(self, bucket: str, key: str) -> StoredObject:
        """The object's description, writing its SHA-256 into its metadata when missing."""
        resp = self.store.client.head_object(Bucket=self.store.physical(bucket), Key=key)
        if SHA_HEADER in (resp.get("Metadata") or {}):
            return self.store.head(bucket, key)
        # A server-side copy onto itself with the hash added (its event is a Copy: ignored).
        return self.store._copy(bucket, key, bucket, key)

    def poll_once(self, wait_s: int | None = None) -> list[ObjectEvent]:
        """Receive one batch (up to 10 messages) and handle it; returns the events handed on.

        Raises:
            TransientStorageError: the queue could not be read.
        """
        try:
            resp = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=self.wait_s if wait_s is None else wait_s,
                VisibilityTimeout=self.visibility_s,
            )
        except (ClientError, BotoCoreError) as exc:
            self.store._fail(exc, f"SQS queue {self.queue_url}")
        handed: list[ObjectEvent] = []
        for msg in resp.get("Messages", []):
            try:
                for name, physical, key in records_of(msg["Body"]):
                    event = self._object_event(name, physical, key)
                    if event is not None:
                        self.on_event(event)
                        handed.append(event)
            except (MedflowError, ValueError, ClientError, BotoCoreError):
                # Left on the queue: visible again after the visibility timeout.
                log.exception(
                    "S3 event message %s not handled; it will be retried", msg.get("MessageId")
                )
                continue
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=msg["ReceiptHandle"])
        return handed

    def start(self) -> None:
        """Poll on a background thread until :meth:`stop` (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="medflow-s3-events", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                log.exception("S3 event queue poll failed")
                self._stop.wait(5.0)

    def stop(self, timeout: float = 25.0) -> None:
        """Stop polling (waits for the current long poll to return)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
