"""Shared fixtures: the admissions generator (tests/fixtures/records) and small CSV writers."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

_FIXTURES = Path(__file__).parents[3] / "fixtures" / "records"


def load_fixture_script(name: str) -> ModuleType:
    """A generator script of ``tests/fixtures/records`` as a module."""
    spec = importlib.util.spec_from_file_location(name, _FIXTURES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def generator() -> ModuleType:
    """The admissions generator module."""
    return load_fixture_script("generate_admissions")


@pytest.fixture(scope="session")
def synthea() -> ModuleType:
    """The Synthea-style export generator module."""
    return load_fixture_script("generate_synthea")


@pytest.fixture(scope="session")
def admissions_20k(
    tmp_path_factory: pytest.TempPathFactory, generator: ModuleType
) -> tuple[Path, dict[str, Any]]:
    """A ~20k-row admissions CSV with injected problems, and its ground truth."""
    path = tmp_path_factory.mktemp("adm") / "admissions.csv"
    generator.generate(20_000, 11, path)
    truth = json.loads(path.with_suffix(".truth.json").read_text(encoding="utf-8"))
    return path, truth
