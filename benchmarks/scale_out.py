"""Scale-out: documents per second through Celery workers against the thread runner, on the
same documents in the same run; and what Celery adds to each step.

Run: ``.venv/bin/python benchmarks/scale_out.py [--docs N]`` (needs PostgreSQL and RabbitMQ on
loopback: ``make services``).

Measured in one run, each variant on a fresh PostgreSQL database, the same folder object store
and the same mixed documents (``tests/fixtures/scale/corpus.py``: lab PDFs, notes, DICOM,
records CSVs; no dictation):

1. baseline: ``ThreadRunner`` in this process with 1 and with 2 worker threads;
2. ``CeleryRunner`` with 1 and with 2 ``medflow worker``-style processes (prefork, one slot
   each) on a RabbitMQ vhost of its own.
Models load before the clock starts (a warm-up batch per variant). Then the cost per step: a
pipeline of four steps that do nothing, run one execution at a time, 30 times per runner;
overhead per step = (execution wall time - time inside steps) / 4, median. Target: Celery's
median under 20 ms.

The machine is shared: the load average is printed beside the figures, and the ratios (same run,
same load) are the numbers to compare.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fixtures.scale.corpus import Doc, Mix, mixed_corpus  # noqa: E402

NOOP_STEPS = 4


def noop_pipeline() -> Any:
    """Four steps that do nothing: what a runner costs per step."""
    from medflow.platform import Pipeline, RetryPolicy, Step, StepContext

    def noop(ctx: StepContext) -> dict[str, int]:
        return {ctx.step: ctx.attempt}

    policy = RetryPolicy(timeout_s=60)
    return Pipeline("bench", "1", tuple(Step(f"s{i}", noop, policy) for i in range(NOOP_STEPS)))


def pipelines(settings: Any) -> list[Any]:
    from medflow.pipelines import default_pipelines

    return [*default_pipelines(settings), noop_pipeline()]


def worker_main() -> None:
    """``--worker``: a Celery worker process for this benchmark (its pipelines + ``bench``)."""
    from medflow.platform import PipelineRegistry, build_runner, build_services, get_settings
    from medflow.platform.runner.celery import CeleryRunner, run_worker

    settings = get_settings()
    runner = build_runner(build_services(settings), PipelineRegistry(pipelines(settings)))
    assert isinstance(runner, CeleryRunner)
    sys.exit(run_worker(runner, concurrency=1, pool="prefork"))


def database() -> Any:
    """A fresh PostgreSQL database, dropped afterwards (the contract suites' helper)."""
    from tests.contract.backends import postgres_database

    return contextmanager(postgres_database)()


@contextmanager
def vhost() -> Iterator[str]:
    name = f"medflow-bench-{uuid.uuid4().hex[:8]}"
    subprocess.run(["rabbitmqctl", "add_vhost", name], check=True, capture_output=True)
    subprocess.run(
        ["rabbitmqctl", "set_permissions", "-p", name, "guest", ".*", ".*", ".*"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"amqp://guest:guest@127.0.0.1:5672/{name}"
    finally:
        subprocess.run(["rabbitmqctl", "delete_vhost", name], capture_output=True)


def environment(data: Path, db_url: str, broker: str | None, workers: int) -> dict[str, str]:
    env = {
        "MEDFLOW_DATA_DIR": str(data),
        "MEDFLOW_SECURITY__SIGNING_SECRET": "bench-signing-secret",
        "MEDFLOW_DATABASE__URL": db_url,
        "MEDFLOW_RUNNER__WORKERS": str(workers),
        "MEDFLOW_RUNNER__POLL_S": "0.05",
        "MEDFLOW_NOTIFY__BACKEND": "outbox",
    }
    if broker is not None:
        env |= {"MEDFLOW_RUNNER__BACKEND": "celery", "MEDFLOW_RUNNER__BROKER_URL": broker}
    return env


def ingest_all(platform: Any, docs: list[Doc]) -> list[str]:
    return [
        platform.ingest(d.data, d.filename, d.pipeline, d.metadata, d.content_type) for d in docs
    ]


def finish(platform: Any, ids: list[str]) -> None:
    deadline = time.monotonic() + 1800
    pending = set(ids)
    while pending:
        pending = {i for i in pending if not platform.runner.get_execution(i).done}
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(pending)} executions never finished")
        time.sleep(0.05)


def step_overhead(platform: Any, rounds: int) -> float:
    """Median (execution wall time - time in steps) / steps, in ms, one execution at a time."""
    per_step = []
    for i in range(rounds):
        eid = platform.ingest(f"noop {uuid.uuid4()} {i}".encode(), "n.txt", "bench")
        finish(platform, [eid])
        rec = platform.runner.get_execution(eid)
        inside = sum(s.duration_s or 0.0 for s in rec.steps)
        wall = (rec.finished_at - rec.created_at).total_seconds()
        per_step.append((wall - inside) / NOOP_STEPS * 1000)
    return statistics.median(per_step)


def run_variant(
    label: str, docs: list[Doc], warm: list[Doc], workers: int, celery: bool, rounds: int
) -> tuple[float, float]:
    """(documents/s, median overhead per step in ms) for one runner configuration."""
    from medflow.platform import Platform, Settings

    with database() as db_url, tempfile.TemporaryDirectory() as tmp:
        broker_cm = vhost() if celery else None
        broker = broker_cm.__enter__() if broker_cm is not None else None
        env = environment(Path(tmp), db_url, broker, workers)
        saved = dict(os.environ)
        os.environ.update(env)
        procs: list[subprocess.Popen[bytes]] = []
        try:
            settings = Settings()
            platform = Platform(settings, pipelines=pipelines(settings))
            if celery:
                worker_env = {**saved, **env, "PYTHONPATH": str(ROOT / "src")}
                for _ in range(workers):
                    procs.append(
                        subprocess.Popen(
                            [sys.executable, __file__, "--worker"],
                            env=worker_env,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                        )
                    )
            platform.start(inbox=False)
            finish(platform, ingest_all(platform, warm))  # models loaded, workers connected
            began = time.perf_counter()
            finish(platform, ingest_all(platform, docs))
            rate = len(docs) / (time.perf_counter() - began)
            overhead = step_overhead(platform, rounds)
            platform.close()
        finally:
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                p.wait(60)
            os.environ.clear()
            os.environ.update(saved)
            if broker_cm is not None:
                broker_cm.__exit__(None, None, None)
    print(f"  {label:<22} {rate:6.2f} docs/s   step overhead {overhead:7.2f} ms", flush=True)
    return rate, overhead


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=60, help="documents per variant")
    parser.add_argument("--rounds", type=int, default=30, help="no-op executions per runner")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # quarantined samples log warnings by design
    if args.worker:
        worker_main()
        return
    light = Mix(dictations=0, scanned=1, truncated=2, dicom=6, records=4)
    everything = mixed_corpus(args.docs + 16, seed=1, mix=light)
    # Warm-up: four of each kind, so every worker process has loaded every model it needs.
    warm: list[Doc] = []
    for kind in ("documents", "labs", "imaging", "records"):
        warm += [d for d in everything if d.pipeline == kind][:4]
    docs = [d for d in everything if d not in warm][: args.docs]
    print(f"scale_out: {len(docs)} documents per variant, {len(warm)} more to warm up")
    load = os.getloadavg()
    results = {
        "threads x1": run_variant("threads runner x1", docs, warm, 1, False, args.rounds),
        "threads x2": run_variant("threads runner x2", docs, warm, 2, False, args.rounds),
        "celery x1": run_variant("celery, 1 worker", docs, warm, 1, True, args.rounds),
        "celery x2": run_variant("celery, 2 workers", docs, warm, 2, True, args.rounds),
    }
    load_after = os.getloadavg()
    base = results["threads x2"][0]
    print(f"ratio celery x1 / threads x2: {results['celery x1'][0] / base:.2f}")
    print(f"ratio celery x2 / threads x2: {results['celery x2'][0] / base:.2f}")
    print(f"ratio celery x2 / celery x1:  {results['celery x2'][0] / results['celery x1'][0]:.2f}")
    celery_overhead = results["celery x1"][1]
    verdict = "PASS" if celery_overhead < 20 else "FAIL"
    print(
        f"celery step overhead {celery_overhead:.1f} ms vs threads "
        f"{results['threads x1'][1]:.1f} ms (median, target < 20 ms): {verdict}"
    )
    print(f"load average {load[0]:.1f} before, {load_after[0]:.1f} after, on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
