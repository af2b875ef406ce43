"""``StepFunctionsRunner``: the ``Runner`` port on AWS Step Functions.

``submit`` records the document and the execution in the database (as every runner does), then
starts the pipeline's state machine with ``{"execution_id", "pipeline"}``. The Step Functions
execution is named after the medflow execution, so a second start for the same execution (the
S3 event and the portal both submitting one upload) is the same Step Functions execution, not a
second run: Step Functions refuses a second execution of a name, and a repeated
``StartExecution`` with the same name and input returns the running one.

Steps run in the state machine's tasks (``medflow.aws.steps``); this process runs none, so
``run_pending``, ``start`` and ``stop`` have nothing to do. Requires the ``aws`` extra.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from medflow.errors import ConfigError, DependencyMissingError, TransientError
from medflow.platform.db import ExecutionRecord
from medflow.platform.runner.base import Runner
from medflow.platform.runner.context import Services
from medflow.platform.runner.registry import PipelineRegistry
from medflow.platform.storage import ObjectEvent

log = logging.getLogger(__name__)


class StateMachineUnavailableError(TransientError):
    """Step Functions could not be reached or throttled the start; submit again later."""


def execution_input(execution_id: str, pipeline: str) -> str:
    """The input every state machine receives (``medflow.aws.asl`` generates them)."""
    return json.dumps({"execution_id": execution_id, "pipeline": pipeline}, sort_keys=True)


class StepFunctionsRunner(Runner):
    """Starts one Step Functions execution per medflow execution.

    Args:
        services: the platform adapters (its database records executions).
        registry: the pipelines; each needs a state machine in ``state_machines``.
        state_machines: pipeline name -> state machine ARN; default
            ``services.settings.aws.state_machines``.
        client: a Step Functions client; default ``boto3.client("stepfunctions")``.
    """

    def __init__(
        self,
        services: Services,
        registry: PipelineRegistry,
        state_machines: Mapping[str, str] | None = None,
        client: Any | None = None,
    ) -> None:
        super().__init__(services, registry)
        self.state_machines = dict(
            services.settings.aws.state_machines if state_machines is None else state_machines
        )
        if client is None:
            try:
                import boto3
            except ImportError as exc:
                raise DependencyMissingError("the stepfunctions runner", "aws", "boto3") from exc
            client = boto3.client("stepfunctions")
        self._client = client

    def _arn(self, pipeline: str) -> str:
        try:
            return self.state_machines[pipeline]
        except KeyError:
            raise ConfigError(
                f"no state machine for pipeline {pipeline!r} in aws.state_machines "
                "(MEDFLOW_AWS__STATE_MACHINES); the CDK app sets it on every function"
            ) from None

    def _start(self, rec: ExecutionRecord, name: str) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            reply = self._client.start_execution(
                stateMachineArn=self._arn(rec.pipeline),
                name=name,
                input=execution_input(rec.id, rec.pipeline),
            )
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code == "ExecutionAlreadyExists":
                log.info("execution %s: state machine run %s already started", rec.id, name)
                return name
            if code in ("ThrottlingException", "ServiceUnavailable", "InternalFailure"):
                raise StateMachineUnavailableError(
                    f"Step Functions did not start execution {rec.id} ({code}); try again"
                ) from exc
            raise ConfigError(
                f"Step Functions refused to start execution {rec.id} of {rec.pipeline} ({code})"
            ) from exc
        except BotoCoreError as exc:
            raise StateMachineUnavailableError(
                f"Step Functions unreachable starting execution {rec.id} ({type(exc).__name__})"
            ) from exc
        log.info("execution %s: started %s", rec.id, reply.get("executionArn", name))
        return str(reply.get("executionArn", name))

    def submit(self, pipeline: str, event: ObjectEvent | Mapping[str, Any]) -> str:
        """See :meth:`Runner.submit`. Starts the state machine unless the execution is
        already running or over.

        Raises:
            UnknownPipelineError: no such pipeline.
            ConfigError: the pipeline has no state machine, or Step Functions refused it.
            StateMachineUnavailableError: Step Functions unreachable or throttling (the
                execution stays pending; submitting again starts it).
        """
        self._arn(pipeline)
        rec, created = self.record_submission(pipeline, event)
        if created or rec.status == "pending":
            self._start(rec, rec.id)
        return rec.id

    def retry(self, execution_id: str, from_step: int | None = None) -> ExecutionRecord:
        """See :meth:`Runner.retry`: requeued in the database, then a new state machine run
        (named ``<execution id>-retry-<n>``); the steps before ``from_step`` find their work
        done and pass straight on."""
        rec = super().retry(execution_id, from_step)
        runs = sum(1 for s in self.get_execution(execution_id).steps if s.status != "running")
        self._start(rec, f"{rec.id}-retry-{runs}")
        return rec

    def run_pending(self, limit: int | None = None) -> int:
        """Nothing runs in this process: Step Functions runs the steps."""
        return 0

    def start(self) -> None:
        """Nothing to start: the state machines are always there."""

    def stop(self, timeout: float = 30.0) -> None:
        """Nothing to stop."""

    @property
    def running(self) -> bool:
        """Always True: Step Functions works whether this process waits or not."""
        return True
