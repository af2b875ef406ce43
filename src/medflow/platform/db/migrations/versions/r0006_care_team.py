"""Care teams: the doctors who may read a patient's whole record (issue 13).

Every ``patients.doctor_email`` set before this revision becomes a care-team membership (since
the patient's creation, added by ``migration``); the column stays, as the upload form's default
doctor, and no longer grants access by itself. Downgrading writes a patient's longest-standing
member back into an empty ``doctor_email`` before the table is dropped, so no assignment is lost
either way.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``care_team`` and fill it from ``patients.doctor_email``."""
    op.create_table(
        "care_team",
        sa.Column("patient_id", sa.String(128), nullable=False),
        sa.Column("doctor_email", sa.String(320), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_by", sa.String(128), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name="fk_care_team_patient_id_patients",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("patient_id", "doctor_email", name="pk_care_team"),
    )
    op.create_index("ix_care_team_doctor", "care_team", ["doctor_email"])
    op.execute(
        "INSERT INTO care_team (patient_id, doctor_email, since, added_by) "
        "SELECT id, lower(trim(doctor_email)), created_at, 'migration' FROM patients "
        "WHERE doctor_email IS NOT NULL AND trim(doctor_email) <> ''"
    )


def downgrade() -> None:
    """Keep each patient's longest-standing member as ``doctor_email``, then drop the table."""
    op.execute(
        "UPDATE patients SET doctor_email = (SELECT c.doctor_email FROM care_team c "
        "WHERE c.patient_id = patients.id ORDER BY c.since, c.doctor_email LIMIT 1) "
        "WHERE doctor_email IS NULL OR trim(doctor_email) = ''"
    )
    op.drop_index("ix_care_team_doctor", table_name="care_team")
    op.drop_table("care_team")
