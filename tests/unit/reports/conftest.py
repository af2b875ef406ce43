"""Shared fixtures of the report renderer tests: synthetic interpreted lab reports."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures" / "reports"))

import lab_reports

from medflow.domain.labs import LabReport


@pytest.fixture
def full_report() -> LabReport:
    """CBC + CMP + lipids with a critical potassium, censored CRP, urine protein, unknown test."""
    return lab_reports.full_report()


@pytest.fixture
def normal_report() -> LabReport:
    """Every value in range, no collection date, no patient name."""
    return lab_reports.normal_report()
