"""The signed-URL upload: ticket, PUT, object event, pipeline, results through the API."""

from __future__ import annotations

from tests.unit.web.conftest import SAMPLES, Portal, api_token, upload


def test_upload_stores_object_with_ticket_metadata_and_runs_the_pipeline(portal: Portal) -> None:
    pdf = (SAMPLES / "us-reference-lab.pdf").read_bytes()
    doc_id = upload(portal, pdf)
    doc = portal.platform.services.db.documents.get(doc_id)
    assert doc.patient_id == "P1"
    stored = portal.platform.services.store.head(doc.bucket, doc.key)
    assert stored.metadata["patient_id"] == "P1"
    assert stored.metadata["doctor_email"] == "doc@example.org"
    assert stored.size == len(pdf)
    portal.platform.runner.run_pending()
    headers = api_token(portal, "doctor")
    status = portal.client.get(f"/api/v1/documents/{doc_id}", headers=headers).json()
    assert status["execution"]["status"] == "succeeded"
    results = portal.client.get(f"/api/v1/documents/{doc_id}/results", headers=headers)
    assert results.status_code == 200
    assert results.json()["report"]["results"]
    fhir = portal.client.get(f"/api/v1/documents/{doc_id}/fhir", headers=headers)
    assert fhir.json()["resourceType"] == "Bundle"
