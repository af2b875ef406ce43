"""The portal's lab result page says what could not be read, what is held for review, and where
each range came from."""

from __future__ import annotations

import json
import re

from tests.unit.web.conftest import SAMPLES, Portal, login, upload

from medflow.analyzers.labs.analyzer import LabAnalyzer
from medflow.domain.labs import RawLabRow
from medflow.domain.patient import PatientInfo, Sex
from medflow.reports.jsonout import lab_json


def test_result_page_shows_rows_not_read_held_values_and_range_sources(portal: Portal) -> None:
    doc_id = upload(portal, (SAMPLES / "us-reference-lab.pdf").read_bytes())
    portal.platform.runner.run_pending()
    rows = [
        RawLabRow(name="Chloride", value_text="101", unit_text="mmol/L"),
        RawLabRow(
            name="Potassium",
            value_text="4.2",
            unit_text="mmol/L",
            range_text="3.5-5.1",
            flag_text="H",
        ),
        RawLabRow(
            name="Total Cholesterol",
            value_text="5395",
            unit_text="mmol/L",
            range_text="3.0-6.0",
            ocr=True,
        ),
    ]
    report = LabAnalyzer(ocr=False).interpret(
        rows, PatientInfo(patient_id="P1", sex=Sex.FEMALE), unread=("Glucose ↑ 6.6 mmol/L",)
    )
    # The stored result, as an interpret step writing this report would leave it.
    portal.platform.services.store.put(
        "results",
        f"labs/{doc_id}/report.json",
        json.dumps(lab_json(report, document_id=doc_id)).encode(),
        {"document_id": doc_id},
        "application/json",
    )
    login(portal.client, "doc@example.org")
    html = portal.client.get(f"/reports/{doc_id}").text
    # The portal's CSP allows only its nonce'd style sheet: no style attributes.
    assert ' style="' not in html
    page = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert "Check before relying on this summary" in page
    assert "could not be read" in page
    assert "Held for review (1)" in page and "5.95" in page
    assert "Rows not read or not recognised (1)" in page and "Glucose ↑ 6.6 mmol/L" in page
    assert "printed H, computed N" in page
    assert "printed on the report" in page and "medflow knowledge base" in page
