"""Care teams on SQLite and PostgreSQL alike: the migration turns every patient's assigned
doctor into a membership (and back), and each membership change is audited."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from medflow.platform.db import Database, RecordNotFoundError
from medflow.platform.db.care_team import care_team_repository


def test_the_migration_turns_assignments_into_care_team_rows_and_back(db: Database) -> None:
    db.downgrade("0005")
    try:
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO patients (id, name, sex, doctor_email, created_at) VALUES "
                    "('A', 'Ann', 'female', ' Dr.One@Example.org ', '2026-01-02 03:04:05'),"
                    "('B', 'Bob', 'male', NULL, '2026-01-02 03:04:05'),"
                    "('C', 'Cy', 'male', '', '2026-01-02 03:04:05')"
                )
            )
        db.migrate("head")
        team = care_team_repository(db)
        [member] = team.members("A")
        assert (member.doctor_email, member.added_by) == ("dr.one@example.org", "migration")
        assert member.since.year == 2026 and member.since.tzinfo is not None
        assert team.members("B") == [] and team.members("C") == []
        # A doctor added later survives a downgrade as the patient's assigned doctor.
        team.add("B", "dr.two@example.org", actor="u1")
        db.downgrade("0005")
        with db.engine.connect() as conn:
            rows = dict(conn.execute(text("SELECT id, doctor_email FROM patients")).all())
        assert rows["A"] == " Dr.One@Example.org "
        assert rows["B"] == "dr.two@example.org"
    finally:
        db.migrate("head")


def test_changes_are_audited_and_idempotent(db: Database) -> None:
    team = care_team_repository(db)
    db.patients.upsert("P1", name="Ann", doctor_email="dr@x.org")
    member, created = team.add("P1", "Dr@X.org", actor="staff-1")
    assert created and member.doctor_email == "dr@x.org" and member.added_by == "staff-1"
    assert team.add("P1", "dr@x.org", actor="staff-2") == (member, False)
    assert team.is_member("P1", "DR@x.org") and team.patient_ids("dr@x.org") == ["P1"]
    assert team.remove("P1", "dr@x.org", actor="staff-2")
    assert not team.remove("P1", "dr@x.org", actor="staff-2")
    assert team.members("P1") == []
    # The removed doctor is no longer the upload form's default for this patient.
    assert db.patients.get("P1").doctor_email is None
    entries = db.audit.list(object_type="patient", object_id="P1")
    assert sorted((e.actor, e.action, e.detail["doctor"]) for e in entries) == [
        ("staff-1", "care-team-add", "dr@x.org"),
        ("staff-2", "care-team-remove", "dr@x.org"),
    ]
    with pytest.raises(RecordNotFoundError):
        team.add("nobody", "dr@x.org", actor="staff-1")
