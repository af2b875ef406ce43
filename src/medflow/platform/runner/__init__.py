"""Runners: pipelines declared as data, run step by step with retries, durable in the database."""

from medflow.platform.runner.base import Runner
from medflow.platform.runner.context import Services, StepContext
from medflow.platform.runner.declaration import NO_RETRY, Pipeline, RetryPolicy, Step
from medflow.platform.runner.registry import PipelineRegistry, UnknownPipelineError
from medflow.platform.runner.steps import StepExecutor, StepOutputError, call_with_timeout
from medflow.platform.runner.threads import ThreadRunner

__all__ = [
    "NO_RETRY",
    "Pipeline",
    "PipelineRegistry",
    "RetryPolicy",
    "Runner",
    "Services",
    "Step",
    "StepContext",
    "StepExecutor",
    "StepOutputError",
    "ThreadRunner",
    "UnknownPipelineError",
    "call_with_timeout",
]
