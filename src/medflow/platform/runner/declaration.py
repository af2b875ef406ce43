"""Pipelines declared as data: an ordered list of named steps, each with its retry policy.

One declaration runs on every runner (threads in process, Celery workers, a Step Functions state
machine). A step is a plain function ``(StepContext) -> dict | None``: it reads what earlier steps
produced from ``ctx.state``, and returns the JSON-serialisable values it adds. Steps must be
idempotent: running one twice for the same document gives the same rows, not two copies.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from medflow.errors import PipelineDeclarationError

if TYPE_CHECKING:
    from medflow.platform.runner.context import StepContext

JSONValue = Any
"""A value that survives ``json.dumps`` (the state travels through databases and queues)."""

StepFn = Callable[["StepContext"], Mapping[str, JSONValue] | None]


@dataclass(frozen=True)
class RetryPolicy:
    """When and how a step is retried after a :class:`~medflow.errors.TransientError`.

    Attributes:
        max_attempts: total tries, the first included.
        base_delay_s: the delay before the second try; doubles on each further try.
        max_delay_s: the cap on one delay.
        jitter: the fraction of each delay drawn at random (0.5: between 50% and 100%),
            so that many failing jobs do not retry in lock-step ("full jitter" family).
        timeout_s: how long one try may run before it counts as a transient failure; None
            for no limit.
    """

    max_attempts: int = 3
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    jitter: float = 0.5
    timeout_s: float | None = 300.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise PipelineDeclarationError("max_attempts must be at least 1")
        if self.base_delay_s < 0 or self.max_delay_s < 0:
            raise PipelineDeclarationError("delays must not be negative")
        if not 0 <= self.jitter <= 1:
            raise PipelineDeclarationError("jitter must lie between 0 and 1")
        if self.timeout_s is not None and self.timeout_s <= 0:
            raise PipelineDeclarationError("timeout_s must be positive")

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before try ``attempt + 1``, after try ``attempt`` (1-based) failed."""
        raw = min(self.max_delay_s, self.base_delay_s * 2.0 ** (attempt - 1))
        r = rng.random() if rng is not None else random.random()
        return raw * (1 - self.jitter) + raw * self.jitter * r


NO_RETRY = RetryPolicy(max_attempts=1)


@dataclass(frozen=True)
class Step:
    """A named step of a pipeline.

    Attributes:
        name: unique within the pipeline; recorded on every step run.
        fn: the work.
        retry: the retry policy for transient errors.
    """

    name: str
    fn: StepFn
    retry: RetryPolicy = field(default_factory=RetryPolicy)


@dataclass(frozen=True)
class Pipeline:
    """An ordered list of steps plus the step that runs on a permanent failure.

    Attributes:
        name: the pipeline's name (``"labs"``), used by triggers and in records.
        version: bump it when results would change; a document already processed by the same
            pipeline version (same sha256) is not processed again.
        steps: run in order; each sees the state the earlier ones returned.
        on_failure: the quarantine step, run once when a step fails permanently; it finds the
            error in ``ctx.state["error"]`` (``{"step", "type", "message"}``).
    """

    name: str
    version: str
    steps: tuple[Step, ...]
    on_failure: Step | None = None

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("_", "").replace("-", "").isalnum():
            raise PipelineDeclarationError(f"bad pipeline name {self.name!r}")
        if not self.steps:
            raise PipelineDeclarationError(f"pipeline {self.name!r} has no steps")
        names = [s.name for s in self.steps]
        if self.on_failure is not None:
            names.append(self.on_failure.name)
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise PipelineDeclarationError(
                f"pipeline {self.name!r} declares step names twice: {', '.join(dupes)}"
            )

    def step(self, name: str) -> Step:
        """The step called ``name``; raises PipelineDeclarationError if there is none."""
        for s in self.steps:
            if s.name == name:
                return s
        if self.on_failure is not None and self.on_failure.name == name:
            return self.on_failure
        raise PipelineDeclarationError(f"pipeline {self.name!r} has no step {name!r}")
