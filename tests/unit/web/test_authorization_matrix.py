"""Every API route and page tried as each role and as a stranger: only the allowed
combinations succeed; other people's objects answer 404, not 403, so ids cannot be probed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.unit.web.conftest import (
    PASSWORD,
    SAMPLES,
    Portal,
    api_token,
    entity,
    login,
    make_portal,
    store_clinical,
    upload,
)

ROLES = ("stranger", "patient", "doctor", "staff", "admin")
EMAILS = {
    "patient": "pat@example.org",
    "doctor": "doc@example.org",
    "staff": "staff@example.org",
    "admin": "admin@example.org",
}
ALL = frozenset(ROLES) - {"stranger"}
STAFF = frozenset({"staff", "admin"})
ADMIN = frozenset({"admin"})
NOTE = "Denies chest pain. Takes metformin."
NOTE_ENTITIES = [
    entity(NOTE, "chest pain", "MEDICAL_CONDITION", "DX_NAME", id_=1, traits=("NEGATION",)),
    entity(NOTE, "metformin", "MEDICATION", "GENERIC_NAME", id_=2),
]


@dataclass
class World:
    portal: Portal
    own: str  # a document of P1 (the patient account's, doctor doc@'s)
    other: str  # a document of P2 (someone else's patient)
    execution: str
    clients: dict[str, TestClient]
    csrf: dict[str, str]
    note_own: str  # a documents-pipeline result of P1
    note_other: str  # ... of P2
    dictation_own: str  # a dictation of P1, with its health record
    dictation_other: str  # ... of P2
    target: str  # an account the admin forms act on
    routed: str  # a later lab report of P1 whose upload named doctor 2 (doc2@)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with make_portal(Path(tmp_path_factory.mktemp("matrix"))) as portal:
        pdf = (SAMPLES / "us-reference-lab.pdf").read_bytes()
        own = upload(portal, pdf)
        other = upload(portal, pdf + b"\n%other", patient_id="P2", doctor_email=None)
        portal.accounts.create_user("doc2@example.org", PASSWORD, "doctor")
        portal.accounts.create_user("other@example.org", PASSWORD, "doctor")  # P2's doctor
        routed = upload(portal, pdf + b"\n%routed", doctor_email="doc2@example.org")
        portal.platform.runner.run_pending()
        execution = portal.platform.runner.list_executions(document_id=own)[0].id
        notes = {
            (pipeline, patient): store_clinical(
                portal,
                pipeline,
                NOTE,
                NOTE_ENTITIES,
                patient_id=patient,
                doctor_email="doc@example.org" if patient == "P1" else None,
                name=f"{pipeline}-{patient}.txt",
            )
            for pipeline in ("documents", "dictation")
            for patient in ("P1", "P2")
        }
        target = portal.accounts.create_user("target@example.org", PASSWORD, "staff").id
        clients: dict[str, TestClient] = {}
        csrf: dict[str, str] = {}
        app = portal.client.app
        for role in ROLES:
            client = TestClient(app, base_url="http://testserver")
            if role != "stranger":
                csrf[role] = login(client, EMAILS[role])
            clients[role] = client
        yield World(
            portal,
            own,
            other,
            execution,
            clients,
            csrf,
            notes[("documents", "P1")],
            notes[("documents", "P2")],
            notes[("dictation", "P1")],
            notes[("dictation", "P2")],
            target,
            routed,
        )


def _api_cases(w: World) -> list[tuple[str, str, frozenset[str]]]:
    return [
        ("GET", "/api/v1/documents", ALL),
        ("GET", f"/api/v1/documents/{w.own}", ALL),
        ("GET", f"/api/v1/documents/{w.own}/results", ALL),
        ("GET", f"/api/v1/documents/{w.own}/fhir", ALL),
        ("GET", f"/api/v1/documents/{w.other}", STAFF),
        ("GET", f"/api/v1/documents/{w.other}/results", STAFF),
        ("GET", f"/api/v1/documents/{w.other}/fhir", STAFF),
        ("GET", "/api/v1/patients", ALL),
        ("GET", "/api/v1/patients/P1", ALL),
        ("GET", "/api/v1/patients/P2", STAFF),
        ("GET", "/api/v1/executions", STAFF),
        ("POST", f"/api/v1/executions/{w.execution}/retry", STAFF),
        ("POST", "/api/v1/uploads", STAFF),
        ("GET", f"/api/v1/documents/{w.note_own}/results", ALL),
        ("GET", f"/api/v1/documents/{w.note_other}/results", STAFF),
        ("GET", f"/api/v1/documents/{w.dictation_own}/results", ALL),
        ("GET", "/api/v1/patients/P1/health-records", ALL),
        ("GET", "/api/v1/patients/P2/health-records", STAFF),
        ("GET", "/api/v1/patients/P1/care-team", ALL),
        ("GET", "/api/v1/patients/P2/care-team", STAFF),
        ("POST", "/api/v1/patients/P1/care-team", STAFF),
        ("POST", "/api/v1/patients/P2/care-team", STAFF),
    ]


def _page_cases(w: World) -> list[tuple[str, str, frozenset[str]]]:
    return [
        ("GET", "/", ALL),
        ("GET", "/upload", STAFF),
        ("GET", "/inbox", frozenset({"doctor", "staff", "admin"})),
        ("GET", f"/reports/{w.own}", ALL),
        ("GET", f"/reports/{w.own}/download/fhir.json", ALL),
        ("GET", f"/reports/{w.other}", STAFF),
        ("GET", f"/reports/{w.other}/download/report.json", STAFF),
        ("GET", "/patients/P1/trends", ALL),
        ("GET", "/patients/P2/trends", STAFF),
        ("GET", "/admin/audit", frozenset({"admin"})),
        ("POST", "/patients", STAFF),
        ("POST", "/patients/P1/invite", STAFF),
        ("POST", f"/executions/{w.execution}/retry", STAFF),
        ("GET", f"/reports/{w.note_own}", ALL),
        ("GET", f"/reports/{w.note_other}", STAFF),
        ("GET", f"/reports/{w.note_own}/download/result.json", ALL),
        ("GET", f"/reports/{w.note_other}/download/result.json", STAFF),
        ("GET", f"/reports/{w.dictation_own}", ALL),
        ("GET", f"/reports/{w.dictation_other}", STAFF),
        ("GET", f"/reports/{w.own}/html", ALL),
        ("GET", f"/reports/{w.other}/html", STAFF),
        ("GET", f"/reports/{w.dictation_own}/html", ALL),
        ("GET", f"/reports/{w.dictation_other}/html", STAFF),
        ("GET", f"/reports/{w.dictation_own}/resume", ALL),
        ("GET", f"/reports/{w.dictation_other}/resume", STAFF),
        ("GET", "/records", ALL),
        ("GET", "/records?patient_id=P1", ALL),
        ("GET", "/records?patient_id=P2", STAFF),
        ("GET", "/patients/P1", ALL),
        ("GET", "/patients/P2", STAFF),
        ("POST", "/patients/P1/care-team", STAFF),
        ("GET", "/admin/users", ADMIN),
        ("POST", "/admin/users", ADMIN),
        ("POST", f"/admin/users/{w.target}/active", ADMIN),
        ("POST", f"/admin/users/{w.target}/tokens", ADMIN),
        # A fresh token each time the cases are built (once per role), so the admin's
        # revocation succeeds and everyone else's is tried on a live token.
        ("POST", f"/admin/tokens/{_fresh_token_id(w)}/revoke", ADMIN),
    ]


def _fresh_token_id(w: World) -> str:
    w.portal.accounts.issue_api_token(w.target, "matrix")
    return w.portal.accounts.api_tokens(w.target)[0].id


UPLOAD = {
    "filename": "a.pdf",
    "content_type": "application/pdf",
    "size": 10,
    "patient_id": "P1",
}
FORMS = {
    "/patients": {"patient_id": "P9", "name": "New"},
    "/patients/P1/invite": {"email": "ada@example.org"},
    "/admin/users": {"email": "made@example.org", "role": "doctor", "password": PASSWORD},
    # Adding the doctor already on the team: repeatable, leaves the world as it was.
    "/patients/P1/care-team": {"doctor_email": "doc@example.org"},
}


def _form(path: str) -> dict[str, str]:
    if path.startswith("/admin/users/") and path.endswith("/active"):
        return {"active": "1"}  # enabling: repeatable, leaves the world as it was
    if path.endswith("/tokens"):
        return {"label": "matrix"}
    return FORMS.get(path, {})


@pytest.mark.parametrize("role", ROLES)
def test_api_routes_only_allow_their_roles(world: World, role: str) -> None:
    headers = {} if role == "stranger" else api_token(world.portal, role)
    for method, path, allowed in _api_cases(world):
        body: dict[str, object] | None = UPLOAD if path.endswith("/uploads") else None
        if path.endswith("/care-team") and method == "POST":
            team = "doc@example.org" if "/P1/" in path else "other@example.org"
            body = {"doctor_email": team}
        r = world.portal.client.request(method, path, headers=headers, json=body)
        if role in allowed:
            assert r.status_code < 400 or r.status_code == 409, (role, path, r.status_code)
        elif role == "stranger":
            assert r.status_code == 401, (role, path, r.status_code)
        else:
            assert r.status_code in (403, 404), (role, path, r.status_code)
            # Reads of another's object look like absence; a write the role may never make is
            # refused by role (403) whatever the id, so neither tells what exists.
            if method == "GET" and path.startswith(("/api/v1/documents/", "/api/v1/patients/")):
                assert r.status_code == 404, (role, path)


@pytest.mark.parametrize("role", ROLES)
def test_pages_only_allow_their_roles(world: World, role: str) -> None:
    client = world.clients[role]
    for method, path, allowed in _page_cases(world):
        data = None
        if method == "POST":
            data = {**_form(path), "csrf_token": world.csrf.get(role, "")}
        r = client.request(method, path, data=data, follow_redirects=False)
        if role in allowed:
            assert r.status_code in (200, 303, 409), (role, path, r.status_code)
            if r.status_code == 303:
                assert not r.headers["location"].startswith("/login")
        elif role == "stranger":
            assert r.status_code == 303, (role, path, r.status_code)
            assert r.headers["location"].startswith("/login")
        else:
            assert r.status_code in (403, 404), (role, path, r.status_code)


def test_listings_show_only_what_the_role_may_see(world: World) -> None:
    seen = {}
    for role in ("patient", "doctor", "staff"):
        r = world.portal.client.get("/api/v1/documents", headers=api_token(world.portal, role))
        seen[role] = {d["id"] for d in r.json()["data"]}
    mine = {world.own, world.note_own, world.dictation_own, world.routed}
    assert seen["patient"] == mine
    assert seen["doctor"] == mine
    assert seen["staff"] == mine | {world.other, world.note_other, world.dictation_other}
    r = world.portal.client.get("/api/v1/patients", headers=api_token(world.portal, "patient"))
    assert [p["id"] for p in r.json()["data"]] == ["P1"]


def test_reads_of_patient_data_are_audited(world: World) -> None:
    world.portal.client.get(
        f"/api/v1/documents/{world.own}", headers=api_token(world.portal, "doctor")
    )
    entries = world.portal.platform.services.db.audit.list(object_id=world.own)
    assert any(e.actor == world.portal.users["doctor"] and e.action == "read" for e in entries)


def test_an_upload_naming_another_doctor_gives_them_that_document_only(world: World) -> None:
    """The outside probe's finding: one upload for P1 naming doctor 2 used to make doctor 2
    P1's doctor (no audit entry), so they could read P1's earlier reports and trend charts.
    Now it notifies doctor 2 and shows them that document; the record stays with P1's care
    team."""
    portal = world.portal
    routed = world.routed
    token = {"Authorization": f"Bearer {portal.accounts.issue_api_token(_id(world, 'doc2'))}"}
    api = portal.client
    for path in (
        f"/api/v1/documents/{routed}",
        f"/api/v1/documents/{routed}/results",
        f"/api/v1/documents/{routed}/fhir",
    ):
        assert api.get(path, headers=token).status_code == 200, path
    for path in (
        f"/api/v1/documents/{world.own}",  # P1's earlier lab report, sent to doctor 1
        f"/api/v1/documents/{world.note_own}",
        f"/api/v1/documents/{world.dictation_own}",
        "/api/v1/patients/P1",
        "/api/v1/patients/P1/health-records",
    ):
        assert api.get(path, headers=token).status_code == 404, path
    listed = api.get("/api/v1/documents", headers=token).json()["data"]
    assert [d["id"] for d in listed] == [routed]
    assert api.get("/api/v1/patients", headers=token).json()["data"] == []
    browser = TestClient(api.app, base_url="http://testserver")
    login(browser, "doc2@example.org")
    assert browser.get(f"/reports/{routed}").status_code == 200
    for path in (f"/reports/{world.own}", "/patients/P1/trends", "/records?patient_id=P1"):
        assert browser.get(path).status_code == 404, path
    assert "/patients/P1/trends" not in browser.get(f"/reports/{routed}").text
    # P1's own doctor keeps the whole record, and sees the new document too.
    doctor = api_token(portal, "doctor")
    assert world.clients["doctor"].get("/patients/P1/trends").status_code == 200
    assert api.get(f"/api/v1/documents/{routed}", headers=doctor).status_code == 200
    assert api.get("/api/v1/patients/P1", headers=doctor).json()["care_team"] == ["doc@example.org"]
    # Doctor 2 was told about that document, and the routing is in the audit log.
    db = portal.platform.services.db
    sent = db.notifications.list(limit=50)
    assert any(n.recipient == "doc2@example.org" and n.document_id == routed for n in sent)
    routings = [e.detail.get("doctor") for e in db.audit.list(object_id="P1", limit=500)]
    assert "doc2@example.org" in routings


def _id(world: World, who: str) -> str:
    user = world.portal.accounts.by_email(f"{who}@example.org")
    assert user is not None
    return user.id
