"""End-to-end helpers: run the real ``medflow`` command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import pytest


def run_medflow(
    args: Sequence[str], data_dir: Path, *, timeout: float = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m medflow ARGS`` with its data under ``data_dir``."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MEDFLOW_")}
    full_env.update({"MEDFLOW_DATA_DIR": str(data_dir), "COLUMNS": "200", **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "medflow", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        check=False,
    )


@pytest.fixture(scope="session")
def lab_samples() -> Path:
    """The bundled sample lab reports (the ones ``medflow demo`` uses)."""
    return Path(str(resources.files("medflow.samples").joinpath("labs")))
