"""``medflow records``: check and infer through the CLI; bad input exits 2 with one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medflow.analyzers.records import load_rules
from medflow.cli.records import records_app

HEADER = (
    "encounter_id,patient_id,date_of_birth,sex,age,admission_date,discharge_date,"
    "admission_type,department,primary_dx,loinc_code,lab_value,heart_rate,systolic_bp,"
    "temperature_c,weight,weight_unit,postal_code"
)
ROWS = [
    f"E1000000{i},P123456{i},1980-05-01,M,40,2020-06-01,2020-06-05,emergency,cardiology,I10,"
    f"2345-7,101,{70 + i},120,36.9,80.5,kg,12345"
    for i in range(8)
] + [
    "E10000009,P1234569,1980-05-01,M,40,2020-06-01,2020-05-05,emergency,cardiology,I10,"
    "2345-7,101,80,120,36.9,80.5,kg,12345"
]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_check_writes_every_output_and_exits_0(runner: CliRunner, tmp_path: Path) -> None:
    src = tmp_path / "adm.csv"
    src.write_text("\n".join([HEADER, *ROWS]) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(records_app, ["check", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    names = {p.name for p in out.iterdir()}
    assert {
        "curated.csv",
        "curated.parquet",
        "quarantined_rows.csv",
        "report.json",
        "report.html",
    } <= names
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["rows_quarantined"] == 1
    assert report["sample_anomalies"][0]["row"] == 9
    assert "partial" in result.output


def test_bad_input_exits_2_with_one_line_naming_the_file(runner: CliRunner, tmp_path: Path) -> None:
    src = tmp_path / "scan.csv"
    src.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    result = runner.invoke(records_app, ["check", str(src), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert lines == ["error: scan.csv: the file is a PDF document, not a CSV"]


def test_missing_file_and_bad_rules_exit_2(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(records_app, ["check", str(tmp_path / "none.csv")])
    assert result.exit_code == 2
    assert "none.csv: no such file" in result.stderr
    src = tmp_path / "a.csv"
    src.write_text("a\n1\n", encoding="utf-8")
    rules = tmp_path / "rules.yaml"
    rules.write_text("dataset: x\n", encoding="utf-8")
    result = runner.invoke(records_app, ["check", str(src), "--rules", str(rules)])
    assert result.exit_code == 2
    assert "rules.yaml: columns" in result.stderr


def test_size_limit_option_refuses_big_files(runner: CliRunner, tmp_path: Path) -> None:
    src = tmp_path / "adm.csv"
    src.write_text("\n".join([HEADER, *ROWS]) + "\n", encoding="utf-8")
    result = runner.invoke(records_app, ["check", str(src), "--max-bytes", "100"])
    assert result.exit_code == 2
    assert "over the 100-byte limit" in result.stderr


def test_infer_writes_a_rule_set_that_loads_and_checks(runner: CliRunner, tmp_path: Path) -> None:
    src = tmp_path / "adm.csv"
    src.write_text("\n".join([HEADER, *ROWS]) + "\n", encoding="utf-8")
    rules = tmp_path / "rules.yaml"
    result = runner.invoke(records_app, ["infer", str(src), "--out", str(rules)])
    assert result.exit_code == 0, result.output
    loaded = load_rules(rules)
    assert loaded.columns["age"].type.value == "integer"
    check = runner.invoke(
        records_app, ["check", str(src), "--rules", str(rules), "--out", str(tmp_path / "o")]
    )
    assert check.exit_code == 0, check.output


def test_demo_checks_the_bundled_sample_and_finds_every_seeded_violation(
    runner: CliRunner, tmp_path: Path
) -> None:
    result = runner.invoke(records_app, ["demo", "--out", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    assert "seeded rule violations: 32 of 32 rows quarantined; 0 others" in " ".join(
        result.output.split()
    )
    assert (tmp_path / "demo" / "report.html").is_file()


def test_ref_option_feeds_reference_rules(runner: CliRunner, tmp_path: Path) -> None:
    rules = tmp_path / "enc.yaml"
    rules.write_text(
        "dataset: enc\ncolumns:\n  encounter_id: {required: true}\n  patient_id: {}\n"
        "references:\n  - {id: patient_known, column: patient_id, dataset: patients,"
        " ref_column: patient_id}\ndecision: {max_failure_rate: 0.9}\n",
        encoding="utf-8",
    )
    src = tmp_path / "enc.csv"
    src.write_text("encounter_id,patient_id\nE1,P1\nE2,P9\n", encoding="utf-8")
    patients = tmp_path / "patients.csv"
    patients.write_text("patient_id\nP1\n", encoding="utf-8")
    out = tmp_path / "out"
    args = ["check", str(src), "--rules", str(rules), "--out", str(out)]
    result = runner.invoke(records_app, [*args, "--ref", f"patients={patients}"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["rule_counts"] == {"encounter_id.required": 0, "patient_known": 1}
    bad = runner.invoke(records_app, [*args, "--ref", "patients"])
    assert bad.exit_code == 2
    assert "expected DATASET=FILE" in bad.stderr


def test_a_reference_rule_without_its_file_is_an_error_not_a_silent_skip(
    runner: CliRunner, tmp_path: Path
) -> None:
    rules = tmp_path / "enc.yaml"
    rules.write_text(
        "dataset: enc\ncolumns:\n  encounter_id: {}\n  patient_id: {}\n"
        "references:\n  - {id: patient_known, column: patient_id, dataset: patients,"
        " ref_column: patient_id}\n",
        encoding="utf-8",
    )
    src = tmp_path / "enc.csv"
    src.write_text("encounter_id,patient_id\nE1,P1\n", encoding="utf-8")
    result = runner.invoke(
        records_app, ["check", str(src), "--rules", str(rules), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1
    assert "rule 'patient_known'" in lines[0]
    assert "--ref patients=FILE" in lines[0]


def test_check_without_rules_prints_the_recognised_columns_and_writes_the_rules(
    runner: CliRunner, tmp_path: Path
) -> None:
    src = tmp_path / "adm.csv"
    rows = [
        f"{i:06d},{'F' if i % 2 else 'M'},1970-01-{1 + i % 28:02d},2020-03-{1 + i % 20:02d},"
        f"2020-03-{5 + i % 20:02d},I10,{70 + i % 30},{115 + i % 30}"
        for i in range(60)
    ]
    rows.append("000999,F,1970-01-01,2020-03-09,2020-03-02,I10,72,400")
    header = "Pt Number,Sex,DOB,Admit Dt,Disch Dt,Dx,Pulse,SBP"
    src.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(records_app, ["check", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    for column, meaning in [
        ("Pt Number", "patient_id"),
        ("DOB", "date_of_birth"),
        ("Admit Dt", "admission_date"),
        ("Disch Dt", "discharge_date"),
        ("Dx", "icd10cm"),
        ("Pulse", "heart_rate"),
        ("SBP", "systolic_bp"),
    ]:
        assert f"{column} │ {meaning}" in text, column
    assert (out / "rules.inferred.yaml").is_file()
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["rules_inferred"] is True
    assert report["rows_quarantined"] == 1
    # The written rules pass back with --rules and give the same result.
    again = runner.invoke(
        records_app,
        [
            "check",
            str(src),
            "--rules",
            str(out / "rules.inferred.yaml"),
            "--out",
            str(tmp_path / "o2"),
        ],
    )
    assert again.exit_code == 0, again.output
    second = json.loads((tmp_path / "o2" / "report.json").read_text(encoding="utf-8"))
    assert second["rule_counts"] == report["rule_counts"]
