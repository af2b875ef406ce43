"""Code validity: ICD-10-CM (FY2026, simple-icd-10-cm), LOINC and SNOMED CT.

Checks run on the distinct values of a column, never per row, so a 10-million-row file with a few
thousand distinct codes costs a few thousand look-ups.

* ICD-10-CM: membership in the full code system as the package ships it (categories and billable
  codes, dot optional).
* LOINC: no package ships the LOINC table, so a code is valid when it has the ``NNNNN-N`` shape
  and a correct mod-10 check digit (LOINC Users' Guide, section 12.5 "Calculating Mod 10 check
  digits"). That accepts every real LOINC code (8302-2 Body height as much as 2345-7 Glucose)
  and refuses mistyped ones. medflow's labs knowledge base (:func:`known_loinc_codes`) only
  gives names to the codes it knows; it never decides validity.
* SNOMED CT: no package ships the release either, so an identifier is valid when it has 6 to 18
  digits, no leading zero, a partition identifier of a concept, description or relationship,
  and a correct Verhoeff check digit (SNOMED CT Technical Implementation Guide, section 6.1
  "SCTID" and 6.1.3 "Check-digit computation").
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

__all__ = [
    "invalid_codes",
    "invalid_icd10cm",
    "invalid_loinc",
    "invalid_snomed",
    "known_loinc_codes",
    "loinc_check_digit_ok",
    "snomed_id_ok",
]

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
    """The values that are not valid LOINC codes (shape and mod-10 check digit)."""
    return {v for v in values if not loinc_check_digit_ok(v)}


# Verhoeff's dihedral-group tables (J. Verhoeff, "Error Detecting Decimal Codes", 1969), as the
# SNOMED CT Technical Implementation Guide gives them.
_V_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_V_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)
_SCTID = re.compile(r"^[1-9][0-9]{5,17}$")
# Partition identifiers (the two digits before the check digit): 00/01/02 short-format concept,
# description, relationship; 10/11/12 the same in a namespace (long format).
_PARTITIONS = {"00", "01", "02", "10", "11", "12"}


def verhoeff_ok(digits: str) -> bool:
    """Whether a digit string ends in a correct Verhoeff check digit."""
    c = 0
    for i, ch in enumerate(reversed(digits)):
        c = _V_D[c][_V_P[i % 8][int(ch)]]
    return c == 0


def snomed_id_ok(code: str) -> bool:
    """Whether ``code`` is a well-formed SNOMED CT identifier (shape, partition, Verhoeff)."""
    return bool(_SCTID.match(code)) and code[-3:-1] in _PARTITIONS and verhoeff_ok(code)


def invalid_snomed(values: Iterable[str]) -> set[str]:
    """The values that are not well-formed SNOMED CT identifiers."""
    return {v for v in values if not snomed_id_ok(v)}


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


def invalid_codes(system: str, values: Iterable[str]) -> set[str]:
    """The values that are not valid codes of ``system`` (``icd10cm``, ``loinc``, ``snomedct``).

    Raises:
        DependencyMissingError: the package a code system needs is not installed.
        ValueError: an unknown code system.
    """
    if system == "icd10cm":
        return invalid_icd10cm(values)
    if system == "loinc":
        return invalid_loinc(values)
    if system == "snomedct":
        return invalid_snomed(values)
    raise ValueError(f"unknown code system {system!r}")
