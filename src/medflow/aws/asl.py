"""Amazon States Language (ASL) state machines generated from :class:`Pipeline` declarations.

No pipeline has hand-written ASL: each :class:`Step` becomes a ``Task`` state, in declaration
order, with

* a ``Retry`` built from the step's :class:`RetryPolicy` (``MaxAttempts`` = the policy's
  ``max_attempts - 1``, because ASL counts retries and the policy counts tries; interval,
  backoff rate 2.0 and the cap, as :meth:`RetryPolicy.delay` computes them; ``JitterStrategy``
  ``FULL`` when the policy asks for jitter), matched on :data:`RETRYABLE_ERROR` (what the
  handlers raise for a :class:`~medflow.errors.TransientError` or a step timeout) and
  ``States.Timeout``; plus AWS's recommended retrier for Lambda service errors, which are never
  the step's fault;
* a ``Catch`` on ``States.ALL`` that routes every error left (permanent, or transient with its
  tries spent) to the failure state: the pipeline's ``on_failure`` step (quarantine), or, for a
  pipeline without one, a task that records the execution as failed. Both end in a ``Fail``
  state, so the execution's status in the Step Functions console says what happened.

The state carried between states is only ``{"execution_id", "pipeline"}`` (every ``Task`` has
``ResultPath: null``): what the steps return lives in the database, exactly as under the
threads runner, so ``medflow status`` and the portal read it the same way, and the 256 KiB
payload limit of Step Functions never bites.

Where a step runs: on the pipeline's Lambda function when its timeout fits Lambda's 15 minutes
(with a margin for start-up and bookkeeping), else as a Fargate task of the same container image
that reports back with the task token (``.waitForTaskToken``). Resource names are
``${Placeholder}`` strings that CloudFormation's ``DefinitionSubstitutions`` fills in, so the
definition in the template stays a literal JSON string that cfn-lint checks (rule E3601).

References: Amazon States Language specification (states-language.net/spec.html), "Error
handling in Step Functions" (Retry/Catch fields, ``JitterStrategy``, ``MaxDelaySeconds``),
"Handle transient Lambda service exceptions" (the Lambda retrier).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Literal

from medflow.errors import PipelineDeclarationError
from medflow.platform.runner.declaration import Pipeline, RetryPolicy, Step

RETRYABLE_ERROR = "RetryableStepError"
"""The error name a handler reports for a try worth repeating (the ``errorType`` Lambda gives,
the ``error`` a Fargate task sends with its token)."""

PERMANENT_ERROR = "PermanentStepError"
"""The error name a handler reports for a failure retrying cannot mend (bad input, a bug)."""

LAMBDA_SERVICE_ERRORS = (
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)
"""Errors of the Lambda service itself (throttling, a busy fleet): retried whatever the step's
policy says, as AWS recommends for every Lambda task."""

LAMBDA_MAX_TIMEOUT_S = 900
"""Lambda's hard limit on one invocation (15 minutes)."""

LAMBDA_MARGIN_S = 30
"""Seconds a Lambda gets beyond the step's own timeout: start-up, database bookkeeping."""

FARGATE_MARGIN_S = 300
"""Seconds a Fargate task gets beyond the step's own timeout: pulling the image, starting."""

DEFAULT_STEP_TIMEOUT_S = 600
"""Used when a step declares no timeout (``timeout_s=None``): a state machine must not hang."""

QUARANTINED_STATE = "Quarantined"
FAILED_STATE = "Failed"
RECORD_FAILURE_STATE = "RecordFailure"
_RESERVED = (QUARANTINED_STATE, FAILED_STATE, RECORD_FAILURE_STATE)

Compute = Literal["lambda", "fargate"]

_PLACEHOLDER_RE = re.compile(r"\$\{([A-Za-z0-9]+)\}")


def placeholder_name(pipeline: str, role: str) -> str:
    """The substitution name for a pipeline's resource: ``placeholder_name("imaging_study",
    "Function")`` is ``ImagingStudyFunction``."""
    return "".join(part.capitalize() for part in re.split(r"[_\-]", pipeline)) + role


def compute_for(step: Step) -> Compute:
    """Where ``step`` runs: Lambda while its timeout (plus the margin) fits in 15 minutes."""
    timeout = step.retry.timeout_s
    if timeout is None:
        return "lambda"
    return "lambda" if timeout + LAMBDA_MARGIN_S <= LAMBDA_MAX_TIMEOUT_S else "fargate"


def lambda_timeout_s(step: Step) -> int:
    """The Lambda timeout for ``step`` (seconds, at most 900)."""
    timeout = step.retry.timeout_s or DEFAULT_STEP_TIMEOUT_S
    return min(LAMBDA_MAX_TIMEOUT_S, math.ceil(timeout) + LAMBDA_MARGIN_S)


