"""``medflow records check`` end to end on a CSV whose column names medflow never saw.

The file is made by ``tests/fixtures/records/generate_hospital.py`` in a held-out naming style
("Patient Medical Record Number", "Pulse Rate Beats Per Minute"...), never used to tune the
column recognition, with impossibilities planted in 3% of rows. No rule file is given.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.e2e.conftest import run_medflow
from tests.fixtures.records import generate_hospital as gen

pytestmark = pytest.mark.e2e


def test_planted_impossibilities_are_quarantined_and_clean_rows_are_not(tmp_path: Path) -> None:
    assert "verbose" in gen.HELD_OUT
    src = tmp_path / "stays_export.csv"
    truth = gen.generate(4000, 2024, src, "verbose")
    out = tmp_path / "out"
    done = run_medflow(["records", "check", str(src), "--out", str(out)], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "columns recognised" in done.stdout
    assert "rules.inferred.yaml" in " ".join(done.stdout.split())

    with (out / "quarantined_rows.csv").open(encoding="utf-8", newline="") as fh:
        quarantined = {int(r["row"]): r["reasons"] for r in csv.DictReader(fh)}
    planted = {int(r): kinds[0] for r, kinds in truth["planted"].items()}
    clean = truth["rows"] - len(planted) - len(truth["duplicates"])
    assert len(planted) > 100
    caught = set(quarantined) & set(planted)
    assert len(caught) == len(planted), sorted(planted[r] for r in set(planted) - caught)
    false_alarms = set(quarantined) - set(planted)
    assert len(false_alarms) < 0.01 * clean

    # Readable reasons: the column (its name normalised) and what is wrong with its value.
    by_kind = {planted[r]: quarantined[r] for r in caught}
    assert len(by_kind) >= 8
    expected = {
        "discharge_before_admission": " is after date_of_discharge",
        "birth_after_admission": "patient_date_of_birth ",
        "heart_rate_impossible": "pulse_rate_beats_per_minute",
        "invalid_icd10": "is not a valid ICD-10-CM code",
        "invalid_loinc": "is not a valid LOINC code",
        "diastolic_above_systolic": "diastolic_blood_pressure",
        "age_impossible": "is outside [0, 125]",
        "date_does_not_exist": "is not a date",
    }
    for kind, words in expected.items():
        if kind in by_kind:
            assert words in by_kind[kind], (kind, by_kind[kind])
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["decision"] == "partial"
    assert report["rules_inferred"] is True
    assert report["duplicate_rows_removed"] == len(truth["duplicates"])
