"""Shared test setup: every test starts with no MEDFLOW_* configuration from the environment."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _clean_medflow_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("MEDFLOW_"):
            monkeypatch.delenv(name, raising=False)
