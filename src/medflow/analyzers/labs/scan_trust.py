"""Whether a value read from a scan (OCR) is certain enough for a summary to call it normal.

Tesseract gives each word a confidence (0-100). The reader keeps, on each OCR-read row, the
lowest confidence over the words of its value cell (:func:`value_confidence`,
``RawLabRow.value_confidence``) and of its name (:func:`name_confidence`,
``RawLabRow.name_confidence``), and the cells a re-read or repair changed
(``RawLabRow.changed``). A value is **uncertain** (:func:`uncertainty`) when its confidence is
below ``min_confidence`` of ``data/scan_trust.yaml``, unknown, or a cell that decides its
normality (``changed_cells``) was changed after the first reading, or when its name was read
with a confidence below ``min_name_confidence``: one misread letter names another test
("Troponin I" read as "Troponin T"), whose range and meaning are not the printed test's. A
summary with an uncertain value never claims normality (``synthesis``): it says how many
values were read with low confidence and that the original must be checked. Abnormal
findings are reported as before. Rows from a text layer are never uncertain.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from medflow.analyzers.labs.words import Line, Word
from medflow.domain.labs import RawLabRow

_COMPARATOR = re.compile(r"^[<>≤≥]=?")
# A flag or a cell mark glued to the value's word ("12.1L", "57*", "[H]", "240)").
_GLUED = "*HL↑↓()[]|{}"


@dataclass(frozen=True)
class ScanTrust:
    """The settings of ``data/scan_trust.yaml``."""

    min_confidence: float
    changed_cells: frozenset[str]
    min_name_confidence: float
    reread_below: float = 0.0


@cache
def settings() -> ScanTrust:
    """``data/scan_trust.yaml``, loaded once."""
    text = resources.files("medflow.analyzers.labs").joinpath("data/scan_trust.yaml")
    data: dict[str, Any] = yaml.safe_load(text.read_text(encoding="utf-8"))
    return ScanTrust(
        min_confidence=float(data["min_confidence"]),
        changed_cells=frozenset(str(c) for c in data["changed_cells"]),
        min_name_confidence=float(data["min_name_confidence"]),
        reread_below=float(data["reread_below"]),
    )


def _core(text: str) -> str:
    return _COMPARATOR.sub("", text.strip()).strip().strip(_GLUED)


def value_words(lines: Sequence[Line], value_text: str) -> list[Word]:
    """The words the value ``value_text`` was read from: each word of the row (its first word,
    the name's, aside) that is one of the value's words, or its number with a comparator or
    a glued flag around it. Every such word counts (a number printed twice on the row, in the
    value and in a spaced range, gives both)."""
    wanted = {w for w in value_text.split() if _core(w)} | {_core(value_text)}
    wanted.discard("")
    found: list[Word] = []
    first = True
    for line in lines:
        for word in line.words:
            if first:
                first = False
                continue
            if word.text in wanted or _core(word.text) in wanted:
                found.append(word)
    return found


def value_confidence(lines: Sequence[Line], value_text: str) -> float | None:
    """Tesseract's confidence in the value cell, the lowest over its words; None when no word
    holds the value or a word has no confidence (-1)."""
    words = value_words(lines, value_text)
    if not words or any(w.conf < 0 for w in words):
        return None
    return min(w.conf for w in words)


def name_confidence(lines: Sequence[Line], name: str) -> float | None:
    """Tesseract's confidence in the name ``name`` of a row read from ``lines``: the lowest
    over the row's words that are words of the name and hold a letter or digit; None when no
    such word is found or one has no confidence (-1)."""
    wanted = {w for w in name.split() if any(ch.isalnum() for ch in w)}
    words = [w for line in lines for w in line.words if w.text in wanted]
    if not words or any(w.conf < 0 for w in words):
        return None
    return min(w.conf for w in words)


def uncertainty(row: RawLabRow, trust: ScanTrust | None = None) -> str:
    """Why the value of an OCR-read ``row`` is too uncertain to be called normal, in words;
    ``""`` when it is certain enough or not OCR-read."""
    if not row.ocr:
        return ""
    trust = trust or settings()
    changed = [c for c in row.changed if c in trust.changed_cells]
    if changed:
        cells = ", ".join(c.removesuffix("_text") for c in changed)
        return f"{cells} changed after the first reading"
    if row.value_confidence is None:
        return "OCR confidence unknown"
    if row.value_confidence < trust.min_confidence:
        return f"OCR confidence {row.value_confidence:.0f} (below {trust.min_confidence:.0f})"
    if row.name_confidence is not None and row.name_confidence < trust.min_name_confidence:
        return (
            f"name read with OCR confidence {row.name_confidence:.0f} "
            f"(below {trust.min_name_confidence:.0f}): it may name another test"
        )
    return ""
