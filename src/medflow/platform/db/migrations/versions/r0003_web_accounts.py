"""Portal accounts: users, sessions, API tokens, one-time tokens (invitations, password
resets), login attempts, upload tickets and read marks.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the ``web_*`` tables."""
    op.create_table(
        "web_users",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("patient_id", sa.String(128), nullable=True),
        sa.Column("active", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.UniqueConstraint("email", name="uq_web_users_email"),
    )
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "user_id",
            sa.String(32),
            sa.ForeignKey("web_users.id", ondelete="CASCADE", name="fk_web_sessions_user_id"),
            nullable=False,
        ),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
    )
    op.create_index("ix_web_sessions_user", "web_sessions", ["user_id"])
    op.create_table(
        "web_api_tokens",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "user_id",
            sa.String(32),
            sa.ForeignKey("web_users.id", ondelete="CASCADE", name="fk_web_api_tokens_user_id"),
            nullable=False,
        ),
        sa.Column("label", sa.String(128), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_table(
        "web_one_time_tokens",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("patient_id", sa.String(128), nullable=True),
        sa.Column("user_id", sa.String(32), nullable=True),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("used_at", _TS, nullable=True),
    )
    op.create_table(
        "web_login_attempts",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_at", _TS, nullable=False),
    )
    op.create_table(
        "web_upload_tickets",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("bucket", sa.String(63), nullable=False),
        sa.Column("key", sa.String(1024), nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("document_id", sa.String(32), nullable=True),
    )
    op.create_index("ix_web_upload_tickets_object", "web_upload_tickets", ["bucket", "key"])
    op.create_table(
        "web_read_marks",
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("document_id", sa.String(32), primary_key=True),
        sa.Column("at", _TS, nullable=False),
    )


def downgrade() -> None:
    """Drop the ``web_*`` tables."""
    for table in (
        "web_read_marks",
        "web_upload_tickets",
        "web_login_attempts",
        "web_one_time_tokens",
        "web_api_tokens",
        "web_sessions",
        "web_users",
    ):
        op.drop_table(table)
