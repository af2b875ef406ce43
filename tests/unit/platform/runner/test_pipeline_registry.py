"""The pipeline registry and the step timeout helper."""

from __future__ import annotations

import pytest

from medflow.errors import PipelineDeclarationError, StepTimeoutError
from medflow.platform.runner import (
    Pipeline,
    PipelineRegistry,
    RetryPolicy,
    Step,
    UnknownPipelineError,
)

P1 = Pipeline("labs", "1", (Step("a", lambda ctx: None),))


def test_register_get_names_contains() -> None:
    reg = PipelineRegistry([P1])
    assert reg.get("labs") is P1
    assert reg.names() == ["labs"]
    assert "labs" in reg
    assert "records" not in reg


def test_same_name_twice_is_refused_unless_replacing() -> None:
    reg = PipelineRegistry([P1])
    reg.register(P1)
    p2 = Pipeline("labs", "2", (Step("a", lambda ctx: None),))
    with pytest.raises(PipelineDeclarationError, match="registered twice"):
        reg.register(p2)
    reg.register(p2, replace=True)
    assert reg.get("labs").version == "2"


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(UnknownPipelineError, match="registered: labs"):
        PipelineRegistry([P1]).get("dictation")


def test_timeout_policy_validation() -> None:
    with pytest.raises(PipelineDeclarationError):
        RetryPolicy(timeout_s=0)
    assert issubclass(StepTimeoutError, TimeoutError)
