"""Shared fixtures of the imaging tests: synthetic files built by tests/fixtures/imaging."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "fixtures" / "imaging"))

import imaging_fixtures

from medflow.analyzers.imaging.deid import Deidentifier
from medflow.domain.imaging import DeidOptions

SECRET = b"test-site-secret-0123456789abcdef"


@pytest.fixture
def fx() -> object:
    """The synthetic fixture builders (module ``imaging_fixtures``)."""
    return imaging_fixtures


@pytest.fixture
def deid() -> Deidentifier:
    """A de-identifier with the default options and OCR off (OCR has its own tests)."""
    return Deidentifier(SECRET, DeidOptions(burned_in_text="off"))
