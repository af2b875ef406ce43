"""The ``ObjectStore`` port: buckets and keys, content hashes, signed URLs, events on put.

Shaped after S3 so that an ``S3ObjectStore`` is a thin translation: bucket/key addressing,
user metadata as ``str -> str``, ``ObjectCreated:*`` event notifications. Every adapter passes
``tests/contract/test_object_store.py``.
"""

from __future__ import annotations

import builtins
import hashlib
import logging
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal
from urllib.parse import quote, urlencode

from medflow.errors import SignatureError, StorageError
from medflow.platform import crypto

log = logging.getLogger(__name__)

Method = Literal["GET", "PUT"]

# S3 bucket naming, simplified: lower-case letters, digits and hyphens, 3-63 characters.
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_MAX_KEY = 1024  # S3's limit, in bytes of UTF-8


class InvalidKeyError(StorageError, ValueError):
    """A bucket name or key is not acceptable (path traversal, empty segment, too long)."""


@dataclass(frozen=True)
class StoredObject:
    """What the store knows about one object.

    Attributes:
        bucket: the bucket.
        key: the key within the bucket (``labs/2024/report.pdf``).
        sha256: hex SHA-256 of the bytes.
        size: length in bytes.
        metadata: user metadata (``str -> str``, as S3 allows).
        content_type: the MIME type given at put.
        created_at: when it was written (UTC).
    """

    bucket: str
    key: str
    sha256: str
    size: int
    metadata: Mapping[str, str]
    content_type: str
    created_at: datetime


