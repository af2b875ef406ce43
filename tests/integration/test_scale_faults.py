"""At scale, under faults: 200 mixed documents through S3 (moto's server) + PostgreSQL + Celery
on RabbitMQ with two `medflow worker` processes. Mid-run one worker is SIGKILLed and started
again, and RabbitMQ is restarted once (``rabbitmqctl stop_app`` / ``start_app``; it is left
running). Every document must end ``succeeded`` or ``quarantined`` exactly once, with no
duplicate result rows and no duplicate emails (an aiosmtpd sink), and every original must be in
S3 with its SHA-256.

This test is slow by nature (about 2-3 minutes on two shared cores) and leans on every local
service; its own PostgreSQL database, RabbitMQ vhost, bucket prefix and SMTP port keep it apart.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
from sqlalchemy import text
from tests.contract.backends import postgres_database
from tests.contract.smtp_server import SmtpServer
from tests.fixtures.scale.corpus import Doc, mixed_corpus
from tests.rabbitmq import rabbitmq_vhost
from tests.s3_server import ACCESS_KEY, SECRET_KEY, bucket_prefix

from medflow.pipelines import default_pipelines
from medflow.platform import Platform, Settings
from medflow.platform.db import ExecutionRecord

pytestmark = [
    pytest.mark.service("postgres"),
    pytest.mark.service("rabbitmq"),
    pytest.mark.service("s3"),
    pytest.mark.service("smtp"),
    pytest.mark.slow,
    pytest.mark.timeout(600),
]

N = 200
DEADLINE_S = 420


class Workers:
    """``medflow worker`` processes (prefork, one slot each) with their logs."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._files: list[IO[bytes]] = []

    def start(self, name: str) -> None:
        log = (self.logs / f"{name}.log").open("ab")
        self._files.append(log)
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "medflow", "worker", "--concurrency", "1", "-v"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self, name: str) -> None:
        """SIGKILL the worker's main process (its pool process dies with it: Celery sets
        PR_SET_PDEATHSIG on prefork children)."""
        proc = self.procs[name]
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        for f in self._files:
            f.close()

    def tail(self) -> str:
        return "\n".join(
            f"--- {p.name}\n" + "\n".join(p.read_text(errors="replace").splitlines()[-25:])
            for p in sorted(self.logs.glob("*.log"))
        )


def _restart_rabbitmq() -> None:
    subprocess.run(["rabbitmqctl", "stop_app"], check=True, capture_output=True, timeout=120)
    try:
        time.sleep(2.0)
    finally:
        subprocess.run(["rabbitmqctl", "start_app"], check=True, capture_output=True, timeout=120)
        subprocess.run(
            ["rabbitmqctl", "await_startup"], check=True, capture_output=True, timeout=120
        )


@pytest.fixture
def stack(
    tmp_path: Path, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Settings, dict[str, str], SmtpServer]]:
    """Settings (and the same as environment for worker processes) for S3 + PostgreSQL +
    Celery + SMTP, each on resources of this test's own."""
    smtp = SmtpServer().start()
    try:
        with rabbitmq_vhost() as broker:
            for db_url in postgres_database():
                values = {
                    "MEDFLOW_DATA_DIR": str(tmp_path / "data"),
                    "MEDFLOW_SECURITY__SIGNING_SECRET": "scale-test-signing-secret",
                    "MEDFLOW_STORAGE__BACKEND": "s3",
                    "MEDFLOW_STORAGE__S3_ENDPOINT_URL": s3_endpoint,
                    "MEDFLOW_STORAGE__S3_BUCKET_PREFIX": bucket_prefix(),
                    "MEDFLOW_STORAGE__S3_ACCESS_KEY_ID": ACCESS_KEY,
                    "MEDFLOW_STORAGE__S3_SECRET_ACCESS_KEY": SECRET_KEY,
                    "MEDFLOW_STORAGE__S3_CREATE_BUCKETS": "true",
                    "MEDFLOW_DATABASE__URL": db_url,
                    "MEDFLOW_RUNNER__BACKEND": "celery",
                    "MEDFLOW_RUNNER__BROKER_URL": broker,
                    "MEDFLOW_RUNNER__LEASE_S": "8",
                    "MEDFLOW_RUNNER__HEARTBEAT_S": "1",
                    "MEDFLOW_RUNNER__SWEEP_S": "1",
                    "MEDFLOW_RUNNER__DISPATCH_GRACE_S": "4",
                    "MEDFLOW_RUNNER__BROKER_HEARTBEAT_S": "10",
                    "MEDFLOW_NOTIFY__BACKEND": "smtp",
                    "MEDFLOW_NOTIFY__SMTP_HOST": "127.0.0.1",
                    "MEDFLOW_NOTIFY__SMTP_PORT": str(smtp.port),
                    "MEDFLOW_NOTIFY__SMTP_SECURITY": "none",
                    "MEDFLOW_NOTIFY__TIMEOUT_S": "2",
                    "MEDFLOW_NOTIFY__RETRY_BASE_S": "1",
                }
                for name, value in values.items():
                    monkeypatch.setenv(name, value)
                env = {k: v for k, v in os.environ.items() if not k.startswith("MEDFLOW_")}
                env.update(values)
                env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
                yield Settings(), env, smtp
    finally:
        smtp.stop()


