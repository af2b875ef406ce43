"""The insight report (seed shape + extras), the HTML page with its chart, and rule inference."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from medflow.analyzers.records import (
    CheckOptions,
    RecordsAnalyzer,
    check_file,
    infer_rules,
)
from medflow.analyzers.records.html import failures_chart
from medflow.analyzers.records.rules import ColumnType

SEED_KEYS = [
    "file",
    "timestamp",
    "records",
    "anomalies_detected",
    "fields_flagged",
    "sample_anomalies",
]


def test_report_json_starts_with_the_seed_shape(
    admissions_20k: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    path, truth = admissions_20k
    options = CheckOptions(today=dt.date(2026, 1, 1), sample_size=5)
    result = check_file(RecordsAnalyzer(options=options), path, tmp_path / "out")
    data = json.loads(result.files["report_json"].read_text(encoding="utf-8"))
    assert list(data)[: len(SEED_KEYS)] == SEED_KEYS
    assert data["file"] == "admissions.csv"
    assert data["records"] == truth["rows"]
    assert len(data["sample_anomalies"]) == 5
    assert set(data["sample_anomalies"][0]) >= {"row", "reason"}
    assert data["anomalies_detected"] >= len(truth["violations"])
    assert data["rule_counts"]["unique.encounter_id"] > 0
    assert data["decision"] == "partial"
    assert "age" in data["fields_flagged"]


def test_html_page_has_the_decision_and_a_bar_per_flagged_column(
    admissions_20k: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    path, _ = admissions_20k
    result = check_file(RecordsAnalyzer(options=CheckOptions(anomalies=False)), path, tmp_path)
    html = result.files["report_html"].read_text(encoding="utf-8")
    assert '<span class="decision partial">partial</span>' in html
    flagged = [c for c, n in result.report.column_failures.items() if n > 0]
    assert html.count("<rect ") == len(flagged)


def test_chart_escapes_column_names() -> None:
    svg = str(failures_chart({"<b>x</b>": 3, "clean": 0}))
    assert "&lt;b&gt;x&lt;/b&gt;" in svg
    assert svg.count("<rect ") == 1


def test_infer_proposes_types_ranges_allowed_values_and_keys(tmp_path: Path) -> None:
    path = tmp_path / "visits.csv"
    rows = [f"V{i:06d},{20 + i % 50},{'MF'[i % 2]},2024-01-{1 + i % 28:02d}" for i in range(300)]
    path.write_text("Visit ID,Age,Sex,Visit Date\n" + "\n".join(rows) + "\n", encoding="utf-8")
    rules = infer_rules(path, tmp_path / "work")
    assert rules.dataset == "visits"
    assert rules.columns["age"].type is ColumnType.INTEGER
    # The limits of a human age, not the 20..69 this file happens to hold.
    assert (rules.columns["age"].min, rules.columns["age"].max) == (0, 125)
    assert rules.columns["sex"].allowed == ("F", "M", "O", "U")
    assert rules.columns["visit_date"].type is ColumnType.DATE
    # Learned from the file's own ids (all share it), digit runs of any length.
    assert rules.columns["visit_id"].regex == "^V[0-9]+$"
    assert ("visit_id",) in rules.unique
