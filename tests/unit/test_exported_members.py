"""The public API of ``import medflow``: every name exported, nothing private leaking."""

from __future__ import annotations

import types

import medflow


def test_all_exports_exist_and_are_public() -> None:
    for name in medflow.__all__:
        assert hasattr(medflow, name), name
    # Subpackages become attributes once anything imports them; every other public
    # attribute of the package must be a deliberate export.
    public = {
        n
        for n in dir(medflow)
        if not n.startswith("_") and not isinstance(getattr(medflow, n), types.ModuleType)
    }
    assert public <= set(medflow.__all__)


def test_every_error_is_a_medflow_error() -> None:
    errors = [getattr(medflow, n) for n in medflow.__all__ if n.endswith("Error")]
    assert errors
    assert all(issubclass(e, medflow.MedflowError) for e in errors)


def test_version_is_set() -> None:
    assert medflow.__version__.count(".") >= 2
