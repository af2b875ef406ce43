"""Care teams in the API and on the patient page: staff and admins add and remove doctors,
each change audited; membership is what opens a patient's whole record to a doctor."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from tests.unit.web.conftest import PASSWORD, Portal, api_token, login


def _doctor_client(portal: Portal, email: str) -> TestClient:
    client = TestClient(portal.client.app, base_url="http://testserver")
    login(client, email)
    return client


def test_staff_add_and_remove_a_doctor_through_the_api(portal: Portal) -> None:
    portal.accounts.create_user("new.doc@example.org", PASSWORD, "doctor")
    staff, api = api_token(portal, "staff"), portal.client
    doctor = _doctor_client(portal, "new.doc@example.org")
    assert doctor.get("/patients/P2/trends").status_code == 404
    url = "/api/v1/patients/P2/care-team"
    r = api.post(url, json={"doctor_email": "New.Doc@example.org"}, headers=staff)
    assert r.status_code == 201, r.text
    assert r.json()["doctor_email"] == "new.doc@example.org"
    assert r.json()["added_by"] == portal.users["staff"]
    assert (
        api.post(url, json={"doctor_email": "new.doc@example.org"}, headers=staff).status_code
        == 200
    )
    team = api.get(url, headers=staff).json()
    assert [m["doctor_email"] for m in team["data"]] == ["other@example.org", "new.doc@example.org"]
    assert doctor.get("/patients/P2/trends").status_code == 200
    assert doctor.get("/patients/P2").status_code == 200
    removed = api.delete(f"{url}/new.doc@example.org", headers=staff)
    assert removed.status_code == 204
    assert api.delete(f"{url}/new.doc@example.org", headers=staff).status_code == 404
    assert doctor.get("/patients/P2/trends").status_code == 404
    entries = portal.platform.services.db.audit.list(object_id="P2")
    changes = [(e.action, e.detail.get("doctor")) for e in entries if "care-team-" in e.action]
    assert sorted(changes) == [
        ("care-team-add", "new.doc@example.org"),
        ("care-team-add", "other@example.org"),  # the fixture's
        ("care-team-remove", "new.doc@example.org"),
    ]


def test_only_an_active_doctor_account_can_join(portal: Portal) -> None:
    staff, url = api_token(portal, "staff"), "/api/v1/patients/P1/care-team"
    gone = portal.accounts.create_user("gone@example.org", PASSWORD, "doctor")
    portal.accounts.set_active(gone.id, False)
    for email in ("nobody@example.org", "staff@example.org", "pat@example.org", "gone@x.org"):
        r = portal.client.post(url, json={"doctor_email": email}, headers=staff)
        assert r.status_code == 400, email
        assert "not an active doctor account" in r.json()["detail"]
    r = portal.client.post(url, json={"doctor_email": "gone@example.org"}, headers=staff)
    assert r.status_code == 400
    r = portal.client.post(
        "/api/v1/patients/NOBODY/care-team", json={"doctor_email": "doc@example.org"}, headers=staff
    )
    assert r.status_code == 404


def test_doctors_and_patients_may_not_change_a_care_team(portal: Portal) -> None:
    url = "/api/v1/patients/P1/care-team"
    for role in ("doctor", "patient"):
        headers = api_token(portal, role)
        assert portal.client.get(url, headers=headers).status_code == 200
        r = portal.client.post(url, json={"doctor_email": "doc@example.org"}, headers=headers)
        assert r.status_code == 403
        assert portal.client.delete(f"{url}/doc@example.org", headers=headers).status_code == 403


def test_the_patient_page_manages_the_care_team(portal: Portal) -> None:
    portal.accounts.create_user("dr.two@example.org", PASSWORD, "doctor", name="Dr Two")
    csrf = login(portal.client, "staff@example.org")
    page = portal.client.get("/patients/P1")
    assert page.status_code == 200
    assert 'data-doctor="doc@example.org"' in page.text
    assert '<option value="dr.two@example.org">' in page.text
    r = portal.client.post(
        "/patients/P1/care-team",
        data={"doctor_email": "dr.two@example.org", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert 'data-doctor="dr.two@example.org"' in portal.client.get("/patients/P1").text
    r = portal.client.post(
        "/patients/P1/care-team/remove",
        data={"doctor_email": "doc@example.org", "csrf_token": "wrong"},
        follow_redirects=False,
    )
    assert r.status_code == 403
    r = portal.client.post(
        "/patients/P1/care-team/remove",
        data={"doctor_email": "doc@example.org", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303
    members = re.findall(r'data-doctor="([^"]+)"', portal.client.get("/patients/P1").text)
    assert members == ["dr.two@example.org"]
    # The removed doctor is no longer the upload form's default for P1.
    assert portal.platform.services.db.patients.get("P1").doctor_email is None


def test_a_doctor_sees_the_page_of_a_team_patient_without_the_forms(portal: Portal) -> None:
    doctor = _doctor_client(portal, "doc@example.org")
    page = doctor.get("/patients/P1")
    assert page.status_code == 200 and 'data-doctor="doc@example.org"' in page.text
    assert 'id="add-doctor"' not in page.text and "/care-team/remove" not in page.text
    assert doctor.get("/patients/P2").status_code == 404


def test_saving_a_patient_with_a_doctor_puts_them_on_the_care_team(portal: Portal) -> None:
    csrf = login(portal.client, "staff@example.org")
    form = {"patient_id": "P7", "name": "Cy", "csrf_token": csrf}
    r = portal.client.post("/patients", data={**form, "doctor_email": "nobody@example.org"})
    assert r.status_code == 400
    with portal.platform.services.db.reading() as s:
        from medflow.platform.db.models import PatientRow

        assert s.get(PatientRow, "P7") is None, "nothing is saved when the doctor is refused"
    r = portal.client.post(
        "/patients", data={**form, "doctor_email": "doc@example.org"}, follow_redirects=False
    )
    assert r.status_code == 303
    team = portal.client.get("/api/v1/patients/P7/care-team", headers=api_token(portal, "staff"))
    assert [m["doctor_email"] for m in team.json()["data"]] == ["doc@example.org"]


def test_an_upload_changes_neither_the_care_team_nor_the_default_doctor(portal: Portal) -> None:
    from tests.unit.web.conftest import SAMPLES, upload

    portal.accounts.create_user("dr.two@example.org", PASSWORD, "doctor")
    pdf = (SAMPLES / "us-reference-lab.pdf").read_bytes()
    upload(portal, pdf, doctor_email="dr.two@example.org")
    patient = portal.client.get("/api/v1/patients/P1", headers=api_token(portal, "staff")).json()
    assert patient["care_team"] == ["doc@example.org"]
    assert patient["doctor_email"] == "doc@example.org"


def test_a_document_naming_a_doctor_in_any_case_is_listed_for_them(portal: Portal) -> None:
    # The CLI and the inbox keep metadata as written: " Dr.Three@Example.ORG" names the same
    # doctor as an upload form would, in the listing as well as when the document is opened.
    portal.accounts.create_user("dr.three@example.org", PASSWORD, "doctor")
    doc, _ = portal.platform.services.db.documents.get_or_create(
        bucket="raw",
        key="labs/inbox-report.pdf",
        sha256="ab" * 32,
        size=10,
        pipeline="labs",
        patient_id="P2",
        meta={"doctor_email": " Dr.Three@Example.ORG"},
    )
    client = _doctor_client(portal, "dr.three@example.org")
    listed = client.get("/api/v1/documents").json()
    ids = [d["id"] for d in (listed["data"] if isinstance(listed, dict) else listed)]
    assert ids == [doc.id]
    assert client.get(f"/api/v1/documents/{doc.id}").status_code == 200
