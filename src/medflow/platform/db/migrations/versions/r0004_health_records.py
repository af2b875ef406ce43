"""Health records: one structured record per dictated document, queried by patient.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``health_records`` (unique per document, indexed by patient)."""
    op.create_table(
        "health_records",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("document_id", sa.String(32), nullable=False),
        sa.Column("patient_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("title", sa.String(256), nullable=False),
        sa.Column("transcript", sa.Text(), nullable=False),
        sa.Column("resume", sa.JSON(), nullable=False),
        sa.Column("html_key", sa.String(512), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_health_records"),
        sa.UniqueConstraint("document_id", name="uq_health_records_document_id"),
    )
    op.create_index("ix_health_records_patient_id", "health_records", ["patient_id"])


def downgrade() -> None:
    """Drop the table."""
    op.drop_index("ix_health_records_patient_id", table_name="health_records")
    op.drop_table("health_records")
