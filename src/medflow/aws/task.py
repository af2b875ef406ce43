"""A step too long for Lambda, run as a Fargate task of the same image (``python -m
medflow.aws.task``).

The state machine starts the task with ``ecs:runTask.waitForTaskToken`` and passes the step in
``MEDFLOW_TASK_*`` environment variables (see :mod:`medflow.aws.asl`); the task runs it as the
Lambda handler would and answers with the token: ``SendTaskSuccess``, or ``SendTaskFailure``
with the same error names the Lambda handler raises, so the state's ``Retry`` and ``Catch``
treat both alike.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping
from typing import Any

from medflow.aws.steps import PermanentStepError, RetryableStepError, StepTask, run_step

log = logging.getLogger("medflow.aws.task")


def task_from_environment(env: Mapping[str, str]) -> tuple[StepTask, str]:
    """The step and the task token named by ``env``.

    Raises:
        PermanentStepError: a variable is missing.
    """
    token = env.get("MEDFLOW_TASK_TOKEN", "")
    task = StepTask.from_payload(
        {
            "execution_id": env.get("MEDFLOW_TASK_EXECUTION_ID"),
            "pipeline": env.get("MEDFLOW_TASK_PIPELINE"),
            "step": env.get("MEDFLOW_TASK_STEP"),
            "owner": env.get("MEDFLOW_TASK_OWNER"),
            "retry_count": env.get("MEDFLOW_TASK_RETRY_COUNT") or 0,
        }
    )
    if not token or task.execution_id == "None":
        raise PermanentStepError(
            json.dumps(
                {
                    "step": task.step,
                    "type": "BadTaskEnvironment",
                    "message": "MEDFLOW_TASK_TOKEN or MEDFLOW_TASK_EXECUTION_ID is not set",
                }
            )
        )
    return task, token


def run(env: Mapping[str, str], client: Any | None = None) -> int:
    """Run the step and report it with the task token; returns the process exit status."""
    from medflow.aws.runtime import runtime

    if client is None:
        import boto3

        client = boto3.client("stepfunctions")
    task, token = task_from_environment(env)
    try:
        rt = runtime()
        output = run_step(rt.services, rt.registry, task)
    except (RetryableStepError, PermanentStepError) as exc:
        client.send_task_failure(taskToken=token, error=type(exc).__name__, cause=str(exc))
        return 1
    except Exception as exc:  # a bug or a lost database: worth another try
        log.exception("step %s of execution %s crashed", task.step, task.execution_id)
        cause = json.dumps(
            {"step": task.step, "type": type(exc).__name__, "message": str(exc)[:2000]}
        )
        client.send_task_failure(taskToken=token, error=RetryableStepError.__name__, cause=cause)
        return 1
    client.send_task_success(taskToken=token, output=json.dumps(output))
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    sys.exit(run(os.environ))