def retry_block(policy: RetryPolicy) -> dict[str, Any]:
    """The ASL retrier equivalent to ``policy`` for the step's own transient errors.

    ASL's delay before retry *n* is ``IntervalSeconds * BackoffRate ** (n - 1)`` capped at
    ``MaxDelaySeconds``: the same curve as :meth:`RetryPolicy.delay` with whole seconds (ASL
    accepts integers of at least 1). ``FULL`` jitter draws each delay from [0, delay]; the
    policy's partial jitter has no ASL equivalent, so any jitter maps to ``FULL``.
    """
    block: dict[str, Any] = {
        "ErrorEquals": [RETRYABLE_ERROR, "States.Timeout"],
        "IntervalSeconds": max(1, math.ceil(policy.base_delay_s)),
        "MaxAttempts": policy.max_attempts - 1,
        "BackoffRate": 2.0,
        "MaxDelaySeconds": max(1, math.ceil(policy.max_delay_s)),
        "JitterStrategy": "FULL" if policy.jitter > 0 else "NONE",
    }
    return block


LAMBDA_RETRY: dict[str, Any] = {
    "ErrorEquals": list(LAMBDA_SERVICE_ERRORS),
    "IntervalSeconds": 2,
    "MaxAttempts": 6,
    "BackoffRate": 2.0,
    "JitterStrategy": "FULL",
}


@dataclass(frozen=True)
class Placement:
    """Where a pipeline's steps run: the placeholders a deployment substitutes.

    Attributes:
        function: the pipeline's step function (Lambda) ARN placeholder.
        failure_function: the function that runs ``on_failure`` (or records a failure).
        cluster, task_definition, subnets, security_group: the Fargate side, for long steps.
        container: the container's name in the task definition.
    """

    function: str
    failure_function: str
    cluster: str = "${Cluster}"
    task_definition: str = "${TaskDefinition}"
    subnets: tuple[str, ...] = ("${Subnet1}", "${Subnet2}")
    security_group: str = "${TaskSecurityGroup}"
    container: str = "medflow"

    @classmethod
    def for_pipeline(cls, pipeline: str) -> Placement:
        """The default placeholders of ``pipeline`` (see :func:`placeholder_name`)."""
        return cls(
            function="${" + placeholder_name(pipeline, "Function") + "}",
            failure_function="${FailureFunction}",
        )


def _payload(pipeline: str, step: str) -> dict[str, Any]:
    return {
        "execution_id.$": "$.execution_id",
        "pipeline": pipeline,
        "step": step,
        # The execution's ARN holds the database lease for its whole run; RetryCount + 1 is
        # the try's number, as the threads runner records it.
        "owner.$": "$$.Execution.Id",
        "retry_count.$": "$$.State.RetryCount",
    }


def _lambda_task(function: str, payload: dict[str, Any], timeout_s: int) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": function, "Payload": payload},
        "ResultPath": None,
        "TimeoutSeconds": timeout_s + 10,
    }


def _fargate_task(place: Placement, pipeline: str, step: Step) -> dict[str, Any]:
    timeout = math.ceil(step.retry.timeout_s or DEFAULT_STEP_TIMEOUT_S)
    env = [
        {"Name": "MEDFLOW_TASK_EXECUTION_ID", "Value.$": "$.execution_id"},
        {"Name": "MEDFLOW_TASK_PIPELINE", "Value": pipeline},
        {"Name": "MEDFLOW_TASK_STEP", "Value": step.name},
        {"Name": "MEDFLOW_TASK_OWNER", "Value.$": "$$.Execution.Id"},
        {"Name": "MEDFLOW_TASK_RETRY_COUNT", "Value.$": "States.Format('{}', $$.State.RetryCount)"},
        {"Name": "MEDFLOW_TASK_TOKEN", "Value.$": "$$.Task.Token"},
    ]
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::ecs:runTask.waitForTaskToken",
        "Parameters": {
            "Cluster": place.cluster,
            "TaskDefinition": place.task_definition,
            "LaunchType": "FARGATE",
            "NetworkConfiguration": {
                "AwsvpcConfiguration": {
                    "Subnets": list(place.subnets),
                    "SecurityGroups": [place.security_group],
                    "AssignPublicIp": "DISABLED",
                }
            },
            "Overrides": {
                "ContainerOverrides": [
                    {
                        "Name": place.container,
                        "Command": ["python", "-m", "medflow.aws.task"],
                        "Environment": env,
                    }
                ]
            },
        },
        "ResultPath": None,
        "TimeoutSeconds": timeout + FARGATE_MARGIN_S,
    }