@dataclass(frozen=True)
class ObjectEvent:
    """An object was created: the shape of one S3 event notification record.

    Attributes:
        bucket: the bucket.
        key: the key.
        sha256: hex SHA-256 of the bytes.
        size: length in bytes.
        metadata: the object's user metadata.
        event_name: ``ObjectCreated:Put`` or ``ObjectCreated:Copy``.
    """

    bucket: str
    key: str
    sha256: str
    size: int
    metadata: Mapping[str, str] = field(default_factory=dict)
    event_name: str = "ObjectCreated:Put"

    def to_dict(self) -> dict[str, object]:
        """A JSON-serialisable form (what runners store and queues carry)."""
        return {
            "bucket": self.bucket,
            "key": self.key,
            "sha256": self.sha256,
            "size": self.size,
            "metadata": dict(self.metadata),
            "event_name": self.event_name,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> ObjectEvent:
        """Read :meth:`to_dict`'s output back.

        Raises:
            ValueError: a field is missing or of the wrong type.
        """
        try:
            meta = data.get("metadata") or {}
            if not isinstance(meta, Mapping):
                raise TypeError("metadata must be a mapping")
            size = data["size"]
            if not isinstance(size, int):
                raise TypeError("size must be an integer")
            return cls(
                bucket=str(data["bucket"]),
                key=str(data["key"]),
                sha256=str(data["sha256"]),
                size=size,
                metadata={str(k): str(v) for k, v in meta.items()},
                event_name=str(data.get("event_name", "ObjectCreated:Put")),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not an object event: {exc}") from exc


Subscriber = Callable[[ObjectEvent], None]


def validate_bucket(bucket: str) -> str:
    """Return ``bucket`` if it is a valid name; raise :class:`InvalidKeyError` if not."""
    if not _BUCKET_RE.match(bucket):
        raise InvalidKeyError(f"bad bucket name {bucket!r}: use 3-63 of a-z, 0-9 and '-'")
    return bucket


def validate_key(key: str) -> str:
    """Return ``key`` if safe as a relative path on any filesystem; raise otherwise.

    Refused: empty, longer than 1024 bytes, absolute, backslashes, NUL and control characters,
    empty segments, ``.`` or ``..`` segments (path traversal), segments starting with ``.``
    (reserved for the store's own files).
    """
    if not key or len(key.encode()) > _MAX_KEY:
        raise InvalidKeyError(f"bad key {key[:80]!r}: must be 1-{_MAX_KEY} bytes")
    if "\\" in key or any(ord(c) < 32 or ord(c) == 127 for c in key):
        raise InvalidKeyError(f"bad key {key[:80]!r}: backslash or control character")
    for part in key.split("/"):
        if not part or part.startswith("."):
            raise InvalidKeyError(f"bad key {key[:80]!r}: empty, '.' or '..' path segment")
    return key


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


class ObjectStore(ABC):
    """The port. Subclasses implement the storage primitives; signing and events are shared.

    Args:
        signing_secret: HMAC key for :meth:`signed_url` / :meth:`verify_signed`.
        base_url: prefix of the URLs :meth:`signed_url` returns (the web layer serves them at
            ``{base_url}/storage/{bucket}/{key}``).
    """

    def __init__(self, signing_secret: bytes, base_url: str = "http://127.0.0.1:8000") -> None:
        self._secret = signing_secret
        self._base_url = base_url.rstrip("/")
        self._subscribers: list[Subscriber] = []
        self._sub_lock = threading.Lock()

    @abstractmethod
    def put(
        self,
        bucket: str,
        key: str,
        data: bytes,
        metadata: Mapping[str, str] | None = None,
        content_type: str = "application/octet-stream",
    ) -> StoredObject:
        """Store ``data`` (replacing any object at the key) and notify subscribers.

        Raises:
            InvalidKeyError: bad bucket or key.
            StorageError: the write failed (a half-written object is never visible).
        """

    @abstractmethod
    def get(self, bucket: str, key: str) -> bytes:
        """The object's bytes. Raises ObjectNotFoundError."""

    @abstractmethod
    def head(self, bucket: str, key: str) -> StoredObject:
        """The object's description without its bytes. Raises ObjectNotFoundError."""

    @abstractmethod
    def list(self, bucket: str, prefix: str = "") -> builtins.list[StoredObject]:
        """Objects whose key starts with ``prefix``, sorted by key (empty bucket: ``[]``)."""

    @abstractmethod
    def delete(self, bucket: str, key: str) -> None:
        """Remove the object. Raises ObjectNotFoundError."""

    @abstractmethod
    def _copy(self, bucket: str, key: str, dst_bucket: str, dst_key: str) -> StoredObject:
        """Copy bytes and metadata; no event."""

    def get_file(self, bucket: str, key: str, dest: Path) -> StoredObject:
        """Write the object's bytes to the local file ``dest``; large objects stream.

        The default reads the object whole; adapters that can stream override it, so a
        multi-gigabyte object never has to fit in memory.

        Raises:
            ObjectNotFoundError: no such object (``dest`` is then not created).
        """
        obj = self.head(bucket, key)
        dest.write_bytes(self.get(bucket, key))
        return obj

    def put_file(
        self,
        bucket: str,
        key: str,
        src: Path,
        metadata: Mapping[str, str] | None = None,
        content_type: str = "application/octet-stream",
    ) -> StoredObject:
        """Store the local file ``src`` as :meth:`put` stores bytes; large files stream.

        The default reads the file whole; adapters that can stream override it.
        """
        return self.put(bucket, key, src.read_bytes(), metadata, content_type)

    def exists(self, bucket: str, key: str) -> bool:
        """Whether an object lies at ``bucket``/``key``."""
        try:
            self.head(bucket, key)
        except LookupError:
            return False
        return True

    def copy(self, bucket: str, key: str, dst_bucket: str, dst_key: str) -> StoredObject:
        """Copy an object, metadata included; subscribers see ``ObjectCreated:Copy``.

        Raises:
            ObjectNotFoundError: no source object.
        """
        obj = self._copy(bucket, key, dst_bucket, dst_key)
        self._emit(obj, "ObjectCreated:Copy")
        return obj

    def move(self, bucket: str, key: str, dst_bucket: str, dst_key: str) -> StoredObject:
        """Copy then delete the source: if the copy fails, the source is still there.

        Used to quarantine: the object is never lost, at worst it is in both places.
        """
        obj = self.copy(bucket, key, dst_bucket, dst_key)
        self.delete(bucket, key)
        return obj

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback`` after every put and copy; returns a function that unsubscribes.

        A subscriber that raises is logged and does not undo the write.
        """
        with self._sub_lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._sub_lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def _emit(self, obj: StoredObject, event_name: str = "ObjectCreated:Put") -> None:
        event = ObjectEvent(
            bucket=obj.bucket,
            key=obj.key,
            sha256=obj.sha256,
            size=obj.size,
            metadata=dict(obj.metadata),
            event_name=event_name,
        )
        with self._sub_lock:
            subscribers = list(self._subscribers)
        for sub in subscribers:
            try:
                sub(event)
            except Exception:
                log.exception("object event subscriber failed for %s/%s", obj.bucket, obj.key)

    def signed_url(
        self, bucket: str, key: str, method: Method = "GET", expires_in: int = 900
    ) -> str:
        """A URL that grants ``method`` on one object until ``expires_in`` seconds from now.

        The signature is HMAC-SHA256 over method, bucket, key and expiry (Unix seconds).
        """
        validate_bucket(bucket)
        validate_key(key)
        if expires_in <= 0:
            raise ValueError("expires_in must be positive")
        expires = int(time.time()) + expires_in
        sig = crypto.sign(self._secret, method, bucket, key, str(expires))
        query = urlencode({"method": method, "expires": expires, "signature": sig})
        return f"{self._base_url}/storage/{bucket}/{quote(key)}?{query}"

    def verify_signed(
        self,
        bucket: str,
        key: str,
        method: str,
        expires: int | str,
        signature: str,
        now: float | None = None,
    ) -> None:
        """Check a signed URL's parts; return quietly when valid.

        Raises:
            SignatureError: tampered (any part changed), for another method, or expired.
        """
        try:
            expires_at = int(expires)
        except ValueError as exc:
            raise SignatureError("the link is malformed") from exc
        if not crypto.verify(self._secret, signature, method, bucket, key, str(expires_at)):
            raise SignatureError(f"signature does not match for {method} {bucket}/{key}")
        crypto.check_expiry(expires_at, now)
