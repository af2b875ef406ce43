"""Trigger table, store-event subscription and the inbox folder watcher."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from medflow.errors import StorageError
from medflow.platform.config import TriggerRule
from medflow.platform.events import InboxWatcher, TriggerTable, inbox_key, safe_name
from medflow.platform.storage import MemoryObjectStore, ObjectEvent, sha256_hex


def test_longest_prefix_wins_and_bucket_must_match() -> None:
    table = TriggerTable(
        [
            TriggerRule(bucket="raw", prefix="labs/", pipeline="labs"),
            TriggerRule(bucket="raw", prefix="labs/scanned/", pipeline="labs_ocr"),
            TriggerRule(bucket="uploads", prefix="", pipeline="documents"),
        ]
    )
    assert table.match("raw", "labs/a.pdf") == "labs"
    assert table.match("raw", "labs/scanned/a.pdf") == "labs_ocr"
    assert table.match("uploads", "anything") == "documents"
    assert table.match("raw", "records/x.csv") is None
    assert table.match("results", "labs/a.pdf") is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "etc_passwd"),
        (".hidden", "hidden"),
        ("a b\\c.pdf", "a_b_c.pdf"),
        ("", "file"),
    ],
)
def test_safe_name(name: str, expected: str) -> None:
    assert safe_name(name) == expected


def test_inbox_key_is_content_hashed() -> None:
    assert inbox_key("labs", b"x", "r.pdf") == f"labs/{sha256_hex(b'x')[:16]}/r.pdf"


@pytest.fixture
def inbox(tmp_path: Path) -> tuple[InboxWatcher, MemoryObjectStore, list[ObjectEvent]]:
    store = MemoryObjectStore()
    events: list[ObjectEvent] = []
    store.subscribe(events.append)
    return InboxWatcher(tmp_path / "inbox", store, folders=["labs"]), store, events


def test_file_is_stored_after_two_stable_polls_then_removed(
    inbox: tuple[InboxWatcher, MemoryObjectStore, list[ObjectEvent]],
) -> None:
    watcher, store, events = inbox
    path = watcher.inbox_dir / "labs" / "report.pdf"
    path.write_bytes(b"%PDF-1.4 data")
    assert watcher.poll_once() == []
    assert path.exists()
    [obj] = watcher.poll_once()
    assert not path.exists()
    assert obj.key == inbox_key("labs", b"%PDF-1.4 data", "report.pdf")
    assert store.get("raw", obj.key) == b"%PDF-1.4 data"
    assert dict(obj.metadata) == {"filename": "report.pdf", "source": "inbox"}
    assert [e.key for e in events] == [obj.key]


def test_growing_file_is_left_alone(
    inbox: tuple[InboxWatcher, MemoryObjectStore, list[ObjectEvent]],
) -> None:
    watcher, store, _ = inbox
    path = watcher.inbox_dir / "labs" / "big.pdf"
    path.write_bytes(b"part one")
    watcher.poll_once()
    with path.open("ab") as fh:
        fh.write(b" and part two")
    assert watcher.poll_once() == []
    assert path.exists()
    [obj] = watcher.poll_once()
    assert store.get("raw", obj.key) == b"part one and part two"


def test_partial_and_hidden_files_are_ignored(
    inbox: tuple[InboxWatcher, MemoryObjectStore, list[ObjectEvent]],
) -> None:
    watcher, store, _ = inbox
    for name in (".copying.pdf", "report.pdf.part", "x.tmp"):
        (watcher.inbox_dir / "labs" / name).write_bytes(b"x")
    watcher.poll_once()
    assert watcher.poll_once() == []
    assert store.list("raw") == []


def test_sidecar_metadata_is_attached_and_removed(
    inbox: tuple[InboxWatcher, MemoryObjectStore, list[ObjectEvent]],
) -> None:
    watcher, _, _ = inbox
    folder = watcher.inbox_dir / "labs"
    (folder / "r.pdf").write_bytes(b"pdf")
    (folder / "r.pdf.meta.json").write_text(json.dumps({"patient_id": "P7", "age": 54}))
    watcher.poll_once()
    [obj] = watcher.poll_once()
    assert dict(obj.metadata) == {
        "patient_id": "P7",
        "age": "54",
        "filename": "r.pdf",
        "source": "inbox",
    }
    assert list(folder.iterdir()) == []


def test_failed_put_keeps_the_file_in_the_inbox(
    inbox: tuple[InboxWatcher, MemoryObjectStore, list[ObjectEvent]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    watcher, store, _ = inbox
    path = watcher.inbox_dir / "labs" / "r.pdf"
    path.write_bytes(b"pdf")

    def broken_put(*args: object, **kwargs: object) -> None:
        raise StorageError("disk full")

    monkeypatch.setattr(store, "put", broken_put)
    watcher.poll_once()
    assert watcher.poll_once() == []
    assert path.read_bytes() == b"pdf"
    monkeypatch.undo()
    assert len(watcher.poll_once()) == 1
    assert not path.exists()


def test_same_file_dropped_twice_lands_on_one_key(
    inbox: tuple[InboxWatcher, MemoryObjectStore, list[ObjectEvent]],
) -> None:
    watcher, store, _ = inbox
    for _ in range(2):
        p = watcher.inbox_dir / "labs" / "r.pdf"
        p.write_bytes(b"same bytes")
        os.utime(p, ns=(1, 1))
        watcher.poll_once()
        watcher.poll_once()
    assert len(store.list("raw")) == 1
