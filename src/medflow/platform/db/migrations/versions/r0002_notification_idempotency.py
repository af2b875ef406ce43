"""Notifications get an idempotency key, so a notify step run twice sends one message.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``notifications.idempotency_key`` (unique; NULLs allowed)."""
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=200), nullable=True))
        batch_op.create_unique_constraint("uq_notifications_idempotency_key", ["idempotency_key"])


def downgrade() -> None:
    """Drop the column."""
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint("uq_notifications_idempotency_key", type_="unique")
        batch_op.drop_column("idempotency_key")
