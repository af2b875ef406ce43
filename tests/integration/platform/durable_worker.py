"""A process running a ThreadRunner until no work is left; killed and restarted by the test.

Usage: python durable_worker.py DATA_DIR LEDGER_FILE

Every step sleeps, replaces its rows (idempotent), then appends ``<sha256> <step>`` to the
ledger file: the side effect that shows which steps ran how often.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from medflow.platform import Pipeline, Platform, RetryPolicy, Settings, Step, StepContext
from medflow.platform.db import Observation

STEP_S = 0.25
POLICY = RetryPolicy(max_attempts=3, base_delay_s=0.05, timeout_s=30)


def make_step(name: str, ledger: Path) -> Step:
    def run(ctx: StepContext) -> dict[str, str]:
        time.sleep(STEP_S)
        assert ctx.document_id is not None
        ctx.services.db.results.replace_observations(
            ctx.document_id, [Observation(name=name, value=1.0, test_id=name)] * 2
        )
        fd = os.open(ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{ctx.event['sha256']} {name}\n".encode())
        finally:
            os.close(fd)
        return {name: "done"}

    return Step(name, run, POLICY)


def pipeline(ledger: Path) -> Pipeline:
    """Three slow, idempotent steps."""
    return Pipeline("slow", "1", tuple(make_step(n, ledger) for n in ("one", "two", "three")))


def settings(data_dir: Path) -> Settings:
    """Short leases so a dead worker's jobs are taken over quickly."""
    runner = {"workers": 2, "lease_s": 1.0, "heartbeat_s": 0.2, "poll_s": 0.05}
    return Settings(data_dir=data_dir, runner=runner)


def main() -> int:
    data_dir, ledger = Path(sys.argv[1]), Path(sys.argv[2])
    with Platform(settings(data_dir), pipelines=[pipeline(ledger)]) as platform:
        platform.start(inbox=False)
        executions = platform.services.db.executions
        while True:
            counts = executions.counts()
            if counts.get("pending", 0) + counts.get("running", 0) == 0:
                return 0
            time.sleep(0.1)


if __name__ == "__main__":
    raise SystemExit(main())
