"""Cost of the durable runner: executions per second for a 4-step pipeline whose steps do
nothing, on the embedded default (SQLite in a temporary folder).

Run: ``.venv/bin/python benchmarks/platform_runner.py [N]``

Measured in the same run:
1. baselines: the four step functions called directly (no database, no durability), and one
   bare SQLAlchemy Core ``UPDATE`` transaction on the same kind of SQLite file (the unit the
   runner's cost is best counted in, since it does not depend on how busy the machine is);
2. ThreadRunner, driven inline (``run_pending``) after ``submit``: document row, execution row,
   one step run per step, state saved after each step, lease claimed and released;
3. ThreadRunner with 2 worker threads.
The runner's per-execution overhead is what a real pipeline pays on top of its own work; the
labs target (20 text reports/s on one core) leaves 50 ms per report for everything.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import update

from medflow.platform import Pipeline, Platform, RetryPolicy, Settings, Step, StepContext
from medflow.platform.db import Database
from medflow.platform.db.models import ExecutionRow

N = int(sys.argv[1]) if len(sys.argv) > 1 else 200
NO_TIMEOUT = RetryPolicy(timeout_s=None)
TIMEOUT = RetryPolicy(timeout_s=60)


def noop(ctx: StepContext) -> dict[str, int]:
    return {ctx.step: ctx.attempt}


def pipeline(policy: RetryPolicy) -> Pipeline:
    return Pipeline("bench", "1", tuple(Step(f"s{i}", noop, policy) for i in range(4)))


def run(platform: Platform, label: str, workers: bool) -> float:
    start = time.perf_counter()
    ids = [platform.ingest(f"doc {label} {i}".encode(), f"{i}.txt", "bench") for i in range(N)]
    if workers:
        platform.start(inbox=False)
    for eid in ids:
        platform.runner.wait(eid, timeout=600, poll_s=0.005)
    elapsed = time.perf_counter() - start
    platform.stop()
    return N / elapsed


def main() -> None:
    class FakeCtx:
        step = "s"
        attempt = 1

    start = time.perf_counter()
    for _ in range(N):
        for _ in range(4):
            noop(FakeCtx())  # type: ignore[arg-type]
    direct = N / (time.perf_counter() - start)

    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/bare.db")
        e, _ = db.executions.submit(sha256="0" * 64, pipeline="b", pipeline_version="1", event={})
        start = time.perf_counter()
        for i in range(N):
            with db.engine.begin() as conn:
                conn.execute(
                    update(ExecutionRow).where(ExecutionRow.id == e.id).values(progress=i / N)
                )
        tx_ms = (time.perf_counter() - start) / N * 1000
        db.close()

    print(f"{N} executions of a 4-step no-op pipeline")
    print(f"baseline, direct calls: {direct:,.0f} executions/s")
    print(f"baseline, one bare SQLite UPDATE transaction: {tx_ms:.2f} ms")
    for label, policy, workers in (
        ("inline, no step timeout", NO_TIMEOUT, False),
        ("inline, step timeout (thread per step)", TIMEOUT, False),
        ("2 worker threads, step timeout", TIMEOUT, True),
    ):
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(data_dir=Path(tmp), runner={"workers": 2, "poll_s": 0.01})
            with Platform(settings, pipelines=[pipeline(policy)]) as platform:
                rate = run(platform, label, workers)
        ms = 1000 / rate
        print(
            f"ThreadRunner, {label}: {rate:,.1f} executions/s ({ms:.1f} ms each, "
            f"= {ms / tx_ms:.1f} bare transactions; {direct / rate:,.0f}x the direct calls)"
        )


if __name__ == "__main__":
    main()
