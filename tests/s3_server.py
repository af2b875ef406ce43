"""A real S3 endpoint for tests: moto's standalone server in its own process on a free port.

It speaks the S3 (and SQS) HTTP APIs; nothing in medflow is mocked. Every test that uses it
names its own buckets (a random prefix), so one server serves a whole session.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from pydantic import SecretStr

from medflow.platform.config import StorageSettings
from medflow.platform.storage.s3 import S3ObjectStore

ACCESS_KEY = "testing"
SECRET_KEY = "testing"
REGION = "us-east-1"


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def moto_server() -> Iterator[str]:
    """Start ``moto_server`` on 127.0.0.1 and yield its endpoint URL; stop it afterwards."""
    port = free_port()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/moto-api/", timeout=1.0)
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def bucket_prefix() -> str:
    """A prefix no other test uses (bucket names: lower-case, digits, hyphens)."""
    return f"t{uuid.uuid4().hex[:10]}-"


def s3_settings(endpoint: str, prefix: str | None = None, **extra: object) -> StorageSettings:
    """Storage settings for the s3 backend at ``endpoint`` with a fresh bucket prefix."""
    return StorageSettings(
        backend="s3",
        s3_endpoint_url=endpoint,
        s3_region=REGION,
        s3_bucket_prefix=prefix or bucket_prefix(),
        s3_access_key_id=ACCESS_KEY,
        s3_secret_access_key=SecretStr(SECRET_KEY),
        **extra,  # type: ignore[arg-type]
    )


def s3_store(endpoint: str, secret: bytes, **extra: object) -> S3ObjectStore:
    """An S3ObjectStore on fresh buckets (``raw``, ``results``, ``quarantine``...) at
    ``endpoint``; created through the adapter's own start check."""
    settings = s3_settings(endpoint, s3_create_buckets=True, **extra)
    client = _CLIENTS.get(endpoint)
    store = S3ObjectStore(settings, secret, client=client)
    _CLIENTS[endpoint] = store.client  # building a boto3 client costs ~0.3 s: share one
    store.check()
    return store


_CLIENTS: dict[str, object] = {}
