"""One ClinicalExtractor for the whole clinical test session (it takes seconds to build)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from medflow.analyzers.clinical import ClinicalExtractor

FIXTURES = Path(__file__).resolve().parents[4] / "tests" / "fixtures" / "clinical"


@pytest.fixture(scope="session")
def extractor() -> ClinicalExtractor:
    return ClinicalExtractor()


@pytest.fixture(scope="session")
def gold() -> list[dict[str, Any]]:
    lines = (FIXTURES / "annotated.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]
