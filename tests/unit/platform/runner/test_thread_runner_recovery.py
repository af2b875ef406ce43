"""ThreadRunner behaviour beyond the port contract: surviving its own bugs, stop/start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from medflow.platform import Pipeline, Platform, RetryPolicy, Settings, Step, StepContext
from medflow.platform.runner import ThreadRunner

FAST = RetryPolicy(max_attempts=2, base_delay_s=0.01, timeout_s=10)


def _platform(tmp_path: Path, calls: list[str]) -> Platform:
    def work(ctx: StepContext) -> dict[str, Any]:
        calls.append(ctx.execution_id)
        return {"ok": True}

    runner = {"workers": 1, "lease_s": 0.5, "heartbeat_s": 0.1, "poll_s": 0.02}
    settings = Settings(data_dir=tmp_path, runner=runner)
    return Platform(settings, pipelines=[Pipeline("labs", "1", (Step("work", work, FAST),))])


def test_worker_survives_an_internal_error_and_the_job_is_taken_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    with _platform(tmp_path, calls) as platform:
        runner = platform.runner
        assert isinstance(runner, ThreadRunner)
        original = runner._run_steps
        failures = [RuntimeError("bug in bookkeeping")]

        def flaky(*args: Any) -> None:
            if failures:
                raise failures.pop()
            original(*args)

        monkeypatch.setattr(runner, "_run_steps", flaky)
        runner.start()
        first = platform.ingest(b"one", "1.pdf", "labs")
        second = platform.ingest(b"two", "2.pdf", "labs")
        assert runner.wait(first, timeout=30).status == "succeeded"
        assert runner.wait(second, timeout=30).status == "succeeded"
        assert sorted(calls) == sorted([first, second])


def test_stop_then_start_again(tmp_path: Path) -> None:
    calls: list[str] = []
    with _platform(tmp_path, calls) as platform:
        platform.runner.start()
        platform.runner.stop()
        assert not platform.runner.running
        platform.runner.start()
        assert platform.runner.running
        eid = platform.ingest(b"x", "x.pdf", "labs")
        assert platform.runner.wait(eid, timeout=30).status == "succeeded"