def _step_state(place: Placement, pipeline: Pipeline, step: Step) -> dict[str, Any]:
    if compute_for(step) == "fargate":
        state = _fargate_task(place, pipeline.name, step)
        state["Retry"] = [retry_block(step.retry)]
    else:
        state = _lambda_task(
            place.function, _payload(pipeline.name, step.name), lambda_timeout_s(step)
        )
        state["Retry"] = [dict(LAMBDA_RETRY), retry_block(step.retry)]
    return state


def state_machine(pipeline: Pipeline, placement: Placement | None = None) -> dict[str, Any]:
    """The ASL definition of ``pipeline`` (a JSON-serialisable dict).

    Args:
        pipeline: the declaration.
        placement: resource placeholders; default :meth:`Placement.for_pipeline`.

    Raises:
        PipelineDeclarationError: a step's name is one the generator reserves, or too long
            for an ASL state name (80 characters).
    """
    place = placement or Placement.for_pipeline(pipeline.name)
    steps = list(pipeline.steps)
    all_steps = [*steps, *([pipeline.on_failure] if pipeline.on_failure else [])]
    for step in all_steps:
        if step.name in _RESERVED:
            raise PipelineDeclarationError(
                f"pipeline {pipeline.name!r}: step name {step.name!r} is reserved by the "
                "Step Functions generator; rename the step"
            )
        if len(step.name) > 80:
            raise PipelineDeclarationError(
                f"pipeline {pipeline.name!r}: step name {step.name[:20]!r}... is over the 80 "
                "characters an ASL state name may have"
            )
    failure = pipeline.on_failure.name if pipeline.on_failure else RECORD_FAILURE_STATE
    states: dict[str, Any] = {}
    for i, step in enumerate(steps):
        state = _step_state(place, pipeline, step)
        state["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": failure}]
        if i + 1 < len(steps):
            state["Next"] = steps[i + 1].name
        else:
            state["End"] = True
        states[step.name] = state

    # The failure path: the on_failure step (or, without one, a task that closes the execution
    # as failed in the database) runs on the failure function with its own retry policy.
    fstep = pipeline.on_failure
    policy = fstep.retry if fstep is not None else RetryPolicy(max_attempts=3)
    timeout = lambda_timeout_s(fstep) if fstep is not None else 120
    fail_task = _lambda_task(
        place.failure_function,
        {**_payload(pipeline.name, fstep.name if fstep else ""), "error.$": "$.error"},
        timeout,
    )
    fail_task["Retry"] = [dict(LAMBDA_RETRY), retry_block(policy)]
    fail_task["Catch"] = [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure_error", "Next": FAILED_STATE}
    ]
    fail_task["Next"] = QUARANTINED_STATE if fstep is not None else FAILED_STATE
    states[failure] = fail_task
    if fstep is not None:
        states[QUARANTINED_STATE] = {
            "Type": "Fail",
            "Error": "medflow.Quarantined",
            "Cause": f"a step of {pipeline.name} failed permanently; the input was quarantined "
            "with its reason",
        }
    states[FAILED_STATE] = {
        "Type": "Fail",
        "Error": "medflow.Failed",
        "Cause": f"a step of {pipeline.name} failed and the failure could not be handled",
    }
    return {
        "Comment": f"medflow pipeline {pipeline.name} version {pipeline.version}, generated "
        "from its declaration",
        "StartAt": steps[0].name,
        "TimeoutSeconds": _execution_timeout(pipeline),
        "States": states,
    }


def _execution_timeout(pipeline: Pipeline) -> int:
    """An upper bound on one execution: every try of every step at its timeout and longest
    delay, then the failure path. A state machine with no bound could run for a year."""
    total = 0.0
    for step in (*pipeline.steps, *([pipeline.on_failure] if pipeline.on_failure else [])):
        timeout = (step.retry.timeout_s or DEFAULT_STEP_TIMEOUT_S) + FARGATE_MARGIN_S
        total += step.retry.max_attempts * (timeout + step.retry.max_delay_s)
    return math.ceil(total) + 3600


def placeholders(definition: dict[str, Any]) -> set[str]:
    """Every ``${Name}`` placeholder the definition uses."""
    import json

    return set(_PLACEHOLDER_RE.findall(json.dumps(definition)))


def substitute(definition: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    """The definition with its placeholders replaced (what CloudFormation does at deploy).

    Raises:
        KeyError: a placeholder has no value.
    """
    import json

    missing = placeholders(definition) - set(values)
    if missing:
        raise KeyError(f"no value for placeholders: {', '.join(sorted(missing))}")
    text = _PLACEHOLDER_RE.sub(lambda m: values[m.group(1)], json.dumps(definition))
    result: dict[str, Any] = json.loads(text)
    return result
