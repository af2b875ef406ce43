"""Contract suite of the Database repositories, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from medflow.platform.db import (
    Database,
    Finding,
    LeaseLostError,
    Observation,
    RecordNotFoundError,
)

TABLES = {
    "patients",
    "documents",
    "executions",
    "step_runs",
    "observations",
    "findings",
    "notifications",
    "audit_log",
}


def _doc(db: Database, key: str = "labs/a.pdf", sha: str = "a" * 64) -> str:
    doc, _ = db.documents.get_or_create(
        bucket="raw", key=key, sha256=sha, size=10, pipeline="labs", patient_id="P1"
    )
    return doc.id


def test_open_migrates_every_table(db: Database) -> None:
    assert set(db.table_names()) >= TABLES


def test_reopening_a_migrated_database_is_harmless(db: Database) -> None:
    doc_id = _doc(db)
    again = Database(db.url)
    assert again.documents.get(doc_id).key == "labs/a.pdf"
    again.close()


def test_patient_upsert_keeps_unset_fields(db: Database) -> None:
    db.patients.upsert("P1", name="Ann", sex="female", doctor_email="dr@x.org")
    p = db.patients.upsert("P1", email="ann@x.org")
    assert (p.name, p.sex, p.doctor_email, p.email) == ("Ann", "female", "dr@x.org", "ann@x.org")
    assert [q.id for q in db.patients.list()] == ["P1"]
    with pytest.raises(RecordNotFoundError):
        db.patients.get("nobody")


def test_document_get_or_create_is_idempotent(db: Database) -> None:
    first, created = db.documents.get_or_create(
        bucket="raw", key="labs/a.pdf", sha256="a" * 64, size=3, meta={"doctor": "dr@x.org"}
    )
    second, created_again = db.documents.get_or_create(
        bucket="raw", key="labs/a.pdf", sha256="a" * 64, size=3
    )
    assert created
    assert not created_again
    assert second.id == first.id
    assert first.filename == "a.pdf"
    assert first.meta == {"doctor": "dr@x.org"}
    assert first.created_at.tzinfo is not None


def test_document_for_unknown_patient_creates_the_patient(db: Database) -> None:
    doc_id = _doc(db)
    assert db.documents.get(doc_id).patient_id == "P1"
    assert db.patients.get("P1").id == "P1"
    assert [d.id for d in db.documents.list(patient_id="P1")] == [doc_id]
    assert db.documents.list(patient_id="P2") == []


def test_document_status_and_missing(db: Database) -> None:
    doc_id = _doc(db)
    db.documents.set_status(doc_id, "quarantined")
    assert db.documents.get(doc_id).status == "quarantined"
    with pytest.raises(LookupError):
        db.documents.get("missing")


def test_submit_dedupes_by_sha256_pipeline_and_version(db: Database) -> None:
    doc_id = _doc(db)
    e1, c1 = db.executions.submit(
        sha256="a" * 64, pipeline="labs", pipeline_version="1", event={"k": 1}, document_id=doc_id
    )
    e2, c2 = db.executions.submit(
        sha256="a" * 64, pipeline="labs", pipeline_version="1", event={"k": 2}
    )
    e3, c3 = db.executions.submit(
        sha256="a" * 64, pipeline="labs", pipeline_version="2", event={"k": 3}
    )
    assert (c1, c2, c3) == (True, False, True)
    assert e2.id == e1.id
    assert e3.id != e1.id
    assert e1.status == "pending"


def test_claim_gives_each_execution_to_one_worker(db: Database) -> None:
    ids = {
        db.executions.submit(sha256=f"{i:064}", pipeline="labs", pipeline_version="1", event={})[
            0
        ].id
        for i in range(6)
    }
    claimed: list[str] = []
    lock = threading.Lock()

    def worker(name: str) -> None:
        while (rec := db.executions.claim(name, lease_s=60)) is not None:
            with lock:
                claimed.append(rec.id)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(ids)


def test_claim_filters_by_pipeline_and_respects_next_run_at(db: Database) -> None:
    e, _ = db.executions.submit(sha256="b" * 64, pipeline="records", pipeline_version="1", event={})
    assert db.executions.claim("w", 60, pipelines=["labs"]) is None
    rec = db.executions.claim("w", 60, pipelines=["records"])
    assert rec is not None
    run = db.executions.start_step(e.id, "w", "parse", 1)
    db.executions.retry_later(e.id, "w", run, delay_s=3600, error="busy")
    assert db.executions.claim("w", 60) is None
    assert db.executions.get(e.id).status == "pending"


def test_expired_lease_is_taken_over_and_the_old_owner_is_refused(db: Database) -> None:
    e, _ = db.executions.submit(sha256="c" * 64, pipeline="labs", pipeline_version="1", event={})
    assert db.executions.claim("dead", lease_s=60) is not None
    db.executions.start_step(e.id, "dead", "parse", 1)
    assert db.executions.claim("alive", lease_s=60) is None
    taken = db.executions.claim("alive", lease_s=0.0)
    assert taken is not None
    assert taken.lease_owner == "alive"
    assert [s.status for s in db.executions.get(e.id).steps] == ["abandoned"]
    assert not db.executions.heartbeat(e.id, "dead")
    with pytest.raises(LeaseLostError):
        db.executions.complete_step(e.id, "dead", 1, 1, {}, 0.5)
    assert db.executions.heartbeat(e.id, "alive")


def test_step_lifecycle_is_recorded(db: Database) -> None:
    e, _ = db.executions.submit(sha256="d" * 64, pipeline="labs", pipeline_version="1", event={})
    db.executions.claim("w", 60)
    r1 = db.executions.start_step(e.id, "w", "parse", 1)
    db.executions.complete_step(e.id, "w", r1, 1, {"rows": 3}, 0.5)
    r2 = db.executions.start_step(e.id, "w", "store", 1)
    db.executions.fail_step(e.id, "w", r2, "ValueError: bad")
    db.executions.finish(e.id, "w", "quarantined", error="ValueError: bad", state={"rows": 3})
    got = db.executions.get(e.id)
    assert got.status == "quarantined"
    assert got.done
    assert got.state == {"rows": 3}
    assert got.next_step == 1
    assert got.finished_at is not None
    assert [(s.step, s.status) for s in got.steps] == [("parse", "succeeded"), ("store", "failed")]
    assert got.steps[0].duration_s is not None
    listed = db.executions.list(status="quarantined", with_steps=True)
    assert [x.id for x in listed] == [e.id]
    assert len(listed[0].steps) == 2
    assert db.executions.counts() == {"quarantined": 1}


def test_requeue_restarts_a_finished_execution(db: Database) -> None:
    e, _ = db.executions.submit(sha256="e" * 64, pipeline="labs", pipeline_version="1", event={})
    with pytest.raises(ValueError, match="pending"):
        db.executions.requeue(e.id)
    db.executions.claim("w", 60)
    db.executions.finish(e.id, "w", "failed", error="x", state={"error": {"step": "a"}, "k": 1})
    again = db.executions.requeue(e.id, from_step=0)
    assert again.status == "pending"
    assert again.state == {"k": 1}
    assert db.executions.claim("w2", 60) is not None


def test_progress_is_clamped_and_stored(db: Database) -> None:
    e, _ = db.executions.submit(sha256="f" * 64, pipeline="labs", pipeline_version="1", event={})
    db.executions.set_progress(e.id, 1.7, "page 3 of 3")
    got = db.executions.get(e.id)
    assert (got.progress, got.progress_message) == (1.0, "page 3 of 3")


def test_observations_are_replaced_not_duplicated(db: Database) -> None:
    doc_id = _doc(db)
    when = datetime(2026, 1, 5, 8, 30, tzinfo=UTC)
    rows = [
        Observation(
            name="Hemoglobin",
            value=11.2,
            unit="g/dL",
            loinc="718-7",
            flag="L",
            ref_low=12.0,
            ref_high=15.5,
            collected_at=when,
        ),
        Observation(name="Glucose", value=99.0, unit="mg/dL", loinc="2345-7", flag="N"),
    ]
    db.results.replace_observations(doc_id, rows, patient_id="P1")
    db.results.replace_observations(doc_id, rows, patient_id="P1")
    got = db.results.observations(document_id=doc_id)
    assert [o.name for o in got] == ["Hemoglobin", "Glucose"]
    assert len(got) == 2
    hb = db.results.observations(patient_id="P1", loinc="718-7")
    assert len(hb) == 1
    assert hb[0].value == 11.2
    assert hb[0].collected_at == when
    assert hb[0].document_id == doc_id


def test_findings_round_trip_in_order(db: Database) -> None:
    doc_id = _doc(db)
    findings = [
        Finding(
            code="anemia.microcytic",
            title="Microcytic anemia",
            severity="significant",
            explanation="Hb 11.2 g/dL with MCV 72 fL",
            evidence={"loinc": ["718-7"]},
        ),
        Finding(code="ckd.g3a", title="CKD G3a", severity="significant"),
    ]
    db.results.replace_findings(doc_id, findings)
    db.results.replace_findings(doc_id, findings[:1])
    got = db.results.findings(doc_id)
    assert [f.code for f in got] == ["anemia.microcytic"]
    assert got[0].evidence == {"loinc": ["718-7"]}


def test_notification_status_and_due_retries(db: Database) -> None:
    doc_id = _doc(db)
    n, _ = db.notifications.create(
        channel="email", recipient="dr@x.org", subject="Results", payload="MIME", document_id=doc_id
    )
    assert n.status == "queued"
    past = datetime.now(UTC) - timedelta(seconds=1)
    db.notifications.mark_failed(n.id, "connection refused", next_attempt_at=past)
    due = db.notifications.claim_due()
    assert [d.id for d in due] == [n.id]
    assert db.notifications.claim_due() == []
    db.notifications.mark_sent(n.id)
    got = db.notifications.get(n.id)
    assert (got.status, got.attempts, got.last_error) == ("sent", 2, None)
    assert got.sent_at is not None
    assert [x.id for x in db.notifications.list(document_id=doc_id)] == [n.id]


def test_notification_out_of_tries_is_not_due(db: Database) -> None:
    n, _ = db.notifications.create(channel="email", recipient="a@b.c", subject="s", payload="p")
    db.notifications.mark_failed(n.id, "550 no such user", next_attempt_at=None)
    assert db.notifications.claim_due() == []
    assert db.notifications.get(n.id).status == "failed"


def test_audit_log_appends_and_filters(db: Database) -> None:
    db.audit.record("u1", "read", "document", "d1", {"via": "web"})
    db.audit.record("u2", "upload", "document", "d2")
    entries = db.audit.list(object_type="document", object_id="d1")
    assert [(e.actor, e.action, e.detail) for e in entries] == [("u1", "read", {"via": "web"})]
    assert [e.actor for e in db.audit.list()] == ["u2", "u1"]


def test_notification_idempotency_key_returns_the_first(db: Database) -> None:
    first, created = db.notifications.create(
        channel="email", recipient="a@b.c", subject="s", payload="p", idempotency_key="labs:d1"
    )
    again, created_again = db.notifications.create(
        channel="email", recipient="a@b.c", subject="s", payload="p", idempotency_key="labs:d1"
    )
    other, _ = db.notifications.create(channel="email", recipient="a@b.c", subject="s", payload="p")
    assert (created, created_again) == (True, False)
    assert again.id == first.id
    assert other.id != first.id
    assert len(db.notifications.list()) == 2


def test_two_processes_claiming_together_never_share_an_execution(db: Database) -> None:
    ids = {
        db.executions.submit(sha256=f"{i:064x}", pipeline="labs", pipeline_version="1", event={})[
            0
        ].id
        for i in range(30)
    }
    other = Database(db.url)  # a second engine: its own connection pool, like another process
    claimed: list[str] = []
    lock = threading.Lock()

    def worker(database: Database, name: str) -> None:
        while (rec := database.executions.claim(name, lease_s=60)) is not None:
            with lock:
                claimed.append(rec.id)

    threads = [
        threading.Thread(target=worker, args=(database, f"{n}-{i}"))
        for n, database in (("a", db), ("b", other))
        for i in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other.close()
    assert sorted(claimed) == sorted(ids)


def test_claim_one_takes_only_the_named_step_of_a_due_execution(db: Database) -> None:
    e, _ = db.executions.submit(sha256="e" * 64, pipeline="labs", pipeline_version="1", event={})
    assert db.executions.claim_one(e.id, "w1", 60, step=1) is None  # a late or early message
    rec = db.executions.claim_one(e.id, "w1", 60, step=0)
    assert rec is not None
    assert (rec.status, rec.lease_owner) == ("running", "w1")
    assert db.executions.claim_one(e.id, "w2", 60, step=0) is None  # held by a live worker
    run = db.executions.start_step(e.id, "w1", "parse", 1)
    db.executions.handover(e.id, "w1", run, 1, {"rows": 2}, 0.5, 0.01)
    assert not db.executions.heartbeat(e.id, "w1")  # the lease was given up
    with pytest.raises(LeaseLostError):
        db.executions.start_step(e.id, "w1", "store", 1)
    assert db.executions.claim_one(e.id, "w2", 60, step=0) is None  # that step is done
    taken = db.executions.claim_one(e.id, "w2", 60, step=1)
    assert taken is not None
    assert (taken.state, taken.next_step, taken.lease_owner) == ({"rows": 2}, 1, "w2")
    assert [s.status for s in db.executions.get(e.id).steps] == ["succeeded"]
    assert db.executions.claim_one("no-such-id", "w2", 60, step=0) is None


def test_dead_owner_is_taken_over_by_claim_one_and_its_try_abandoned(db: Database) -> None:
    e, _ = db.executions.submit(sha256="f" * 64, pipeline="labs", pipeline_version="1", event={})
    db.executions.claim_one(e.id, "dead", 60, step=0)
    db.executions.start_step(e.id, "dead", "parse", 1)
    assert db.executions.claim_one(e.id, "alive", 60, step=0) is None
    assert db.executions.claim_one(e.id, "alive", 0.0, step=0) is not None
    assert db.executions.abandoned_count(e.id, "parse") == 1
    assert db.executions.abandoned_count(e.id, "store") == 0


def test_executions_owing_a_message_are_taken_for_dispatch_once(db: Database) -> None:
    fresh, _ = db.executions.submit(
        sha256="1" * 64, pipeline="labs", pipeline_version="1", event={}
    )
    sent, _ = db.executions.submit(sha256="2" * 64, pipeline="labs", pipeline_version="1", event={})
    dead, _ = db.executions.submit(sha256="3" * 64, pipeline="labs", pipeline_version="1", event={})
    db.executions.mark_dispatched(sent.id, 0)
    db.executions.mark_dispatched(dead.id, 0)
    db.executions.claim_one(dead.id, "dead", 60, step=0)
    owed = db.executions.take_for_dispatch(lease_s=60, grace_s=0, redispatch_s=3600)
    assert [(d.execution_id, d.pipeline, d.next_step) for d in owed] == [(fresh.id, "labs", 0)]
    assert db.executions.take_for_dispatch(lease_s=60, grace_s=0, redispatch_s=3600) == []
    # A worker that stopped renewing its lease owes its step again.
    lapsed = db.executions.take_for_dispatch(lease_s=0, grace_s=0, redispatch_s=3600)
    assert [d.execution_id for d in lapsed] == [dead.id]
    # A publish that failed is owed again at once.
    db.executions.mark_dispatched(fresh.id, 0, dispatched=False)
    again = db.executions.take_for_dispatch(lease_s=60, grace_s=0, redispatch_s=3600)
    assert [d.execution_id for d in again] == [fresh.id]
    # A retry scheduled for later owes nothing until it is due.
    db.executions.claim_one(fresh.id, "w", 60, step=0)
    run = db.executions.start_step(fresh.id, "w", "parse", 1)
    db.executions.retry_later(fresh.id, "w", run, delay_s=3600, error="busy")
    assert db.executions.take_for_dispatch(lease_s=60, grace_s=0, redispatch_s=3600) == []
