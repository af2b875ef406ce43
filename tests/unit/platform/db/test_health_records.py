"""Health records: one row per document (upsert), listed by patient, created by migration 0004."""

from __future__ import annotations

from pathlib import Path

import pytest

from medflow.platform.db import Database, RecordNotFoundError
from medflow.platform.db.health_records import health_record_repository


def _upsert(db: Database, doc: str, patient: str, transcript: str) -> str:
    record = health_record_repository(db).upsert(
        doc,
        patient,
        kind="dictation",
        title="t",
        transcript=transcript,
        resume={"medications": [{"name": "metformin"}]},
        html_key=f"dictation/{doc}/resume.html",
    )
    return record.id


def test_upsert_per_document_and_list_by_patient(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'h.db'}")
    first = _upsert(db, "d1", "P-1", "first")
    assert _upsert(db, "d1", "P-1", "second") == first, "the same document keeps its record"
    _upsert(db, "d2", "P-1", "other")
    _upsert(db, "d3", "P-2", "someone else")
    repo = health_record_repository(db)
    records = repo.list_by_patient("P-1")
    assert [(r.document_id, r.transcript) for r in records] == [("d1", "second"), ("d2", "other")]
    assert records[0].resume == {"medications": [{"name": "metformin"}]}
    assert records[0].updated_at >= records[0].created_at
    assert repo.list_by_patient("P-3") == []
    with pytest.raises(RecordNotFoundError):
        repo.get("missing")


def test_downgrading_past_0004_drops_the_table(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'h.db'}")
    assert "health_records" in db.table_names()
    db.downgrade("0003")
    assert "health_records" not in db.table_names()
    db.migrate("head")
    assert "health_records" in db.table_names()
