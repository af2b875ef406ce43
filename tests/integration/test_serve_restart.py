"""``medflow serve`` killed mid-run and restarted finishes every pending document exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from importlib import resources
from pathlib import Path

import pytest

from medflow.platform import Settings, build_services

pytestmark = pytest.mark.slow


def _start(data_dir: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDFLOW_")}
    env.update(
        {
            "MEDFLOW_DATA_DIR": str(data_dir),
            "MEDFLOW_RUNNER__WORKERS": "1",
            "MEDFLOW_RUNNER__LEASE_S": "3",
            "MEDFLOW_RUNNER__HEARTBEAT_S": "0.5",
            "MEDFLOW_RUNNER__POLL_S": "0.1",
            "MEDFLOW_RUNNER__INBOX_POLL_S": "0.2",
            "MEDFLOW_WEB__PORT": "0",  # any free port: the portal starts with serve
        }
    )
    return subprocess.Popen(
        [sys.executable, "-m", "medflow", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _counts(data_dir: Path) -> Counter[str]:
    services = build_services(Settings(data_dir=data_dir))
    try:
        return Counter(services.db.executions.counts())
    finally:
        services.close()


def _wait_for(predicate: object, timeout: float, what: str) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _drop(inbox: Path, samples: Path) -> list[str]:
    """Drop the bundled reports, plus byte-distinct copies of the scanned one (OCR: slow)."""
    meta = json.loads((samples / "samples.json").read_text())
    names: list[str] = []
    folder = inbox / "labs"
    folder.mkdir(parents=True, exist_ok=True)
    sources = [n for n in meta if n != "truncated.pdf"]
    for copy in range(2):
        sources.append(f"scanned-copy{copy}.pdf")
    for name in sources:
        src = "scanned.pdf" if name.startswith("scanned-copy") else name
        data = (samples / src).read_bytes()
        if name != src:
            data += f"\n% copy {name}\n".encode()  # distinct bytes: a distinct document
        info = {k: v for k, v in meta[src].items() if v}
        info["doctor_email"] = "dr.restart@clinic.example"
        (folder / f"{name}.meta.json").write_text(json.dumps(info))
        partial = folder / f".{name}.part"
        partial.write_bytes(data)
        partial.rename(folder / name)
        names.append(name)
    return names


def test_killed_serve_resumes_and_finishes_every_document_exactly_once(tmp_path: Path) -> None:
    samples = Path(str(resources.files("medflow.samples").joinpath("labs")))
    data_dir = tmp_path / "data"
    first = _start(data_dir)
    try:
        _wait_for(lambda: (data_dir / "inbox" / "labs").is_dir(), 60, "the inbox")
        names = _drop(data_dir / "inbox", samples)
        # Kill while documents are still pending or running, after at least one finished.
        _wait_for(
            lambda: _counts(data_dir)["succeeded"] >= 1 and sum(_counts(data_dir).values()) >= 3,
            240,
            "the first finished document",
        )
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    at_kill = _counts(data_dir)
    assert at_kill["succeeded"] < len(names), "the kill came too late to test anything"

    second = _start(data_dir)
    try:
        _wait_for(
            lambda: _counts(data_dir)["succeeded"] == len(names), 300, "every document finished"
        )
        time.sleep(1.0)  # anything processed twice would show up now
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(20)
        except subprocess.TimeoutExpired:
            second.kill()

    services = build_services(Settings(data_dir=data_dir))
    try:
        executions = services.db.executions.list(limit=100, with_steps=True)
        assert len(executions) == len(names)
        assert {e.status for e in executions} == {"succeeded"}
        assert len({e.document_id for e in executions}) == len(names)
        for execution in executions:
            assert execution.document_id is not None
            # Results written once: as many observation rows as the stored report has results.
            report = json.loads(
                services.store.get("results", f"labs/{execution.document_id}/report.json")
            )
            rows = services.db.results.observations(document_id=execution.document_id)
            assert len(rows) == len(report["results"])
            # Each step finished exactly once per execution.
            done = Counter(s.step for s in execution.steps if s.status == "succeeded")
            assert done == Counter({"read": 1, "interpret": 1, "publish": 1, "notify": 1})
        notified = Counter(n.document_id for n in services.db.notifications.list(limit=100))
        assert set(notified.values()) == {1}
        assert len(notified) == len(names)
    finally:
        services.close()
    emails = list((data_dir / "outbox").glob("*.eml"))
    assert len(emails) == len(names), "exactly one email per document"
    assert not list((data_dir / "inbox" / "labs").glob("*.pdf")), "the inbox was drained"
