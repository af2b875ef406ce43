"""The knowledge files: valid codes, and rule rewriting that keeps meaning."""

from __future__ import annotations

from medflow.analyzers.clinical import ClinicalExtractor
from medflow.analyzers.clinical.lexicon import load_lexicon
from medflow.analyzers.clinical.pipeline import expand_rule


def test_every_condition_code_exists_in_icd10cm(extractor: ClinicalExtractor) -> None:
    bad = [c.code for c in load_lexicon().conditions if not extractor.icd10.is_valid(c.code)]
    assert bad == []


def test_rxnorm_table_holds_numeric_unique_codes() -> None:
    table = load_lexicon().rxnorm
    assert len(table) >= 150
    assert all(code.isdigit() for code in table.values())
    assert len(set(table.values())) == len(table)


def test_pattern_rule_expands_to_its_phrases() -> None:
    rule = {
        "literal": "negative for",
        "category": "NEGATED_EXISTENCE",
        "direction": "FORWARD",
        "pattern": [{"LOWER": {"IN": ["negative", "neg"]}}, {"LOWER": "for"}],
    }
    assert [r["literal"] for r in expand_rule(rule)] == ["negative for", "neg for"]
    assert all("pattern" not in r and r["direction"] == "FORWARD" for r in expand_rule(rule))


def test_optional_tokens_expand_and_open_patterns_stay() -> None:
    optional = {
        "literal": "no",
        "category": "X",
        "pattern": [{"LOWER": "no"}, {"LOWER": "new", "OP": "?"}],
    }
    assert sorted(r["literal"] for r in expand_rule(optional)) == ["no", "no new"]
    open_ended = {"literal": "x", "category": "X", "pattern": [{"LOWER": "a", "OP": "*"}]}
    assert expand_rule(open_ended) == [open_ended]


def test_icd_lookup_falls_back_to_descriptions(extractor: ClinicalExtractor) -> None:
    assert extractor.icd10.lookup("acute appendicitis")[0].code == "K35"
    assert extractor.icd10.lookup("zzz qqq") == ()
