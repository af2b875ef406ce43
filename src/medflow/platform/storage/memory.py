"""``MemoryObjectStore``: a real object store held in a dict, used as the test double."""

from __future__ import annotations

import builtins
import threading
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime

from medflow.errors import ObjectNotFoundError
from medflow.platform.storage.base import (
    ObjectStore,
    StoredObject,
    sha256_hex,
    validate_bucket,
    validate_key,
)


class MemoryObjectStore(ObjectStore):
    """An object store in memory; thread-safe; forgets everything when dropped.

    Args:
        signing_secret: HMAC key for signed URLs.
        base_url: prefix of signed URLs.
    """

    def __init__(
        self, signing_secret: bytes = b"memory", base_url: str = "http://127.0.0.1:8000"
    ) -> None:
        super().__init__(signing_secret, base_url)
        self._objects: dict[tuple[str, str], tuple[StoredObject, bytes]] = {}
        self._lock = threading.Lock()

    def put(
        self,
        bucket: str,
        key: str,
        data: bytes,
        metadata: Mapping[str, str] | None = None,
        content_type: str = "application/octet-stream",
    ) -> StoredObject:
        """See :meth:`ObjectStore.put`."""
        validate_bucket(bucket)
        validate_key(key)
        obj = StoredObject(
            bucket,
            key,
            sha256_hex(data),
            len(data),
            dict(metadata or {}),
            content_type,
            datetime.now(UTC),
        )
        with self._lock:
            self._objects[(bucket, key)] = (obj, bytes(data))
        self._emit(obj)
        return obj

    def _entry(self, bucket: str, key: str) -> tuple[StoredObject, bytes]:
        validate_bucket(bucket)
        validate_key(key)
        with self._lock:
            entry = self._objects.get((bucket, key))
        if entry is None:
            raise ObjectNotFoundError(f"no object {bucket}/{key}")
        return entry

    def get(self, bucket: str, key: str) -> bytes:
        """See :meth:`ObjectStore.get`."""
        return self._entry(bucket, key)[1]

    def head(self, bucket: str, key: str) -> StoredObject:
        """See :meth:`ObjectStore.head`."""
        return self._entry(bucket, key)[0]

    def list(self, bucket: str, prefix: str = "") -> builtins.list[StoredObject]:
        """See :meth:`ObjectStore.list`."""
        validate_bucket(bucket)
        with self._lock:
            found = [o for (b, k), (o, _) in self._objects.items() if b == bucket]
        return sorted((o for o in found if o.key.startswith(prefix)), key=lambda o: o.key)

    def delete(self, bucket: str, key: str) -> None:
        """See :meth:`ObjectStore.delete`."""
        self._entry(bucket, key)
        with self._lock:
            self._objects.pop((bucket, key), None)

    def _copy(self, bucket: str, key: str, dst_bucket: str, dst_key: str) -> StoredObject:
        obj, data = self._entry(bucket, key)
        validate_bucket(dst_bucket)
        validate_key(dst_key)
        new = replace(obj, bucket=dst_bucket, key=dst_key, created_at=datetime.now(UTC))
        with self._lock:
            self._objects[(dst_bucket, dst_key)] = (new, data)
        return new
