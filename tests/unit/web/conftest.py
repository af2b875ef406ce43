"""A portal on an in-memory store, memory notifier and a temporary SQLite database, with one
account per role and helpers to log in and upload through the signed-URL flow."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from medflow.pipelines.labs import build_pipeline
from medflow.platform import Platform, Settings
from medflow.platform.db.care_team import care_team_repository
from medflow.platform.runner import Pipeline
from medflow.web.accounts import AccountRepository
from medflow.web.app import create_app
from medflow.web.security import use_hasher

PASSWORD = "correct horse battery"
SAMPLES = Path(__file__).parents[3] / "src" / "medflow" / "samples" / "labs"


@dataclass
class Portal:
    """The app, its platform and accounts, and the id of one account per role."""

    platform: Platform
    accounts: AccountRepository
    client: TestClient
    users: dict[str, str]


def every_pipeline() -> list[Pipeline]:
    """Every pipeline medflow has (imaging with its study pipeline), built light: dictation
    transcribes with the speech test kit's deterministic energy engine (no model loads), the
    records pipeline skips anomaly detection."""
    import sys

    from medflow.analyzers.records import CheckOptions
    from medflow.analyzers.speech import Transcriber
    from medflow.pipelines.dictation import LazyTranscriber
    from medflow.pipelines.dictation import build_pipeline as dictation_pipeline
    from medflow.pipelines.documents import build_pipeline as documents_pipeline
    from medflow.pipelines.imaging import ImagingConfig, imaging_pipelines
    from medflow.pipelines.records import RecordsConfig, records_pipeline

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures" / "audio"))
    from speech_testkit import EnergyEngine

    lazy = LazyTranscriber(lambda: Transcriber(engine=EnergyEngine()))
    imaging = imaging_pipelines(
        ImagingConfig(deid_secret=b"web-upload-test-secret-0123456789", provider_email="")
    )
    return [
        build_pipeline(),
        records_pipeline(RecordsConfig(options=CheckOptions(anomalies=False))),
        *imaging,
        documents_pipeline(),
        dictation_pipeline(lazy),
    ]


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing() -> Iterator[None]:
    # Production parameters cost ~0.5 s per hash on a busy CI box; the tests check behaviour,
    # not hash strength.
    previous = use_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    yield
    use_hasher(previous)


@contextmanager
def make_portal(
    tmp_path: Path,
    pipelines: Sequence[Pipeline] | None = None,
    max_upload_bytes: int = 2_000_000,
    web: dict[str, object] | None = None,
) -> Iterator[Portal]:
    """A portal with patients P1 (doctor doc@ on the care team) and P2 (another doctor's) and
    one user per role, running ``pipelines`` (the labs pipeline alone by default); ``web``
    replaces the web settings (default: links to ``http://testserver``)."""
    settings = Settings(
        data_dir=tmp_path,
        storage={"backend": "memory", "max_upload_bytes": max_upload_bytes},
        notify={"backend": "memory"},
        security={"signing_secret": "test-secret-for-web-unit-tests"},
        web=web if web is not None else {"base_url": "http://testserver"},
    )
    platform = Platform(settings, pipelines=list(pipelines or [build_pipeline()]))
    app = create_app(platform, admin_email="admin@example.org", admin_password=PASSWORD)
    accounts: AccountRepository = app.state.portal.accounts
    users = {"admin": accounts.by_email("admin@example.org").id}  # type: ignore[union-attr]
    db = platform.services.db
    db.patients.upsert("P1", name="Ada One", doctor_email="doc@example.org")
    db.patients.upsert("P2", name="Bob Two", doctor_email="other@example.org")
    team = care_team_repository(db)
    team.add("P1", "doc@example.org", actor=users["admin"])
    team.add("P2", "other@example.org", actor=users["admin"])
    for role, email, patient in (
        ("staff", "staff@example.org", None),
        ("doctor", "doc@example.org", None),
        ("patient", "pat@example.org", "P1"),
    ):
        users[role] = accounts.create_user(email, PASSWORD, role, patient_id=patient).id  # type: ignore[arg-type]
    try:
        with TestClient(app, base_url="http://testserver") as client:
            yield Portal(platform, accounts, client, users)
    finally:
        platform.close()


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[Portal]:
    with make_portal(tmp_path) as made:
        yield made


def login(client: TestClient, email: str, password: str = PASSWORD) -> str:
    """Log in through the form; return the session's CSRF token (read from a page)."""
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    r = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token.group(1), "next": "/"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    home = client.get("/")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', home.text)
    assert csrf is not None
    return csrf.group(1)


def api_token(portal: Portal, role: str) -> dict[str, str]:
    """An Authorization header for a machine client acting as ``role``'s account."""
    return {"Authorization": f"Bearer {portal.accounts.issue_api_token(portal.users[role])}"}


def upload(
    portal: Portal,
    data: bytes,
    *,
    patient_id: str = "P1",
    content_type: str = "application/pdf",
    filename: str = "report.pdf",
    doctor_email: str | None = "doc@example.org",
    pipeline: str | None = None,
) -> str:
    """Upload through the API as staff (signed URL then PUT) for ``pipeline`` (the request
    names none when None: labs); return the document id."""
    headers = api_token(portal, "staff")
    body: dict[str, object] = {
        "filename": filename,
        "content_type": content_type,
        "size": len(data),
        "patient_id": patient_id,
    }
    if pipeline is not None:
        body["pipeline"] = pipeline
    if doctor_email:
        body["doctor_email"] = doctor_email
    r = portal.client.post("/api/v1/uploads", json=body, headers=headers)
    assert r.status_code == 201, r.text
    ticket = r.json()
    put = portal.client.put(ticket["upload_url"], content=data, headers=ticket["headers"])
    assert put.status_code == 201, put.text
    doc_id: str = put.json()["document_id"]
    return doc_id


def store_clinical(
    portal: Portal,
    pipeline: str,
    text: str,
    entities: list[dict[str, object]],
    *,
    patient_id: str = "P1",
    doctor_email: str | None = "doc@example.org",
    name: str = "note.txt",
) -> str:
    """A documents or dictation run's stored output, as those pipelines write it: a document
    row, ``result.json`` (entities with exact offsets into ``text``) and the text
    (``text.txt``, or ``transcript.json`` for dictation; dictation also gets ``resume.html``
    and its health record). Returns the document id."""
    import hashlib
    import json

    from medflow.domain.clinical import ClinicalResult
    from medflow.platform.db.health_records import health_record_repository

    db = portal.platform.services.db
    store = portal.platform.services.store
    meta = {"doctor_email": doctor_email} if doctor_email else {}
    doc, _ = db.documents.get_or_create(
        bucket="raw",
        key=f"{pipeline}/{name}",
        sha256=hashlib.sha256(f"{pipeline}{patient_id}{text}".encode()).hexdigest(),
        size=len(text),
        filename=name,
        content_type="text/plain",
        pipeline=pipeline,
        patient_id=patient_id,
        meta=meta,
    )
    result = ClinicalResult(text_length=len(text), entities=entities, model_version="test")  # type: ignore[arg-type]
    base = f"{pipeline}/{doc.id}"
    store.put("results", f"{base}/result.json", result.model_dump_json().encode())
    if pipeline == "dictation":
        transcript = {"text": text, "words": [], "segments": [], "duration_s": 1.0}
        store.put("results", f"{base}/transcript.json", json.dumps(transcript).encode())
        store.put("results", f"{base}/resume.html", b"<html><body><h1>Resume</h1></body></html>")
        health_record_repository(db).upsert(
            doc.id,
            patient_id,
            kind="dictation",
            title=f"Dictation {name}",
            transcript=text,
            resume={"chief_complaint": "cough", "patient": {"id": patient_id}},
            html_key=f"{base}/resume.html",
        )
    else:
        store.put("results", f"{base}/text.txt", text.encode())
    return doc.id


def entity(
    text: str,
    phrase: str,
    category: str,
    type_: str,
    *,
    id_: int,
    traits: tuple[str, ...] = (),
    icd10: tuple[str, str] | None = None,
    rxnorm: tuple[str, str] | None = None,
    attributes: tuple[tuple[str, str], ...] = (),
    occurrence: int = 0,
) -> dict[str, object]:
    """An entity (as a dict) for ``phrase``'s ``occurrence``-th place in ``text``."""
    begin = -1
    for _ in range(occurrence + 1):
        begin = text.index(phrase, begin + 1)
    found: dict[str, object] = {
        "id": id_,
        "begin": begin,
        "end": begin + len(phrase),
        "text": phrase,
        "category": category,
        "type": type_,
        "score": 0.9,
        "traits": [{"name": t, "score": 0.9} for t in traits],
    }
    if icd10:
        found["icd10cm"] = [{"code": icd10[0], "description": icd10[1], "score": 0.8}]
    if rxnorm:
        found["rxnorm"] = [{"code": rxnorm[0], "description": rxnorm[1], "score": 0.8}]
    attrs = []
    for n, (kind, value) in enumerate(attributes):
        at = text.index(value, begin)
        attrs.append(
            {
                "id": 100 + id_ * 10 + n,
                "begin": at,
                "end": at + len(value),
                "text": value,
                "type": kind,
                "category": category,
                "score": 0.9,
                "relationship_type": "WITH_DOSAGE",
                "relationship_score": 0.9,
            }
        )
    found["attributes"] = attrs
    return found
