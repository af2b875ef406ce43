"""From stored objects to executions: the trigger table and the inbox folder.

* :class:`TriggerTable` maps ``bucket`` + key prefix to a pipeline (configuration:
  ``settings.triggers``), like S3 event notification filters; the longest matching prefix wins.
* :func:`connect_triggers` subscribes to the store's put events and submits matching objects.
* :class:`InboxWatcher` polls ``<data>/inbox/<pipeline>/`` (no extra dependency): a file is
  picked up once its size and modification time are the same on two polls in a row (so a file
  still being copied is left alone), put into the raw bucket under a content-hashed key, and
  deleted from the inbox only after the put succeeded.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from medflow.errors import MedflowError
from medflow.platform.config import TriggerRule
from medflow.platform.runner.base import Runner
from medflow.platform.storage import ObjectEvent, ObjectStore, StoredObject, sha256_hex

log = logging.getLogger(__name__)

META_SUFFIX = ".meta.json"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class TriggerTable:
    """Which pipeline an object starts.

    Args:
        rules: ``(bucket, prefix, pipeline)`` rules.
    """

    def __init__(self, rules: Sequence[TriggerRule]) -> None:
        self.rules = sorted(rules, key=lambda r: len(r.prefix), reverse=True)

    def match(self, bucket: str, key: str) -> str | None:
        """The pipeline for ``bucket``/``key``, or None when no rule matches."""
        for rule in self.rules:
            if rule.bucket == bucket and key.startswith(rule.prefix):
                return rule.pipeline
        return None


def trigger_handler(runner: Runner, table: TriggerTable) -> Callable[[ObjectEvent], None]:
    """A callback that submits an object event to the pipeline its trigger names.

    Copies never start a pipeline; objects matching a pipeline the runner does not know are
    logged and left in place. Submission errors propagate (a queue consumer keeps the event).
    """

    def on_event(event: ObjectEvent) -> None:
        if event.event_name != "ObjectCreated:Put":
            return  # copies (quarantine, results) never start a pipeline
        name = table.match(event.bucket, event.key)
        if name is None:
            return
        if name not in runner.registry:
            log.warning(
                "object %s/%s matches pipeline %s, which is not registered",
                event.bucket,
                event.key,
                name,
            )
            return
        runner.submit(name, event)

    return on_event


def connect_triggers(store: ObjectStore, runner: Runner, table: TriggerTable) -> Callable[[], None]:
    """Submit every object put where a trigger matches; returns the unsubscribe function."""
    return store.subscribe(trigger_handler(runner, table))


def safe_name(filename: str) -> str:
    """A file name usable in an object key: unsafe characters become ``_``, no leading dot."""
    cleaned = _UNSAFE.sub("_", filename).lstrip("._") or "file"
    return cleaned[:200]


def inbox_key(prefix: str, data: bytes, filename: str) -> str:
    """The raw-bucket key of an inbox file: ``<prefix>/<sha256[:16]>/<safe name>``.

    Content-hashed, so the same file dropped twice lands on the same key.
    """
    return f"{prefix.strip('/')}/{sha256_hex(data)[:16]}/{safe_name(filename)}"


class InboxWatcher:
    """Moves files dropped in ``inbox_dir/<folder>/`` into the object store.

    A ``<file>.meta.json`` beside a file supplies its metadata (``patient_id``,
    ``doctor_email``...: strings only); it is removed with the file.

    Args:
        inbox_dir: the inbox root; one sub-folder per pipeline (created for ``folders``).
        store: where files go.
        bucket: the bucket they go to.
        folders: sub-folders to create up front (pipeline names).
        poll_s: polling period of :meth:`start`.
    """

    def __init__(
        self,
        inbox_dir: Path,
        store: ObjectStore,
        *,
        bucket: str = "raw",
        folders: Sequence[str] = (),
        poll_s: float = 1.0,
    ) -> None:
        self.inbox_dir = inbox_dir
        self.store = store
        self.bucket = bucket
        self.poll_s = poll_s
        self._seen: dict[Path, tuple[int, int]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        for folder in folders:
            (inbox_dir / folder).mkdir(parents=True, exist_ok=True)

    def _candidates(self) -> list[Path]:
        if not self.inbox_dir.is_dir():
            return []
        found = []
        for folder in sorted(p for p in self.inbox_dir.iterdir() if p.is_dir()):
            if folder.name.startswith("."):
                continue
            for path in sorted(folder.iterdir()):
                name = path.name
                if (
                    path.is_file()
                    and not name.startswith(".")
                    and not name.endswith((META_SUFFIX, ".part", ".tmp", ".crdownload"))
                ):
                    found.append(path)
        return found

    def poll_once(self) -> list[StoredObject]:
        """One pass: store every file that was already there, unchanged, on the last pass.

        Returns:
            What was stored now.
        """
        stored = []
        current: dict[Path, tuple[int, int]] = {}
        for path in self._candidates():
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            sig = (st.st_size, st.st_mtime_ns)
            if self._seen.get(path) != sig:
                current[path] = sig  # new or still growing: look again next pass
                continue
            try:
                stored.append(self._ingest(path))
            except (OSError, MedflowError, ValueError):
                log.exception("inbox file in %s could not be stored; left in place", path.parent)
                current[path] = sig
        self._seen = current
        return stored

    def _ingest(self, path: Path) -> StoredObject:
        data = path.read_bytes()
        meta_path = path.with_name(path.name + META_SUFFIX)
        metadata: dict[str, str] = {}
        if meta_path.is_file():
            raw = json.loads(meta_path.read_text())
            if not isinstance(raw, dict):
                raise ValueError(f"{meta_path.name} must hold a JSON object")
            metadata = {str(k): str(v) for k, v in raw.items()}
        metadata.setdefault("filename", path.name)
        metadata.setdefault("source", "inbox")
        key = inbox_key(path.parent.name, data, path.name)
        obj = self.store.put(self.bucket, key, data, metadata)
        # Only now, with the original safely stored, does the inbox copy go.
        path.unlink()
        meta_path.unlink(missing_ok=True)
        log.info("inbox file stored as %s/%s (%d bytes)", obj.bucket, obj.key, obj.size)
        return obj

    def start(self) -> None:
        """Poll every ``poll_s`` seconds on a background thread (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="medflow-inbox", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.poll_once()
            except Exception:
                log.exception("inbox poll failed")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop polling."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
