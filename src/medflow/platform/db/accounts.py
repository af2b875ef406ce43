"""Tables of the web portal's accounts (migration ``0003``). They live beside the platform's
other tables, on the same declarative ``Base``, so ``alembic upgrade head`` and the
models/migrations check see them; the queries are in :mod:`medflow.web.accounts`.

Secrets are never stored: session ids, API tokens, invitation and reset tokens are kept as
SHA-256 digests (a stolen database grants no session), passwords as argon2id hashes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from medflow.platform.db.models import Base, new_id, utcnow

Role = Literal["staff", "doctor", "patient", "admin"]
ROLES: tuple[Role, ...] = ("staff", "doctor", "patient", "admin")


class UserRow(Base):
    """A person who logs in. ``patient_id`` links a patient account to its records."""

    __tablename__ = "web_users"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(256), default="")
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(256))
    patient_id: Mapped[str | None] = mapped_column(String(128))
    active: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SessionRow(Base):
    """A server-side login session; ``id`` is the SHA-256 of the cookie value."""

    __tablename__ = "web_sessions"
    __table_args__ = (Index("ix_web_sessions_user", "user_id"),)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("web_users.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class ApiTokenRow(Base):
    """A bearer token for a machine client, acting as ``user_id``."""

    __tablename__ = "web_api_tokens"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("web_users.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OneTimeTokenRow(Base):
    """An emailed single-use token: ``invite`` (sign-up for a patient) or ``reset``."""

    __tablename__ = "web_one_time_tokens"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    email: Mapped[str] = mapped_column(String(320))
    patient_id: Mapped[str | None] = mapped_column(String(128))
    user_id: Mapped[str | None] = mapped_column(String(32))
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()


class LoginAttemptRow(Base):
    """Throttle counters: failed logins per (email, client address) for the exponential
    slow-down (key ``email|address``), and the leaky-bucket budgets per address (``ip:``),
    per tried password (``pw:``) and for reset requests (``reset-ip:``, ``reset:``), where
    ``failures`` is the bucket's level and ``last_at`` the time it holds from."""

    __tablename__ = "web_login_attempts"
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[datetime] = mapped_column(default=utcnow)


class UploadTicketRow(Base):
    """What a signed upload URL was issued for: the PUT is checked against it and stores the
    metadata recorded here, so a client cannot change the patient after approval."""

    __tablename__ = "web_upload_tickets"
    __table_args__ = (Index("ix_web_upload_tickets_object", "bucket", "key"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    bucket: Mapped[str] = mapped_column(String(63))
    key: Mapped[str] = mapped_column(String(1024))
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    document_id: Mapped[str | None] = mapped_column(String(32))


class ReadMarkRow(Base):
    """A user opened a document's report (the doctor inbox's read/unread)."""

    __tablename__ = "web_read_marks"
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    document_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
