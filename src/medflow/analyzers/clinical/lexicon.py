"""Load the clinical knowledge files in ``data/`` (each names its sources at its top).

Everything here is read once, when a :class:`~medflow.analyzers.clinical.extractor.
ClinicalExtractor` is built, and held in frozen dataclasses.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml


def _data_text(name: str) -> str:
    return resources.files("medflow.analyzers.clinical").joinpath("data", name).read_text("utf-8")


def _csv_rows(name: str) -> list[dict[str, str]]:
    lines = [ln for ln in _data_text(name).splitlines() if ln and not ln.startswith("#")]
    return list(csv.DictReader(io.StringIO("\n".join(lines))))


@dataclass(frozen=True)
class ConditionTerm:
    """One surface form of a condition.

    Attributes:
        term: the text as matched (lower case unless ``case_sensitive``).
        code: ICD-10-CM code.
        kind: SIGN, SYMPTOM or DIAGNOSIS.
        case_sensitive: True for short abbreviations that are ordinary words in lower case.
    """

    term: str
    code: str
    kind: str
    case_sensitive: bool


@dataclass(frozen=True)
class Lexicon:
    """All clinical vocabularies medflow ships.

    Attributes:
        conditions: condition surface forms.
        rxnorm: ingredient name (lower case) to RxCUI.
        frequency: frequency phrase (lower case) to plain-language meaning.
        route: route phrase (lower case) to plain-language meaning.
        forms: dose form words.
        dose_units: units of a drug amount.
        count_units: units of a countable dose (tablets, puffs).
        terms: other term lists keyed by Comprehend type (TEST_NAME, TOBACCO_USE ...).
        context_rules: medspaCy ConText rules added to the defaults (JSON dicts).
        section_rules: medspaCy section rules added to the defaults (JSON dicts).
        phi: PHI vocabularies (professions, name labels ...).
        not_drugs: drug-dictionary names that are never a medication in a note.
        test_or_drug: names that are a test when a test word follows ("digoxin level").
        test_words: those test words.
        not_generic: patterns of canonical drug names that are not medications (enzymes...).
        drug_aliases: brands and abbreviations the drug dictionary lacks (``drug_aliases.yaml``).
    """

    conditions: tuple[ConditionTerm, ...]
    rxnorm: dict[str, str]
    frequency: dict[str, str]
    route: dict[str, str]
    forms: tuple[str, ...]
    dose_units: tuple[str, ...]
    count_units: tuple[str, ...]
    terms: dict[str, tuple[str, ...]]
    context_rules: tuple[dict[str, Any], ...]
    section_rules: tuple[dict[str, Any], ...]
    phi: dict[str, tuple[str, ...]] = field(default_factory=dict)
    not_drugs: frozenset[str] = frozenset()
    test_or_drug: frozenset[str] = frozenset()
    test_words: frozenset[str] = frozenset()
    not_generic: tuple[str, ...] = ()
    drug_aliases: dict[str, Any] = field(default_factory=dict)


def load_lexicon() -> Lexicon:
    """Read every data file of the clinical analyzer.

    Returns:
        The vocabularies, ready to compile into matchers.
    """
    conditions = tuple(
        ConditionTerm(
            term=row["term"].strip(),
            code=row["code"].strip(),
            kind=row["kind"].strip(),
            case_sensitive=row["case"].strip() == "1",
        )
        for row in _csv_rows("conditions.csv")
    )
    rxnorm = {
        row["name"].strip().lower(): row["rxcui"].strip()
        for row in _csv_rows("rxnorm_ingredients.csv")
    }
    attrs = yaml.safe_load(_data_text("medication_attributes.yaml"))
    terms_raw = yaml.safe_load(_data_text("terms.yaml"))
    phi_raw = yaml.safe_load(_data_text("phi.yaml"))
    context = json.loads(_data_text("context_rules.json"))["context_rules"]
    sections = json.loads(_data_text("section_rules.json"))["section_rules"]
    exclusions = yaml.safe_load(_data_text("drug_exclusions.yaml"))
    return Lexicon(
        conditions=conditions,
        rxnorm=rxnorm,
        frequency={str(k).lower(): str(v) for k, v in attrs["frequency"].items()},
        route={str(k).lower(): str(v) for k, v in attrs["route"].items()},
        forms=tuple(str(f).lower() for f in attrs["form"]),
        dose_units=tuple(str(u) for u in attrs["dose_unit"]),
        count_units=tuple(str(u).lower() for u in attrs["count_unit"]),
        terms={str(k): tuple(str(t).lower() for t in v) for k, v in terms_raw.items()},
        context_rules=tuple(context),
        section_rules=tuple(sections),
        phi={str(k): tuple(str(t) for t in v) for k, v in phi_raw.items()},
        not_drugs=frozenset(str(w).lower() for ws in exclusions["never"].values() for w in ws),
        test_or_drug=frozenset(str(w).lower() for w in exclusions["test_or_drug"]),
        test_words=frozenset(str(w).lower() for w in exclusions["test_words"]),
        not_generic=tuple(str(p) for p in exclusions.get("never_generic") or ()),
        drug_aliases=dict(yaml.safe_load(_data_text("drug_aliases.yaml"))),
    )
