"""The Basic Application Level Confidentiality Profile (DICOM PS3.15 Annex E) as data.

``data/annex_e_actions.csv`` holds Table E.1-1; this module loads it once and resolves, for one
tag and the site's options, the single action to apply.

Compound actions depend on the attribute's Type in the IOD, which a generic de-identifier cannot
know for every IOD, so they are resolved to the choice that conforms to every IOD while keeping
the least information (PS3.15 E.1.1 allows a zero-length or dummy value wherever removal would be
allowed): ``X/Z``, ``Z/D`` and ``X/Z/D`` -> Z; ``X/D`` -> D; ``X/Z/U*`` -> keep the sequence and
de-identify its items (its UIDs are then replaced by the U rule of each nested attribute). D or
U* on a sequence keeps the sequence and de-identifies every item; Z on a sequence empties it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from importlib import resources

from medflow.domain.imaging import DeidOptions


class Action(StrEnum):
    """One resolved action (PS3.15 E.1.1, plus ``ITEMS`` for 'keep, de-identify the items')."""

    REMOVE = "X"
    BLANK = "Z"
    DUMMY = "D"
    KEEP = "K"
    UID = "U"
    SHIFT_DATE = "C"
    ITEMS = "U*"


_COMPOUND = {
    "X/Z": Action.BLANK,
    "Z/D": Action.BLANK,
    "X/Z/D": Action.BLANK,
    "X/D": Action.DUMMY,
    "X/Z/U*": Action.ITEMS,
}

_OPTION_FIELDS = {
    "dev": "retain_device_identity",
    "pat": "retain_patient_characteristics",
    "uid": "retain_uids",
    "inst": "retain_institution_identity",
}


@dataclass(frozen=True)
class Rule:
    """One row of Table E.1-1.

    Attributes:
        tag: the tag as written (``"(0010,0010)"``, ``"(50xx,xxxx)"``).
        action: the Basic Profile action as printed in the table.
        options: option key -> action (``{"dev": "K"}``; ``{"dates": ""}`` marks a date/time).
        name: the attribute name.
    """

    tag: str
    action: str
    options: dict[str, str]
    name: str

    def resolve(self, opts: DeidOptions) -> Action:
        """The action for this attribute under the site's options."""
        for key, field in _OPTION_FIELDS.items():
            if self.options.get(key) == "K" and getattr(opts, field):
                return Action.KEEP
        if "dates" in self.options:
            if opts.retain_dates:
                return Action.KEEP
            if opts.shift_dates:
                return Action.SHIFT_DATE
        if self.action in _COMPOUND:
            return _COMPOUND[self.action]
        return Action(self.action)


@dataclass(frozen=True)
class Profile:
    """Table E.1-1 indexed for lookup while walking a data set.

    Attributes:
        exact: rules by 32-bit tag.
        masked: ``(mask, value, rule)`` for repeating groups such as (50xx,xxxx) and (60xx,3000).
    """

    exact: dict[int, Rule]
    masked: tuple[tuple[int, int, Rule], ...]

    def rule_for(self, tag: int) -> Rule | None:
        """The rule for a tag, exact match first, then repeating-group patterns."""
        rule = self.exact.get(tag)
        if rule is not None:
            return rule
        for mask, value, masked_rule in self.masked:
            if tag & mask == value:
                return masked_rule
        return None

    def resolved(
        self, opts: DeidOptions
    ) -> tuple[dict[int, Action], tuple[tuple[int, int, Action], ...]]:
        """Every rule resolved under ``opts``: exact tags, then repeating-group patterns."""
        exact = {tag: rule.resolve(opts) for tag, rule in self.exact.items()}
        masked = tuple((m, v, rule.resolve(opts)) for m, v, rule in self.masked)
        return exact, masked


def _parse_tag(text: str) -> tuple[int, int]:
    """``"(50xx,xxxx)"`` -> (mask, value); an exact tag has mask 0xFFFFFFFF."""
    hexes = text.strip("()").replace(",", "")
    mask = int("".join("0" if c in "xX" else "F" for c in hexes), 16)
    value = int("".join("0" if c in "xX" else c for c in hexes), 16)
    return mask, value


def _parse_options(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in filter(None, text.split(";")):
        key, _, value = part.partition("=")
        out[key.strip()] = value.strip()
    return out


def _rows(filename: str) -> list[Rule]:
    text = (
        resources.files("medflow.analyzers.imaging")
        .joinpath(f"data/{filename}")
        .read_text(encoding="utf-8")
    )
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    rules = []
    for row in rows:
        rule = Rule(row["tag"], row["action"], _parse_options(row["options"]), row["name"])
        if rule.action not in _COMPOUND:
            Action(rule.action)  # reject unknown action codes when the table loads
        rules.append(rule)
    return rules


@lru_cache(maxsize=1)
def load_profile() -> Profile:
    """Load Table E.1-1, then medflow's extra date attributes, then the residual dates, names,
    locations and File Meta attributes (once per process).

    The extras (``data/extra_actions.csv``, ``data/residual_actions.csv``) never override a row
    of the standard's table.
    """
    exact: dict[int, Rule] = {}
    masked: list[tuple[int, int, Rule]] = []
    for filename in ("annex_e_actions.csv", "extra_actions.csv", "residual_actions.csv"):
        for rule in _rows(filename):
            mask, value = _parse_tag(rule.tag)
            if mask != 0xFFFFFFFF:
                masked.append((mask, value, rule))
            else:
                exact.setdefault(value, rule)
    return Profile(exact=exact, masked=tuple(masked))
