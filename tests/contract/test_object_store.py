"""Contract suite of the ObjectStore port: every adapter must pass it unchanged.

A new adapter (S3ObjectStore) joins by adding a parameter to the ``store`` fixture.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from medflow.errors import ObjectNotFoundError, SignatureError
from medflow.platform.storage import (
    InvalidKeyError,
    LocalObjectStore,
    MemoryObjectStore,
    ObjectEvent,
    ObjectStore,
    sha256_hex,
)

SECRET = b"contract-secret"


@pytest.fixture(params=["local", "memory", pytest.param("s3", marks=pytest.mark.service("s3"))])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    if request.param == "local":
        yield LocalObjectStore(tmp_path / "objects", SECRET)
    elif request.param == "memory":
        yield MemoryObjectStore(SECRET)
    else:
        from tests.s3_server import s3_store

        yield s3_store(
            request.getfixturevalue("s3_endpoint"), SECRET, buckets=("raw", "results", "quarantine")
        )


def _url_parts(url: str) -> tuple[str, str, dict[str, str]]:
    parts = urlsplit(url)
    _, _, bucket, key = parts.path.split("/", 3)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return bucket, unquote(key), query


def test_put_returns_hash_size_and_metadata(store: ObjectStore) -> None:
    obj = store.put("raw", "labs/a.pdf", b"%PDF-1.4", {"patient_id": "P1"}, "application/pdf")
    assert (obj.bucket, obj.key) == ("raw", "labs/a.pdf")
    assert obj.sha256 == sha256_hex(b"%PDF-1.4")
    assert obj.size == 8
    assert dict(obj.metadata) == {"patient_id": "P1"}
    assert obj.content_type == "application/pdf"


def test_get_and_head_round_trip(store: ObjectStore) -> None:
    store.put("raw", "labs/a.pdf", b"hello", {"k": "v"}, "text/plain")
    assert store.get("raw", "labs/a.pdf") == b"hello"
    head = store.head("raw", "labs/a.pdf")
    assert head.sha256 == sha256_hex(b"hello")
    assert dict(head.metadata) == {"k": "v"}
    assert head.content_type == "text/plain"
    assert store.exists("raw", "labs/a.pdf")


def test_put_replaces_existing_object(store: ObjectStore) -> None:
    store.put("raw", "k", b"one")
    store.put("raw", "k", b"two")
    assert store.get("raw", "k") == b"two"
    assert store.head("raw", "k").size == 3


def test_missing_object_raises_not_found(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFoundError):
        store.get("raw", "nope")
    with pytest.raises(ObjectNotFoundError):
        store.head("raw", "nope")
    with pytest.raises(ObjectNotFoundError):
        store.delete("raw", "nope")
    with pytest.raises(LookupError):
        store.get("raw", "nope")
    assert not store.exists("raw", "nope")


def test_list_filters_by_prefix_and_sorts(store: ObjectStore) -> None:
    for key in ("labs/b.pdf", "labs/a.pdf", "records/x.csv", "labs/sub/c.pdf"):
        store.put("raw", key, key.encode())
    assert [o.key for o in store.list("raw", "labs/")] == [
        "labs/a.pdf",
        "labs/b.pdf",
        "labs/sub/c.pdf",
    ]
    assert len(store.list("raw")) == 4
    assert store.list("results") == []


def test_delete_removes(store: ObjectStore) -> None:
    store.put("raw", "k", b"x")
    store.delete("raw", "k")
    assert not store.exists("raw", "k")
    assert store.list("raw") == []


def test_copy_keeps_bytes_and_metadata(store: ObjectStore) -> None:
    store.put("raw", "labs/a.pdf", b"data", {"reason": "x"}, "application/pdf")
    obj = store.copy("raw", "labs/a.pdf", "results", "labs/a.pdf")
    assert obj.sha256 == sha256_hex(b"data")
    assert store.get("results", "labs/a.pdf") == b"data"
    assert dict(store.head("results", "labs/a.pdf").metadata) == {"reason": "x"}
    assert store.exists("raw", "labs/a.pdf")


def test_move_to_quarantine_keeps_the_object(store: ObjectStore) -> None:
    store.put("raw", "labs/a.pdf", b"data")
    store.move("raw", "labs/a.pdf", "quarantine", "labs/a.pdf")
    assert not store.exists("raw", "labs/a.pdf")
    assert store.get("quarantine", "labs/a.pdf") == b"data"


def test_move_of_missing_object_changes_nothing(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFoundError):
        store.move("raw", "gone", "quarantine", "gone")
    assert store.list("quarantine") == []


@pytest.mark.parametrize(
    "key",
    ["../etc/passwd", "a/../../b", "/abs", "a//b", "a/./b", "", "a\\b", "nul\x00", ".hidden", "a/"],
)
def test_unsafe_keys_are_refused(store: ObjectStore, key: str) -> None:
    with pytest.raises(InvalidKeyError):
        store.put("raw", key, b"x")


@pytest.mark.parametrize("bucket", ["", "..", "Raw", "a/b", "x" * 64, ".meta"])
def test_bad_bucket_names_are_refused(store: ObjectStore, bucket: str) -> None:
    with pytest.raises(InvalidKeyError):
        store.put(bucket, "k", b"x")


def test_every_put_and_copy_emits_an_event(store: ObjectStore) -> None:
    events: list[ObjectEvent] = []
    unsubscribe = store.subscribe(events.append)
    store.put("raw", "labs/a.pdf", b"abc", {"patient_id": "P1"})
    store.copy("raw", "labs/a.pdf", "quarantine", "labs/a.pdf")
    unsubscribe()
    store.put("raw", "labs/b.pdf", b"zzz")
    assert [(e.bucket, e.key, e.event_name) for e in events] == [
        ("raw", "labs/a.pdf", "ObjectCreated:Put"),
        ("quarantine", "labs/a.pdf", "ObjectCreated:Copy"),
    ]
    assert events[0].sha256 == sha256_hex(b"abc")
    assert events[0].size == 3
    assert dict(events[0].metadata) == {"patient_id": "P1"}


def test_a_failing_subscriber_does_not_undo_the_put(store: ObjectStore) -> None:
    def boom(event: ObjectEvent) -> None:
        raise RuntimeError("subscriber bug")

    seen: list[str] = []
    store.subscribe(boom)
    store.subscribe(lambda e: seen.append(e.key))
    store.put("raw", "k", b"x")
    assert store.get("raw", "k") == b"x"
    assert seen == ["k"]


def test_signed_url_verifies(store: ObjectStore) -> None:
    url = store.signed_url("raw", "labs/a b.pdf", "PUT", expires_in=60)
    bucket, key, q = _url_parts(url)
    assert (bucket, key) == ("raw", "labs/a b.pdf")
    store.verify_signed(bucket, key, q["method"], q["expires"], q["signature"])


def test_signed_url_for_other_method_key_or_expiry_is_refused(store: ObjectStore) -> None:
    bucket, key, q = _url_parts(store.signed_url("raw", "labs/a.pdf", "GET", expires_in=60))
    with pytest.raises(SignatureError):
        store.verify_signed(bucket, key, "PUT", q["expires"], q["signature"])
    with pytest.raises(SignatureError):
        store.verify_signed(bucket, "labs/b.pdf", "GET", q["expires"], q["signature"])
    with pytest.raises(SignatureError):
        store.verify_signed(bucket, key, "GET", int(q["expires"]) + 3600, q["signature"])
    with pytest.raises(SignatureError):
        store.verify_signed(bucket, key, "GET", q["expires"], "0" * 64)
    with pytest.raises(PermissionError):
        store.verify_signed(bucket, key, "GET", "soon", q["signature"])


def test_expired_signed_url_is_refused(store: ObjectStore) -> None:
    bucket, key, q = _url_parts(store.signed_url("raw", "k", "GET", expires_in=1))
    store.verify_signed(bucket, key, "GET", q["expires"], q["signature"])
    with pytest.raises(SignatureError, match="expired"):
        store.verify_signed(bucket, key, "GET", q["expires"], q["signature"], now=time.time() + 5)


def test_concurrent_puts_leave_one_whole_object(store: ObjectStore) -> None:
    payloads = [bytes([i]) * 100_000 for i in range(8)]
    threads = [threading.Thread(target=store.put, args=("raw", "k", p)) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    data = store.get("raw", "k")
    assert data in payloads


def test_put_file_and_get_file_round_trip_by_path(store: ObjectStore, tmp_path: Path) -> None:
    src = tmp_path / "big.csv"
    data = b"a,b\n" + b"1,2\n" * 300_000  # over a megabyte: more than one chunk
    src.write_bytes(data)
    events: list[ObjectEvent] = []
    store.subscribe(events.append)
    obj = store.put_file("raw", "records/big.csv", src, {"k": "v"}, "text/csv")
    assert (obj.sha256, obj.size) == (sha256_hex(data), len(data))
    assert [(e.bucket, e.key, e.sha256) for e in events] == [("raw", "records/big.csv", obj.sha256)]
    head = store.head("raw", "records/big.csv")
    assert (head.sha256, head.size, dict(head.metadata)) == (obj.sha256, len(data), {"k": "v"})
    dest = tmp_path / "copy.csv"
    got = store.get_file("raw", "records/big.csv", dest)
    assert dest.read_bytes() == data
    assert got.sha256 == obj.sha256


def test_get_file_of_missing_object_creates_nothing(store: ObjectStore, tmp_path: Path) -> None:
    dest = tmp_path / "none.csv"
    with pytest.raises(ObjectNotFoundError):
        store.get_file("raw", "records/none.csv", dest)
    assert not dest.exists()
