"""Rule sets: YAML loading, strict validation of names and keys, the built-in set, dumping."""

from __future__ import annotations

from pathlib import Path

import pytest

from medflow.analyzers.records import builtin_rules, dump_rules, load_rules
from medflow.analyzers.records.errors import RuleSetError
from medflow.analyzers.records.rules import ColumnType, DateOrderRule, rules_from_dict


def test_builtin_admissions_rules_declare_the_issue_rules() -> None:
    rules = builtin_rules("admissions")
    assert rules.columns["age"].type is ColumnType.INTEGER
    assert rules.columns["primary_dx"].code is not None
    assert ("encounter_id",) in rules.unique
    orders = [r for r in rules.cross_field if isinstance(r, DateOrderRule)]
    assert {(r.first, r.then) for r in orders} == {
        ("admission_date", "discharge_date"),
        ("date_of_birth", "admission_date"),
    }


def test_unknown_builtin_is_refused() -> None:
    with pytest.raises(RuleSetError, match="no built-in rule set"):
        builtin_rules("nope")


def test_unknown_keys_are_rejected_with_where(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("dataset: x\ncolumns:\n  a: {type: integer, maxx: 3}\n", encoding="utf-8")
    with pytest.raises(RuleSetError, match=r"r\.yaml: columns\.a\.maxx"):
        load_rules(path)


def test_a_rule_naming_an_undeclared_column_is_rejected() -> None:
    data = {
        "dataset": "x",
        "columns": {"a": {"type": "date"}},
        "cross_field": [{"id": "o", "rule": "date_order", "first": "a", "then": "b"}],
    }
    with pytest.raises(RuleSetError, match="undeclared column 'b'"):
        rules_from_dict(data)


def test_bad_yaml_and_missing_file_are_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("dataset: [unclosed\n", encoding="utf-8")
    with pytest.raises(RuleSetError, match=r"bad\.yaml: the rule set is not valid YAML"):
        load_rules(bad)
    with pytest.raises(RuleSetError, match=r"gone\.yaml: cannot read"):
        load_rules(tmp_path / "gone.yaml")


def test_dump_then_load_gives_the_same_rules(tmp_path: Path) -> None:
    rules = builtin_rules()
    path = tmp_path / "again.yaml"
    path.write_text(dump_rules(rules), encoding="utf-8")
    assert load_rules(path) == rules
