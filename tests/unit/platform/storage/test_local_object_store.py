"""What only the folder adapter promises: layout on disk, atomic writes, no escape from root."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medflow.errors import StorageError
from medflow.platform.storage import LocalObjectStore, sha256_hex


def test_buckets_are_folders_with_sidecar_metadata(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path, b"s")
    store.put("raw", "labs/a.pdf", b"pdf", {"patient_id": "P1"}, "application/pdf")
    assert (tmp_path / "raw" / "labs" / "a.pdf").read_bytes() == b"pdf"
    sidecar = json.loads((tmp_path / ".meta" / "raw" / "labs" / "a.pdf.json").read_text())
    assert sidecar["sha256"] == sha256_hex(b"pdf")
    assert sidecar["metadata"] == {"patient_id": "P1"}


def test_objects_survive_a_new_store_instance(tmp_path: Path) -> None:
    LocalObjectStore(tmp_path, b"s").put("raw", "k", b"kept", {"a": "b"})
    again = LocalObjectStore(tmp_path, b"s")
    assert again.get("raw", "k") == b"kept"
    assert dict(again.head("raw", "k").metadata) == {"a": "b"}


def test_no_temporary_files_left_and_none_listed(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path, b"s")
    for i in range(5):
        store.put("raw", f"k{i}", b"x" * i)
    assert list((tmp_path / ".tmp").iterdir()) == []
    assert [o.key for o in store.list("raw")] == [f"k{i}" for i in range(5)]


def test_file_dropped_by_hand_is_described(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path, b"s")
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "manual.csv").write_bytes(b"a,b\n")
    head = store.head("raw", "manual.csv")
    assert head.sha256 == sha256_hex(b"a,b\n")
    assert head.size == 4


def test_key_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path, b"s")
    store.put("raw", "a/b", b"x")
    with pytest.raises(StorageError):
        store.put("raw", "a", b"y")
    assert store.get("raw", "a/b") == b"x"


def test_failed_write_keeps_the_previous_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalObjectStore(tmp_path, b"s")
    store.put("raw", "k", b"old")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("medflow.platform.storage.local.os.replace", broken_replace)
    with pytest.raises(StorageError):
        store.put("raw", "k", b"new")
    monkeypatch.undo()
    assert store.get("raw", "k") == b"old"
    assert list((tmp_path / ".tmp").iterdir()) == []
