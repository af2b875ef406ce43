"""Shared fixtures: the admissions generator (tests/fixtures/records) and small CSV writers."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

_GENERATOR = Path(__file__).parents[3] / "fixtures" / "records" / "generate_admissions.py"


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_admissions", _GENERATOR)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["generate_admissions"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def generator() -> ModuleType:
    """The fixture generator module."""
    return _load_generator()


@pytest.fixture(scope="session")
def admissions_20k(
    tmp_path_factory: pytest.TempPathFactory, generator: ModuleType
) -> tuple[Path, dict[str, Any]]:
    """A ~20k-row admissions CSV with injected problems, and its ground truth."""
    path = tmp_path_factory.mktemp("adm") / "admissions.csv"
    generator.generate(20_000, 11, path)
    truth = json.loads(path.with_suffix(".truth.json").read_text(encoding="utf-8"))
    return path, truth
