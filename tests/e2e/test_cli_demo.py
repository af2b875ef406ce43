"""``medflow demo``: every pipeline on the bundled samples, embedded default, no services."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import run_medflow

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_demo_runs_every_pipeline_and_says_where_the_results_are(tmp_path: Path) -> None:
    data = tmp_path / "demo-data"
    done = run_medflow(["demo", "--data-dir", str(data)], data)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert f"All demo results are under {data}" in out
    assert "Portal: http://127.0.0.1:8000" in out
    assert f"medflow serve --data-dir {data}" in out
    # labs: five readable reports analysed, one broken file quarantined with its reason
    assert len(list((data / "objects" / "results" / "labs").glob("*/fhir.json"))) == 6
    reasons = list((data / "objects" / "quarantine").rglob("truncated.pdf.reason.json"))
    assert "truncated" in json.loads(reasons[0].read_text())["reason"]
    assert len(list((data / "outbox").glob("*.eml"))) >= 6
    # records: curated rows, quarantined rows and the insight report
    assert list((data / "objects" / "curated" / "records").rglob("curated.csv"))
    assert list((data / "objects" / "quarantine" / "records").rglob("quarantined_rows.csv"))
    report = json.loads(next((data / "objects" / "insights").rglob("report.json")).read_text())
    assert report["records"] == 600
    # imaging: de-identified copies and a report per study
    assert len(list((data / "objects" / "deidentified" / "imaging").rglob("*.dcm"))) == 5
    assert list((data / "objects" / "results" / "imaging").rglob("findings.sr.dcm"))
    png_copies = list((data / "objects" / "deidentified" / "imaging").rglob("*.png"))
    assert len(png_copies) == 1
    assert b"Jane" not in png_copies[0].read_bytes()  # the sample's metadata names Jane Doe
