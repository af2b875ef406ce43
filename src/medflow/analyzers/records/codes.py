"""Code-set membership: ICD-10-CM (FY2026, simple-icd-10-cm) and LOINC.

Checks run on the distinct values of a column, never per row, so a 10-million-row file with a few
thousand distinct codes costs a few thousand look-ups.

LOINC: every code must have the ``NNNNN-N`` shape and a correct mod-10 check digit (LOINC Users'
Guide, section 12.5 "Calculating Mod 10 check digits"); when medflow's labs knowledge base is
installed, the code must also be one it knows. The knowledge base is read loosely (any YAML, JSON
or CSV under ``medflow/analyzers/labs/knowledge/`` with ``loinc`` fields), so this module does not
depend on the labs analyzer's loader.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from functools import cache
from importlib import resources
from typing import Any

import yaml

from medflow.errors import DependencyMissingError

_LOINC_SHAPE = re.compile(r"^[0-9]{1,7}-[0-9]$")
_LABS_PACKAGE = "medflow.analyzers.labs"
_KB_SUFFIXES = (".yaml", ".yml", ".json", ".csv")


def loinc_check_digit_ok(code: str) -> bool:
    """Whether ``code`` has the LOINC shape and a correct mod-10 check digit.

    The algorithm (LOINC Users' Guide 12.5): take the digits before the hyphen; from the right,
    double every other digit starting with the rightmost; add all the digits of the results and
    the untouched digits; the check digit is ``(10 - sum % 10) % 10``.
    """
    if not _LOINC_SHAPE.match(code):
        return False
    body, check = code.split("-")
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d = d // 10 + d % 10
        total += d
    return (10 - total % 10) % 10 == int(check)


def _walk_loinc(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if str(key).lower() in {"loinc", "loinc_code", "code"} and isinstance(value, str):
                yield value.strip()
            elif isinstance(key, str) and _LOINC_SHAPE.match(key):
                yield key
            yield from _walk_loinc(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk_loinc(item)


def _codes_in(data: bytes, name: str) -> set[str]:
    """LOINC codes in one knowledge file; a file that does not parse contributes none."""
    try:
        text = data.decode("utf-8")
        if name.endswith((".yaml", ".yml")):
            return set(_walk_loinc(yaml.safe_load(text)))
        if name.endswith(".json"):
            return set(_walk_loinc(json.loads(text)))
        lines = [ln for ln in text.splitlines() if not ln.startswith("#")]
        return set(_walk_loinc(list(csv.DictReader(lines))))
    except (UnicodeDecodeError, yaml.YAMLError, json.JSONDecodeError, csv.Error):
        return set()


@cache
def known_loinc_codes() -> frozenset[str]:
    """LOINC codes named in the labs knowledge base; empty when that folder is absent."""
    try:
        root = resources.files(_LABS_PACKAGE).joinpath("knowledge")
    except ModuleNotFoundError:
        return frozenset()
    if not root.is_dir():
        return frozenset()
    found: set[str] = set()
    pending = [root]
    while pending:
        folder = pending.pop()
        for entry in folder.iterdir():
            if entry.is_dir():
                pending.append(entry)
                continue
            name = entry.name.lower()
            if name.endswith(_KB_SUFFIXES):
                found.update(_codes_in(entry.read_bytes(), name))
    return frozenset(c for c in found if loinc_check_digit_ok(c))


def invalid_loinc(values: Iterable[str]) -> set[str]:
    """The values that are not valid LOINC codes (shape, check digit, knowledge base if any)."""
    known = known_loinc_codes()
    bad: set[str] = set()
    for v in values:
        if not loinc_check_digit_ok(v) or (known and v not in known):
            bad.add(v)
    return bad


def invalid_icd10cm(values: Iterable[str]) -> set[str]:
    """The values that are not ICD-10-CM FY2026 codes (categories and billable codes, dot optional).

    Raises:
        DependencyMissingError: simple-icd-10-cm is not installed.
    """
    try:
        import simple_icd_10_cm as icd
    except ImportError as exc:
        raise DependencyMissingError("ICD-10-CM code checks", "nlp", "simple-icd-10-cm") from exc
    return {v for v in values if not icd.is_valid_item(v)}
