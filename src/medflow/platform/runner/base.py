"""The ``Runner`` port: submit an event to a pipeline, run it step by step, report on it.

Every adapter keeps executions in the database (``executions`` and ``step_runs``), so status
queries work the same whoever ran the steps, and passes ``tests/contract/test_runner.py``.
"""

from __future__ import annotations

import builtins
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from medflow.errors import StepTimeoutError
from medflow.platform.db import ExecutionRecord
from medflow.platform.runner.context import Services
from medflow.platform.runner.registry import PipelineRegistry
from medflow.platform.storage import ObjectEvent

log = logging.getLogger(__name__)


class Runner(ABC):
    """Runs registered pipelines for object events.

    Args:
        services: the platform adapters handed to every step.
        registry: the pipelines this runner can run.
    """

    def __init__(self, services: Services, registry: PipelineRegistry) -> None:
        self.services = services
        self.registry = registry

    @abstractmethod
    def submit(self, pipeline: str, event: ObjectEvent | Mapping[str, Any]) -> str:
        """Record a document and a pending execution for it; return the execution id.

        Submitting the same bytes (sha256) to the same pipeline version again returns the
        existing execution: nothing is processed twice.

        Raises:
            UnknownPipelineError: no such pipeline.
            ValueError: the event lacks bucket, key, sha256 or size.
        """

    def _record_submission(
        self, pipeline: str, event: ObjectEvent | Mapping[str, Any]
    ) -> tuple[ExecutionRecord, bool]:
        """The database half of :meth:`submit`, the same for every runner: the document and a
        pending execution, or the existing execution for these bytes and pipeline version.

        Returns:
            The execution and whether it was created now.
        """
        p = self.registry.get(pipeline)
        ev = event if isinstance(event, ObjectEvent) else ObjectEvent.from_dict(event)
        meta = dict(ev.metadata)
        try:
            content_type = self.services.store.head(ev.bucket, ev.key).content_type
        except LookupError:
            content_type = ""
        rec, created = self.services.db.executions.submit(
            sha256=ev.sha256,
            pipeline=p.name,
            pipeline_version=p.version,
            event=ev.to_dict(),
            document={
                "bucket": ev.bucket,
                "key": ev.key,
                "size": ev.size,
                "filename": meta.get("filename", ""),
                "content_type": content_type or "application/octet-stream",
                "pipeline": p.name,
                "patient_id": meta.get("patient_id") or None,
                "meta": meta,
            },
        )
        if created:
            log.info("execution %s submitted: %s for document %s", rec.id, p.name, rec.document_id)
        else:
            log.info(
                "document %s already submitted to %s %s as execution %s; not processed again",
                rec.document_id,
                p.name,
                p.version,
                rec.id,
            )
        return rec, created

    @abstractmethod
    def run_pending(self, limit: int | None = None) -> int:
        """Run due executions in the calling thread until none is due; return how many ran."""

    @abstractmethod
    def start(self) -> None:
        """Start working in the background (idempotent)."""

    @abstractmethod
    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking work; wait up to ``timeout`` for steps in flight."""

    @property
    @abstractmethod
    def running(self) -> bool:
        """Whether background workers are running."""

    def get_execution(self, execution_id: str) -> ExecutionRecord:
        """The execution with its step runs. Raises RecordNotFoundError."""
        return self.services.db.executions.get(execution_id)

    def list_executions(
        self,
        *,
        status: str | None = None,
        pipeline: str | None = None,
        document_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[ExecutionRecord]:
        """Executions newest first, with their step runs."""
        return self.services.db.executions.list(
            status=status,
            pipeline=pipeline,
            document_id=document_id,
            limit=limit,
            offset=offset,
            with_steps=True,
        )

    def retry(self, execution_id: str, from_step: int | None = None) -> ExecutionRecord:
        """Run a finished (failed or quarantined) execution again.

        Args:
            execution_id: the execution.
            from_step: the step index to restart at (0: from the start); default the step it
                stopped at.

        Raises:
            RecordNotFoundError: no such execution.
            ValueError: it is still pending or running.
        """
        return self.services.db.executions.requeue(execution_id, from_step)

    def wait(
        self, execution_id: str, timeout: float = 60.0, poll_s: float = 0.05
    ) -> ExecutionRecord:
        """Block until the execution is finished; return it with its step runs.

        When no background worker runs, the waiting thread does the work itself
        (:meth:`run_pending`), so scripts and the CLI need not start the runner.

        Raises:
            StepTimeoutError: not finished within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            if not self.running:
                self.run_pending()
            rec = self.get_execution(execution_id)
            if rec.done:
                return rec
            if time.monotonic() >= deadline:
                raise StepTimeoutError(
                    f"execution {execution_id} still {rec.status} after {timeout:.0f} s"
                )
            time.sleep(poll_s)
