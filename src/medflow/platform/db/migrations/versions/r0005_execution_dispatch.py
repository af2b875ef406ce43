"""Executions remember when their next step was handed to a queue (the Celery runner).

``dispatched_at`` is set once a task message for the execution's next step was published and
cleared whenever a new message is owed (a step finished, a retry was scheduled). The runner's
sweeper republishes executions that owe a message and have none (the process died between its
database commit and the publish, or the broker was down): the transactional-outbox pattern.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``executions.dispatched_at`` (NULL: no message published for the current step)."""
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Drop the column."""
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.drop_column("dispatched_at")
