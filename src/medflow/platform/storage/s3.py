"""``S3ObjectStore``: the object store on Amazon S3 or any S3-compatible endpoint (boto3).

Mapping of the port onto S3:

* a logical bucket (``raw``, ``results``...) is one physical bucket, named
  ``storage.s3_bucket_prefix + name`` unless ``storage.s3_buckets`` names it;
* user metadata travels as ``x-amz-meta-*`` headers; values outside printable US-ASCII are
  RFC 2047 encoded (what S3 itself does, so other S3 tools read them too). Metadata S3 cannot
  carry as headers (over its 2 KB limit, or keys that are not lower-case tokens: S3 lower-cases
  header names) is kept whole in a sidecar object ``.medflow-meta/<key>.json``, a key the port
  never hands out (``validate_key`` refuses dot segments);
* the SHA-256 of the bytes is kept as the ``medflow-sha256`` metadata header, written with the
  object, so ``head`` needs no read of the bytes (objects written by other tools get theirs
  computed by streaming);
* ``put_file``/``get_file``/``copy`` stream, with multipart transfers above
  ``storage.s3_multipart_threshold_bytes``; server-side encryption as ``storage.s3_sse`` asks.

Signed URLs stay the port's HMAC URLs served by the portal (which checks upload tickets before
storing); :meth:`S3ObjectStore.presigned_url` gives S3's own presigned URLs for clients that
talk to the bucket directly. Events: every put and copy notifies subscribers in-process like
every adapter; objects other systems drop into the bucket arrive through S3 event
notifications on an SQS queue (:mod:`medflow.platform.storage.s3_events`).

botocore errors never leave this module: a missing object is :class:`ObjectNotFoundError`,
throttling, 5xx replies and connection failures are :class:`TransientStorageError`, anything
else (access denied, bad configuration) :class:`StorageError`.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from email.header import Header as _Header
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from botocore.exceptions import ConnectionError as BotoConnectionError

from medflow.errors import ConfigError, ObjectNotFoundError, StorageError, TransientStorageError
from medflow.platform.config import StorageSettings
from medflow.platform.storage.base import (
    Method,
    ObjectStore,
    StoredObject,
    sha256_hex,
    validate_bucket,
    validate_key,
)

log = logging.getLogger(__name__)

SHA_HEADER = "medflow-sha256"
SIDECAR_HEADER = "medflow-meta"
SIDECAR_PREFIX = ".medflow-meta/"
_CHUNK = 1 << 20
# S3 allows 2 KB of user metadata (names + values, UTF-8); leave room for our own header.
_META_LIMIT = 2048 - len(SHA_HEADER) - 64 - len(SIDECAR_HEADER) - 8
_TOKEN = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_PRINTABLE = re.compile(r"^[\x20-\x7e]*$")
_NOT_FOUND = {"NoSuchKey", "NoSuchBucket", "404", "NotFound"}
_TRANSIENT = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "InternalError",
    "ServiceUnavailable",
    "500",
    "502",
    "503",
    "504",
}

T = TypeVar("T")


def _encode_value(value: str) -> str:
    if _PRINTABLE.match(value) and not value.startswith("=?"):
        return value
    return _Header(value, "utf-8").encode()


def _decode_value(value: str) -> str:
    if not value.startswith("=?"):
        return value
    return str(make_header(decode_header(value)))


def encode_metadata(metadata: Mapping[str, str]) -> dict[str, str] | None:
    """User metadata as S3 headers, or None when it must go to a sidecar object."""
    headers: dict[str, str] = {}
    for k, v in metadata.items():
        if not _TOKEN.match(k) or k.startswith("medflow-"):
            return None
        headers[k] = _encode_value(v)
    size = sum(len(k.encode()) + len(v.encode()) for k, v in headers.items())
    return headers if size <= _META_LIMIT else None


def decode_metadata(headers: Mapping[str, str]) -> dict[str, str]:
    """User metadata read back from S3 headers (our own headers left out)."""
    return {k: _decode_value(v) for k, v in headers.items() if not k.startswith("medflow-")}


class S3ObjectStore(ObjectStore):
    """The object store on S3 or an S3-compatible endpoint.

    Args:
        settings: the ``storage`` settings group (endpoint, region, bucket names, credentials,
            encryption, multipart sizes).
        signing_secret: HMAC key for the port's signed URLs.
        base_url: prefix of the port's signed URLs (the portal).
        client: a boto3 S3 client to use instead of one built from ``settings``.

    Raises:
        DependencyMissingError: not raised here; importing this module needs ``boto3``
            (``pip install 'medflow[s3]'``), which :func:`medflow.platform.build_store` checks.
    """

    def __init__(
        self,
        settings: StorageSettings,
        signing_secret: bytes,
        base_url: str = "http://127.0.0.1:8000",
        *,
        client: Any | None = None,
    ) -> None:
        super().__init__(signing_secret, base_url)
        self.settings = settings
        self.client: Any = client or self._client(settings)
        self._transfer = TransferConfig(
            multipart_threshold=settings.s3_multipart_threshold_bytes,
            multipart_chunksize=settings.s3_multipart_chunk_bytes,
            max_concurrency=4,
        )

    @staticmethod
    def _client(settings: StorageSettings) -> Any:
        secret = settings.s3_secret_access_key
        config = Config(
            region_name=settings.s3_region,
            signature_version="s3v4",
            retries={"max_attempts": 4, "mode": "standard"},
            max_pool_connections=settings.s3_max_pool_connections,
            connect_timeout=10,
            read_timeout=60,
            # Custom endpoints (MinIO, Ceph, moto) rarely serve virtual-hosted bucket names.
            s3={"addressing_style": "path" if settings.s3_endpoint_url else "auto"},
        )
        return boto3.session.Session().client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            aws_access_key_id=settings.s3_access_key_id,
            aws_secret_access_key=secret.get_secret_value() if secret is not None else None,
            config=config,
        )

    # -- naming and errors ------------------------------------------------------------------

    def physical(self, bucket: str) -> str:
        """The S3 bucket holding the logical ``bucket``."""
        validate_bucket(bucket)
        return self.settings.s3_buckets.get(bucket) or f"{self.settings.s3_bucket_prefix}{bucket}"

    def logical(self, physical: str) -> str | None:
        """The logical bucket stored in the S3 bucket ``physical`` (None: not one of ours)."""
        for name, real in self.settings.s3_buckets.items():
            if real == physical:
                return name
        prefix = self.settings.s3_bucket_prefix
        if physical.startswith(prefix):
            return physical[len(prefix) :] or None
        return None

    def _fail(self, exc: Exception, what: str, missing_ok: bool = False) -> NoReturn:
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            if missing_ok and (code in _NOT_FOUND or status == 404):
                raise ObjectNotFoundError(f"no object {what}") from exc
            if code in _TRANSIENT or status >= 500:
                raise TransientStorageError(f"{what}: S3 replied {code or status}") from exc
            raise StorageError(f"{what}: S3 refused the request ({code or status})") from exc
        if isinstance(exc, BotoConnectionError):
            raise TransientStorageError(f"{what}: S3 endpoint unreachable") from exc
        if isinstance(exc, BotoCoreError):
            raise TransientStorageError(f"{what}: {type(exc).__name__}") from exc
        raise exc

    def _call(self, what: str, fn: Callable[..., T], missing_ok: bool = False, /, **kw: Any) -> T:
        try:
            return fn(**kw)
        except (ClientError, BotoCoreError) as exc:
            self._fail(exc, what, missing_ok)

    def _write_args(self) -> dict[str, str]:
        sse = self.settings.s3_sse
        if sse == "none":
            return {}
        args: dict[str, str] = {"ServerSideEncryption": sse}
        if sse == "aws:kms" and self.settings.s3_kms_key_id:
            args["SSEKMSKeyId"] = self.settings.s3_kms_key_id
        return args

    # -- metadata ---------------------------------------------------------------------------

    def _meta_args(
        self, bucket: str, key: str, metadata: Mapping[str, str], sha256: str
    ) -> dict[str, str]:
        headers = encode_metadata(metadata)
        if headers is None:
            self._call(
                f"{bucket}/{key}",
                self.client.put_object,
                Bucket=self.physical(bucket),
                Key=SIDECAR_PREFIX + key + ".json",
                Body=json.dumps(dict(metadata)).encode(),
                ContentType="application/json",
                **self._write_args(),
            )
            headers = {SIDECAR_HEADER: "sidecar"}
        return {**headers, SHA_HEADER: sha256}

    def _read_metadata(self, bucket: str, key: str, headers: Mapping[str, str]) -> dict[str, str]:
        if headers.get(SIDECAR_HEADER) != "sidecar":
            return decode_metadata(headers)
        body = self._call(
            f"{bucket}/{key}",
            self.client.get_object,
            Bucket=self.physical(bucket),
            Key=SIDECAR_PREFIX + key + ".json",
        )["Body"].read()
        raw = json.loads(body)
        return {str(k): str(v) for k, v in raw.items()}

    # -- the port ---------------------------------------------------------------------------

    def put(
        self,
        bucket: str,
        key: str,
        data: bytes,
        metadata: Mapping[str, str] | None = None,
        content_type: str = "application/octet-stream",
    ) -> StoredObject:
        """See :meth:`ObjectStore.put`: one PUT; S3 makes it visible whole or not at all."""
        validate_key(key)
        meta = dict(metadata or {})
        digest = sha256_hex(data)
        self._call(
            f"{bucket}/{key}",
            self.client.put_object,
            Bucket=self.physical(bucket),
            Key=key,
            Body=data,
            ContentType=content_type,
            Metadata=self._meta_args(bucket, key, meta, digest),
            **self._write_args(),
        )
        obj = StoredObject(bucket, key, digest, len(data), meta, content_type, datetime.now(UTC))
        self._emit(obj)
        return obj

    def put_file(
        self,
        bucket: str,
        key: str,
        src: Path,
        metadata: Mapping[str, str] | None = None,
        content_type: str = "application/octet-stream",
    ) -> StoredObject:
        """See :meth:`ObjectStore.put_file`: hashed in 1 MiB chunks, then uploaded in parts
        above the multipart threshold (never read whole into memory)."""
        validate_key(key)
        meta = dict(metadata or {})
        digest, size = hashlib.sha256(), 0
        with src.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
        sha = digest.hexdigest()
        extra = {
            "ContentType": content_type,
            "Metadata": self._meta_args(bucket, key, meta, sha),
            **self._write_args(),
        }
        self._call(
            f"{bucket}/{key}",
            self.client.upload_file,
            Filename=str(src),
            Bucket=self.physical(bucket),
            Key=key,
            ExtraArgs=extra,
            Config=self._transfer,
        )
        obj = StoredObject(bucket, key, sha, size, meta, content_type, datetime.now(UTC))
        self._emit(obj)
        return obj

    def get(self, bucket: str, key: str) -> bytes:
        """See :meth:`ObjectStore.get`."""
        validate_key(key)
        what = f"{bucket}/{key}"
        resp = self._call(what, self.client.get_object, True, Bucket=self.physical(bucket), Key=key)
        try:
            return bytes(resp["Body"].read())
        except (ClientError, BotoCoreError) as exc:
            self._fail(exc, what)

    def _iter_body(self, bucket: str, key: str) -> Iterator[bytes]:
        resp = self._call(
            f"{bucket}/{key}", self.client.get_object, True, Bucket=self.physical(bucket), Key=key
        )
        try:
            yield from resp["Body"].iter_chunks(_CHUNK)
        except (ClientError, BotoCoreError) as exc:
            self._fail(exc, f"{bucket}/{key}")

    def get_file(self, bucket: str, key: str, dest: Path) -> StoredObject:
        """See :meth:`ObjectStore.get_file`: streamed in 1 MiB chunks to a temporary file
        beside ``dest``, renamed into place when complete."""
        obj = self.head(bucket, key)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in self._iter_body(bucket, key):
                    out.write(chunk)
            os.replace(tmp, dest)
        finally:
            Path(tmp).unlink(missing_ok=True)
        return obj

    def head(self, bucket: str, key: str) -> StoredObject:
        """See :meth:`ObjectStore.head`. Objects written by other tools (no ``medflow-sha256``
        header) get their hash computed by streaming the bytes."""
        validate_key(key)
        resp = self._call(
            f"{bucket}/{key}",
            self.client.head_object,
            True,
            Bucket=self.physical(bucket),
            Key=key,
        )
        headers: dict[str, str] = dict(resp.get("Metadata") or {})
        sha = headers.get(SHA_HEADER) or self.compute_sha256(bucket, key)
        return StoredObject(
            bucket=bucket,
            key=key,
            sha256=sha,
            size=int(resp.get("ContentLength", 0)),
            metadata=self._read_metadata(bucket, key, headers),
            content_type=str(resp.get("ContentType") or ""),
            created_at=resp.get("LastModified") or datetime.now(UTC),
        )

    def compute_sha256(self, bucket: str, key: str) -> str:
        """Hex SHA-256 of an object's bytes, read as a stream."""
        digest = hashlib.sha256()
        for chunk in self._iter_body(bucket, key):
            digest.update(chunk)
        return digest.hexdigest()

    def list(self, bucket: str, prefix: str = "") -> builtins.list[StoredObject]:
        """See :meth:`ObjectStore.list` (a missing bucket lists as empty)."""
        paginator = self.client.get_paginator("list_objects_v2")
        keys: builtins.list[str] = []
        try:
            for page in paginator.paginate(Bucket=self.physical(bucket), Prefix=prefix):
                for item in page.get("Contents", ()):
                    k = str(item["Key"])
                    if not any(part.startswith(".") for part in k.split("/")):
                        keys.append(k)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchBucket":
                return []
            self._fail(exc, f"{bucket}/{prefix}*")
        except BotoCoreError as exc:
            self._fail(exc, f"{bucket}/{prefix}*")
        return [self.head(bucket, k) for k in sorted(keys)]

    def delete(self, bucket: str, key: str) -> None:
        """See :meth:`ObjectStore.delete` (S3 deletes quietly; missing objects raise here)."""
        obj = self.head(bucket, key)
        physical = self.physical(bucket)
        self._call(f"{bucket}/{key}", self.client.delete_object, Bucket=physical, Key=key)
        if obj.metadata and encode_metadata(obj.metadata) is None:
            self._call(
                f"{bucket}/{key}",
                self.client.delete_object,
                Bucket=physical,
                Key=SIDECAR_PREFIX + key + ".json",
            )

    def _copy(self, bucket: str, key: str, dst_bucket: str, dst_key: str) -> StoredObject:
        src = self.head(bucket, key)
        validate_key(dst_key)
        extra = {
            "ContentType": src.content_type or "application/octet-stream",
            "Metadata": self._meta_args(dst_bucket, dst_key, src.metadata, src.sha256),
            "MetadataDirective": "REPLACE",
            **self._write_args(),
        }
        # The managed copy switches to UploadPartCopy above the threshold (CopyObject stops at
        # 5 GB) and runs server-side: no byte passes through this process.
        self._call(
            f"{dst_bucket}/{dst_key}",
            self.client.copy,
            CopySource={"Bucket": self.physical(bucket), "Key": key},
            Bucket=self.physical(dst_bucket),
            Key=dst_key,
            ExtraArgs=extra,
            Config=self._transfer,
        )
        return StoredObject(
            dst_bucket,
            dst_key,
            src.sha256,
            src.size,
            dict(src.metadata),
            src.content_type,
            datetime.now(UTC),
        )

    # -- S3 only ----------------------------------------------------------------------------

    def presigned_url(
        self,
        bucket: str,
        key: str,
        method: Method = "GET",
        expires_in: int = 900,
        content_type: str | None = None,
    ) -> str:
        """An S3 presigned URL for ``method`` on one object, for clients that reach the bucket.

        A PUT through it stores bytes without ``medflow-sha256``; the object is hashed when
        first described (:meth:`head`), and its S3 event starts the pipeline if an events
        queue is configured.
        """
        validate_key(key)
        if expires_in <= 0:
            raise ValueError("expires_in must be positive")
        params: dict[str, str] = {"Bucket": self.physical(bucket), "Key": key}
        if method == "PUT" and content_type:
            params["ContentType"] = content_type
        op = "put_object" if method == "PUT" else "get_object"
        return str(
            self._call(
                f"{bucket}/{key}",
                self.client.generate_presigned_url,
                ClientMethod=op,
                Params=params,
                ExpiresIn=expires_in,
            )
        )

    def check(self, buckets: builtins.list[str] | tuple[str, ...] | None = None) -> None:
        """Check at start that the endpoint answers and every bucket exists (or create them).

        Args:
            buckets: logical names; default ``settings.buckets``.

        Raises:
            ConfigError: naming the setting to fix (endpoint, credentials, bucket names).
        """
        s = self.settings
        where = s.s3_endpoint_url or f"AWS S3 ({s.s3_region})"
        for name in buckets or s.buckets:
            physical = self.physical(name)
            setting = "storage.s3_buckets" if name in s.s3_buckets else "storage.s3_bucket_prefix"
            try:
                self.client.head_bucket(Bucket=physical)
                continue
            except BotoConnectionError as exc:
                raise ConfigError(
                    f"storage.s3_endpoint_url: cannot reach {where} ({type(exc).__name__})"
                ) from exc
            except ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code", ""))
                if code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
                    raise ConfigError(
                        f"storage.s3_access_key_id: {where} refused access to bucket "
                        f"{physical!r} ({code}); check the credentials and the bucket policy"
                    ) from exc
                if code not in _NOT_FOUND:
                    raise ConfigError(f"{setting}: bucket {physical!r} at {where}: {code}") from exc
            except NoCredentialsError as exc:
                raise ConfigError(
                    "storage.s3_access_key_id: no S3 credentials found; set "
                    "storage.s3_access_key_id and storage.s3_secret_access_key, or give the "
                    "process AWS credentials (role, environment, ~/.aws)"
                ) from exc
            except BotoCoreError as exc:
                raise ConfigError(
                    f"storage.s3_endpoint_url: {where} failed ({type(exc).__name__})"
                ) from exc
            if not s.s3_create_buckets:
                raise ConfigError(
                    f"{setting}: bucket {physical!r} (for {name!r}) does not exist at {where}; "
                    "create it or set storage.s3_create_buckets = true"
                )
            self.create_bucket(name)

    def create_bucket(self, bucket: str) -> str:
        """Create the physical bucket for ``bucket`` if missing; returns its name."""
        physical = self.physical(bucket)
        args: dict[str, Any] = {"Bucket": physical}
        if self.settings.s3_region != "us-east-1":
            args["CreateBucketConfiguration"] = {"LocationConstraint": self.settings.s3_region}
        try:
            self.client.create_bucket(**args)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                self._fail(exc, physical)
        except BotoCoreError as exc:
            self._fail(exc, physical)
        log.info("created bucket %s for %s", physical, bucket)
        return physical
