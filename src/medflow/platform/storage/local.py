"""``LocalObjectStore``: buckets as folders on disk, the embedded default.

Layout under ``root``::

    <bucket>/<key>                  the bytes
    .meta/<bucket>/<key>.json       sha256, size, metadata, content type, created_at
    .tmp/                           writes in progress

A put writes a temporary file in ``.tmp`` (same filesystem), fsyncs it, then renames it over the
target (:func:`os.replace` is atomic on POSIX), so a reader sees the old object or the new one,
never half of one. The sidecar is written the same way, after the bytes.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from medflow.errors import ObjectNotFoundError, StorageError, TransientStorageError
from medflow.platform.storage.base import (
    ObjectStore,
    StoredObject,
    sha256_hex,
    validate_bucket,
    validate_key,
)

_CHUNK = 1 << 20


class LocalObjectStore(ObjectStore):
    """An object store in a folder.

    Args:
        root: the folder holding the buckets (created if missing).
        signing_secret: HMAC key for signed URLs.
        base_url: prefix of signed URLs.
    """

    def __init__(
        self, root: Path, signing_secret: bytes, base_url: str = "http://127.0.0.1:8000"
    ) -> None:
        super().__init__(signing_secret, base_url)
        self.root = root
        (root / ".tmp").mkdir(parents=True, exist_ok=True)

    def _paths(self, bucket: str, key: str) -> tuple[Path, Path]:
        validate_bucket(bucket)
        validate_key(key)
        return self.root / bucket / key, self.root / ".meta" / bucket / f"{key}.json"

    def _atomic_write(self, target: Path, data: bytes) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root / ".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _sidecar(self, meta_path: Path, obj: StoredObject) -> None:
        sidecar = {
            "sha256": obj.sha256,
            "size": obj.size,
            "metadata": dict(obj.metadata),
            "content_type": obj.content_type,
            "created_at": obj.created_at.isoformat(),
        }
        self._atomic_write(meta_path, json.dumps(sidecar).encode())

    def put_file(
        self,
        bucket: str,
        key: str,
        src: Path,
        metadata: Mapping[str, str] | None = None,
        content_type: str = "application/octet-stream",
    ) -> StoredObject:
        """See :meth:`ObjectStore.put_file`: copied and hashed in 1 MiB chunks, then renamed."""
        path, meta_path = self._paths(bucket, key)
        digest, size = hashlib.sha256(), 0
        fd, tmp = tempfile.mkstemp(dir=self.root / ".tmp")
        try:
            with src.open("rb") as fin, os.fdopen(fd, "wb") as out:
                while chunk := fin.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, path)
            obj = StoredObject(
                bucket=bucket,
                key=key,
                sha256=digest.hexdigest(),
                size=size,
                metadata=dict(metadata or {}),
                content_type=content_type,
                created_at=datetime.now(UTC),
            )
            self._sidecar(meta_path, obj)
        except (IsADirectoryError, NotADirectoryError) as exc:
            raise StorageError(f"{bucket}/{key}: a key cannot be both object and folder") from exc
        except OSError as exc:
            raise TransientStorageError(f"{bucket}/{key}: write failed: {exc.strerror}") from exc
        finally:
            Path(tmp).unlink(missing_ok=True)
        self._emit(obj)
        return obj

    def get_file(self, bucket: str, key: str, dest: Path) -> StoredObject:
        """See :meth:`ObjectStore.get_file`: a chunked file copy, nothing held in memory."""
        obj = self.head(bucket, key)
        path, _ = self._paths(bucket, key)
        try:
            shutil.copyfile(path, dest)
        except FileNotFoundError as exc:
            dest.unlink(missing_ok=True)
            raise ObjectNotFoundError(f"no object {bucket}/{key}") from exc
        except OSError as exc:
            dest.unlink(missing_ok=True)
            raise TransientStorageError(f"{bucket}/{key}: read failed: {exc.strerror}") from exc
        return obj

    def put(
        self,
        bucket: str,
        key: str,
        data: bytes,
        metadata: Mapping[str, str] | None = None,
        content_type: str = "application/octet-stream",
    ) -> StoredObject:
        """See :meth:`ObjectStore.put`."""
        path, meta_path = self._paths(bucket, key)
        obj = StoredObject(
            bucket=bucket,
            key=key,
            sha256=sha256_hex(data),
            size=len(data),
            metadata=dict(metadata or {}),
            content_type=content_type,
            created_at=datetime.now(UTC),
        )
        try:
            self._atomic_write(path, data)
            self._sidecar(meta_path, obj)
        except (IsADirectoryError, NotADirectoryError) as exc:
            raise StorageError(f"{bucket}/{key}: a key cannot be both object and folder") from exc
        except OSError as exc:
            raise TransientStorageError(f"{bucket}/{key}: write failed: {exc.strerror}") from exc
        self._emit(obj)
        return obj

    def get(self, bucket: str, key: str) -> bytes:
        """See :meth:`ObjectStore.get`."""
        path, _ = self._paths(bucket, key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise ObjectNotFoundError(f"no object {bucket}/{key}") from exc
        except OSError as exc:
            raise TransientStorageError(f"{bucket}/{key}: read failed: {exc.strerror}") from exc

    def head(self, bucket: str, key: str) -> StoredObject:
        """See :meth:`ObjectStore.head`. Files put there by hand get their hash computed."""
        path, meta_path = self._paths(bucket, key)
        if not path.is_file():
            raise ObjectNotFoundError(f"no object {bucket}/{key}")
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            data = path.read_bytes()
            mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            return StoredObject(bucket, key, sha256_hex(data), len(data), {}, "", mtime)
        return StoredObject(
            bucket=bucket,
            key=key,
            sha256=meta["sha256"],
            size=meta["size"],
            metadata=meta["metadata"],
            content_type=meta["content_type"],
            created_at=datetime.fromisoformat(meta["created_at"]),
        )

    def list(self, bucket: str, prefix: str = "") -> builtins.list[StoredObject]:
        """See :meth:`ObjectStore.list`."""
        base = self.root / validate_bucket(bucket)
        if not base.is_dir():
            return []
        keys = sorted(
            p.relative_to(base).as_posix()
            for p in base.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(base).parts)
        )
        return [self.head(bucket, k) for k in keys if k.startswith(prefix)]

    def delete(self, bucket: str, key: str) -> None:
        """See :meth:`ObjectStore.delete`."""
        path, meta_path = self._paths(bucket, key)
        try:
            path.unlink()
        except (FileNotFoundError, IsADirectoryError) as exc:
            raise ObjectNotFoundError(f"no object {bucket}/{key}") from exc
        meta_path.unlink(missing_ok=True)

    def _copy(self, bucket: str, key: str, dst_bucket: str, dst_key: str) -> StoredObject:
        src = self.head(bucket, key)
        src_path, _ = self._paths(bucket, key)
        dst_path, dst_meta = self._paths(dst_bucket, dst_key)
        obj = StoredObject(
            dst_bucket,
            dst_key,
            src.sha256,
            src.size,
            dict(src.metadata),
            src.content_type,
            datetime.now(UTC),
        )
        sidecar = {
            "sha256": obj.sha256,
            "size": obj.size,
            "metadata": dict(obj.metadata),
            "content_type": obj.content_type,
            "created_at": obj.created_at.isoformat(),
        }
        # A file copy (chunked by the OS), renamed into place: an object of any size is copied
        # without being held in memory, and a reader never sees half of it.
        fd, tmp = tempfile.mkstemp(dir=self.root / ".tmp")
        os.close(fd)
        try:
            shutil.copyfile(src_path, tmp)
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            dst_path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, dst_path)
            self._atomic_write(dst_meta, json.dumps(sidecar).encode())
        except FileNotFoundError as exc:
            raise ObjectNotFoundError(f"no object {bucket}/{key}") from exc
        except OSError as exc:
            raise TransientStorageError(f"{dst_bucket}/{dst_key}: copy failed") from exc
        finally:
            Path(tmp).unlink(missing_ok=True)
        return obj