def _expected_steps_ok(rec: ExecutionRecord) -> bool:
    """Every step succeeded exactly once (tries cut off or retried before that are fine)."""
    per_step = Counter((s.step, s.status) for s in rec.steps)
    succeeded = [step for (step, status), n in per_step.items() if status == "succeeded"]
    return all(per_step[(step, "succeeded")] == 1 for step in succeeded) and not any(
        status == "running" for (_, status) in per_step
    )


def test_200_documents_survive_a_killed_worker_and_a_broker_restart(
    stack: tuple[Settings, dict[str, str], SmtpServer], tmp_path: Path
) -> None:
    settings, env, smtp = stack
    docs = mixed_corpus(N, seed=9)
    workers = Workers(env, tmp_path)
    platform = Platform(settings, pipelines=default_pipelines(settings))  # buckets, schema
    events: list[str] = []
    rabbit_down = False
    try:
        workers.start("w1")
        workers.start("w2")
        platform.start(inbox=False)  # the sweeper and notification retries, as serve runs them
        began = time.monotonic()
        submitted: dict[str, Doc] = {}
        for doc in docs:
            eid = platform.ingest(
                doc.data, doc.filename, doc.pipeline, doc.metadata, doc.content_type
            )
            submitted[eid] = doc
        assert len(submitted) == N
        db = platform.services.db
        phase = 0
        while True:
            counts = db.executions.counts()
            done = sum(counts.get(s, 0) for s in ("succeeded", "quarantined", "failed"))
            if phase == 0 and done >= N * 0.2:
                workers.kill("w1")
                events.append(f"{time.monotonic() - began:.0f}s: SIGKILL w1 at {done}/{N}")
                time.sleep(1.0)
                workers.start("w1")
                phase = 1
            elif phase == 1 and done >= N * 0.5:
                events.append(f"{time.monotonic() - began:.0f}s: RabbitMQ restart at {done}/{N}")
                rabbit_down = True
                _restart_rabbitmq()
                rabbit_down = False
                phase = 2
            if done == N:
                break
            assert time.monotonic() - began < DEADLINE_S, (
                f"{done}/{N} done: {counts}\n{events}\n{workers.tail()}"
            )
            time.sleep(0.5)
        # Notifications cut off by the kill are delivered by the retry pass.
        while db.notifications.list(status="queued") or db.notifications.list(status="failed"):
            assert time.monotonic() - began < DEADLINE_S + 60, "notifications never delivered"
            time.sleep(0.5)
        elapsed = time.monotonic() - began
        # The broker restart was ridden out: both workers reconnected instead of exiting.
        assert [n for n, proc in workers.procs.items() if proc.poll() is not None] == []
    finally:
        if rabbit_down:
            subprocess.run(["rabbitmqctl", "start_app"], capture_output=True, timeout=120)
        workers.stop_all()
        platform.stop()

    # Exactly once: one execution per document, finished, every step succeeded once.
    records = [platform.runner.get_execution(eid) for eid in submitted]
    statuses = Counter(r.status for r in records)
    assert set(statuses) <= {"succeeded", "quarantined"}, statuses
    for rec in records:
        doc = submitted[rec.id]
        assert _expected_steps_ok(rec), (doc.filename, [(s.step, s.status) for s in rec.steps])
        if doc.expect is not None:
            assert rec.status == doc.expect, (doc.filename, rec.error)
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM executions")).scalar_one() == N
        for table, key in (
            ("observations", "document_id, position"),
            ("findings", "document_id, position"),
            ("health_records", "document_id"),
            ("documents", "sha256"),
        ):
            dupes = conn.execute(
                text(f"SELECT {key}, count(*) FROM {table} GROUP BY {key} HAVING count(*) > 1")
            ).all()
            assert dupes == [], f"duplicate {table} rows: {dupes[:3]}"
        observations = conn.execute(text("SELECT count(*) FROM observations")).scalar_one()
    assert observations > 0

    # No email twice, none missing: one delivered message per sent notification.
    sent = db.notifications.list(status="sent", limit=10_000)
    messages = list(smtp.handler.messages)
    fingerprints = Counter(
        (m["To"], m["Subject"], m.get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]
        for m in messages
    )
    twice = [f for f, n in fingerprints.items() if n > 1]
    # On failure, say which sends they were: the same Message-ID twice is one stored message
    # handed over again (its sender taken for dead), two IDs are two messages built.
    assert twice == [], (
        [(f[:2], [m["Message-ID"] for m in messages if m["Subject"] == f[1]]) for f in twice],
        [
            (n.id, n.subject, n.attempts, n.created_at, n.sent_at)
            for n in sent
            if any(n.subject == f[1] for f in twice)
        ],
        events,
        workers.tail(),
    )
    assert len(messages) == len(sent) > 0
    assert sorted(m["To"] for m in messages) == sorted(n.recipient for n in sent)

    # Every original kept, with its SHA-256 (quarantined ones moved, not lost).
    store = platform.services.store
    for rec in records:
        doc = submitted[rec.id]
        key = rec.event["key"]
        bucket = "raw" if store.exists("raw", key) else "quarantine"
        head = store.head(bucket, key)
        assert head.sha256 == hashlib.sha256(doc.data).hexdigest() == rec.sha256
        assert hashlib.sha256(store.get(bucket, key)).hexdigest() == head.sha256

    abandoned = sum(1 for r in records for s in r.steps if s.status == "abandoned")
    platform.close()
    print(
        f"\nscale faults: {N} documents in {elapsed:.0f} s ({dict(statuses)}); "
        f"{len(messages)} emails; {observations} observations; {abandoned} abandoned tries; "
        f"events: {events}"
    )
