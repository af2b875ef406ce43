"""A runner process killed with SIGKILL mid-run; a new one finishes every document exactly once."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from durable_worker import pipeline, settings

from medflow.platform import Platform
from medflow.platform.storage import ObjectEvent

WORKER = Path(__file__).resolve().parent / "durable_worker.py"
DOCUMENTS = 6
STEPS = ("one", "two", "three")


def _ledger(path: Path) -> Counter[tuple[str, str]]:
    if not path.exists():
        return Counter()
    lines = [line.split() for line in path.read_text().splitlines() if line.strip()]
    return Counter((sha, step) for sha, step in lines)


@pytest.mark.slow
def test_killed_runner_resumes_and_finishes_each_document_once(tmp_path: Path) -> None:
    data, ledger = tmp_path / "data", tmp_path / "ledger.txt"
    with Platform(settings(data), pipelines=[pipeline(ledger)]) as platform:
        for i in range(DOCUMENTS):
            obj = platform.services.store.put("raw", f"slow/{i}.txt", f"document {i}".encode())
            event = ObjectEvent(obj.bucket, obj.key, obj.sha256, obj.size)
            platform.runner.submit("slow", event)

    first = subprocess.Popen([sys.executable, str(WORKER), str(data), str(ledger)])
    deadline = time.monotonic() + 30
    while sum(_ledger(ledger).values()) < 4:
        assert first.poll() is None, "the first worker ended before it was killed"
        assert time.monotonic() < deadline, "the first worker made no progress"
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.wait()
    done_before = _ledger(ledger)
    assert sum(done_before.values()) < DOCUMENTS * len(STEPS)

    second = subprocess.run(
        [sys.executable, str(WORKER), str(data), str(ledger)], timeout=60, check=False
    )
    assert second.returncode == 0

    with Platform(settings(data), pipelines=[pipeline(ledger)]) as platform:
        db = platform.services.db
        records = platform.runner.list_executions(limit=100)
        assert len(records) == DOCUMENTS
        assert {r.status for r in records} == {"succeeded"}
        for rec in records:
            assert rec.document_id is not None
            assert len(db.results.observations(document_id=rec.document_id)) == 2
            succeeded = [s.step for s in rec.steps if s.status == "succeeded"]
            assert succeeded == list(STEPS), "a completed step ran again"
        abandoned = [s for r in records for s in r.steps if s.status == "abandoned"]
        # Steps in flight at the kill (one per busy worker thread) were taken over.
        assert len(abandoned) <= 2

    ledger_counts = _ledger(ledger)
    shas = {sha for sha, _ in ledger_counts}
    assert len(shas) == DOCUMENTS
    assert set(ledger_counts) == {(sha, step) for sha in shas for step in STEPS}
    redone = sum(n - 1 for n in ledger_counts.values())
    # Only a step in flight at the kill may have run twice; completed steps never do.
    assert redone <= len(abandoned)
