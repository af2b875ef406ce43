"""Plausibility limits by meaning and unit, read from ``data/clinical_limits.yaml``."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

_PACKAGE = "medflow.analyzers.records"


@cache
def clinical_limits() -> dict[str, Any]:
    """The whole limits file (limits, quantities, unit_by_median, canonical, dates)."""
    ref = resources.files(_PACKAGE).joinpath("data", "clinical_limits.yaml")
    data: dict[str, Any] = yaml.safe_load(ref.read_text(encoding="utf-8"))
    return data


def plausible_range(meaning: str, unit: str | None) -> tuple[float, float] | None:
    """(low, high) outside which a value of ``meaning`` in ``unit`` cannot be a patient's."""
    by_unit = clinical_limits()["limits"].get(meaning)
    if not by_unit:
        return None
    if unit is None:
        return None
    pair = by_unit.get(unit)
    if pair is None:
        return None
    return float(pair[0]), float(pair[1])


def canonical_unit(meaning: str) -> str | None:
    """The unit a vital's other units convert to (``kg`` for weight)."""
    value = clinical_limits()["canonical"].get(meaning)
    return str(value) if value is not None else None


def quantity(meaning: str) -> str | None:
    """The quantity in ``units.yaml`` a vital's unit column converts within, if any."""
    value = clinical_limits()["quantities"].get(meaning)
    return str(value) if value is not None else None


def date_bounds(meaning: str) -> tuple[str, str] | None:
    """(earliest, latest) for a date of this meaning (ISO dates or ``today``)."""
    pair = clinical_limits()["dates"].get(meaning)
    return (str(pair[0]), str(pair[1])) if pair else None
