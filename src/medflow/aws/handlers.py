"""AWS Lambda entry points. Thin, like ``cli`` and ``web``: read the event, call the platform.

One container image holds them all; each function of the CDK app names its handler as the
image's command (``medflow.aws.handlers.step``...):

* :func:`ingest`: S3 ``ObjectCreated`` events on the raw bucket (delivered through SQS, or
  directly) -> the document is recorded and the pipeline's state machine started;
* :func:`step`: one step of one execution, for the pipeline's Task states;
* :func:`failure`: the pipeline's ``on_failure`` step (quarantine) after a ``Catch``;
* :func:`sweep`: the imaging study sweep (EventBridge schedule) -> ``imaging_study`` runs;
* :func:`retry_notifications`: failed emails sent again (EventBridge schedule);
* :func:`migrate`: the database schema brought to the newest migration (run on deploy).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from typing import Any

from medflow.aws.runtime import runtime
from medflow.aws.steps import StepTask, run_failure, run_step
from medflow.errors import TransientError
from medflow.platform.storage.s3_events import records_of

log = logging.getLogger("medflow.aws")
logging.getLogger().setLevel(logging.INFO)


def s3_records(event: Mapping[str, Any]) -> Iterator[tuple[str | None, str, str, str]]:
    """``(sqs message id or None, event name, bucket, key)`` for every S3 record in ``event``.

    Accepts an SQS batch of S3 event notifications (what the CDK app wires: S3 -> SQS ->
    this function) and a bare S3 event (S3 -> Lambda). S3's ``s3:TestEvent`` gives nothing.
    """
    for record in event.get("Records", []):
        if record.get("eventSource") == "aws:sqs":
            message_id = record.get("messageId")
            for name, bucket, key in records_of(record.get("body") or "{}"):
                yield message_id, name, bucket, key
        else:
            for name, bucket, key in records_of(json.dumps({"Records": [record]})):
                yield None, name, bucket, key


def ingest(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    """Submit every created object to its pipeline.

    Returns:
        ``{"executions": [...], "batchItemFailures": [...]}``: SQS redelivers only the
        messages listed as failed (transient errors); the rest are deleted. A message that
        keeps failing goes to the dead-letter queue.
    """
    rt = runtime()
    executions: list[str] = []
    failures: list[dict[str, str]] = []
    for message_id, name, bucket, key in s3_records(event):
        try:
            execution_id = rt.ingest(name, bucket, key)
        except TransientError:
            log.exception("object %s/%s: not submitted; will be redelivered", bucket, key)
            if message_id is None:
                raise
            failures.append({"itemIdentifier": message_id})
            continue
        if execution_id is not None:
            executions.append(execution_id)
    return {"executions": executions, "batchItemFailures": failures}


def step(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    """Run the step named in the task payload (see :func:`medflow.aws.steps.run_step`)."""
    rt = runtime()
    return run_step(rt.services, rt.registry, StepTask.from_payload(event))


def failure(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    """Quarantine a failed execution (see :func:`medflow.aws.steps.run_failure`)."""
    rt = runtime()
    return run_failure(rt.services, rt.registry, StepTask.from_payload(event))


def sweep(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    """Start ``imaging_study`` for every study quiet for ``imaging.quiet_s``."""
    from medflow.pipelines.imaging import STUDY_PIPELINE, submit_stable_studies

    rt = runtime()
    if STUDY_PIPELINE not in rt.registry:
        return {"executions": []}
    ids = submit_stable_studies(rt.services.store, rt.runner, rt.services.settings.imaging.quiet_s)
    return {"executions": ids}


def retry_notifications(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    """Send the failed notifications that are due again."""
    rt = runtime()
    return {"retried": rt.services.notifier.retry_failed()}


def migrate(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    """Bring the database to the newest migration (opening it migrates; this reports where
    it stands)."""
    rt = runtime()
    return {"revision": rt.services.db.revision()}
