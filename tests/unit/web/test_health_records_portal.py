"""Health records in the portal and the API: a patient sees their own, a doctor their
patients', staff and admins all; each links to its medical resume; reads are audited."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from tests.unit.web.conftest import Portal, api_token, entity, login, store_clinical

TEXT = "Cough for three days. No fever."
ENTITIES = [entity(TEXT, "Cough", "MEDICAL_CONDITION", "DX_NAME", id_=1, traits=("SYMPTOM",))]


@pytest.fixture
def records(portal: Portal) -> dict[str, str]:
    return {
        "P1": store_clinical(portal, "dictation", TEXT, ENTITIES, name="p1.wav"),
        "P2": store_clinical(
            portal,
            "dictation",
            TEXT,
            ENTITIES,
            patient_id="P2",
            doctor_email="other@example.org",
            name="p2.wav",
        ),
    }


def _listed(client: TestClient) -> set[str]:
    page = client.get("/records")
    assert page.status_code == 200
    return {d for d in page.text.split('data-document="')[1:] for d in [d.split('"', 1)[0]]}


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        ("pat@example.org", {"P1"}),
        ("doc@example.org", {"P1"}),
        ("staff@example.org", {"P1", "P2"}),
        ("admin@example.org", {"P1", "P2"}),
    ],
)
def test_records_page_lists_what_the_role_may_see(
    portal: Portal, records: dict[str, str], email: str, expected: set[str]
) -> None:
    login(portal.client, email)
    assert _listed(portal.client) == {records[p] for p in expected}
    page = portal.client.get("/records").text
    assert f'href="/reports/{records["P1"]}/resume"' in page


def test_records_page_filtered_to_another_doctors_patient_is_404(
    portal: Portal, records: dict[str, str]
) -> None:
    login(portal.client, "doc@example.org")
    assert portal.client.get("/records?patient_id=P2").status_code == 404
    assert portal.client.get("/records?patient_id=P1").status_code == 200


def test_api_lists_a_patients_records_as_json(portal: Portal, records: dict[str, str]) -> None:
    r = portal.client.get(
        "/api/v1/patients/P1/health-records", headers=api_token(portal, "patient")
    )
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 1
    (record,) = body["data"]
    assert record["document_id"] == records["P1"] and record["patient_id"] == "P1"
    assert record["transcript"] == TEXT and record["resume"]["chief_complaint"] == "cough"
    assert record["resume_url"] == f"/reports/{records['P1']}/resume"
    anonymous = portal.client.get(record["resume_url"], follow_redirects=False)
    assert anonymous.status_code == 303  # the page needs a login
    entries = portal.platform.services.db.audit.list(object_type="health-record")
    assert any(e.actor == portal.users["patient"] and e.object_id == "P1" for e in entries)


@pytest.mark.parametrize(("role", "code"), [("patient", 404), ("doctor", 404), ("staff", 200)])
def test_api_refuses_other_peoples_patients_as_absent(
    portal: Portal, records: dict[str, str], role: str, code: int
) -> None:
    r = portal.client.get("/api/v1/patients/P2/health-records", headers=api_token(portal, role))
    assert r.status_code == code
    assert portal.client.get("/api/v1/patients/P2/health-records").status_code == 401
    assert (
        portal.client.get(
            "/api/v1/patients/NOPE/health-records", headers=api_token(portal, "staff")
        ).status_code
        == 404
    )
