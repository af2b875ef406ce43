"""``AccountRepository``: users, sessions, API tokens, one-time tokens, login attempts,
upload tickets and read marks, on the platform's :class:`~medflow.platform.db.Database`."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from medflow.errors import InputError
from medflow.platform.db import Database, RecordNotFoundError
from medflow.platform.db.models import utcnow
from medflow.web.accounts.models import (
    ROLES,
    ApiTokenRow,
    LoginAttemptRow,
    OneTimeTokenRow,
    ReadMarkRow,
    Role,
    UploadTicketRow,
    UserRow,
)
from medflow.web.security import Budget, digest, hash_password, new_token, verify_password
from medflow.web.sessions import DatabaseSessionStore, SessionStore

TokenKind = Literal["invite", "reset"]


class AccountExistsError(InputError):
    """An account with this email exists already."""


@dataclass(frozen=True)
class User:
    """A portal user (never carries the password hash)."""

    id: str
    email: str
    name: str
    role: Role
    patient_id: str | None
    active: bool = True


@dataclass(frozen=True)
class ApiTokenInfo:
    """An issued API token, without the secret: ``id`` is the token's SHA-256 digest (safe to
    show, it cannot be turned back into the token)."""

    id: str
    user_id: str
    label: str
    created_at: datetime


@dataclass(frozen=True)
class SessionInfo:
    """A live session: its user and the CSRF token bound to it."""

    user: User
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True)
class UploadTicket:
    """What a signed upload URL was issued for."""

    id: str
    bucket: str
    key: str
    content_type: str
    size: int
    meta: dict[str, str]
    created_by: str
    expires_at: datetime
    document_id: str | None


def _user(row: UserRow) -> User:
    role = row.role if row.role in ROLES else "patient"
    return User(row.id, row.email, row.name, role, row.patient_id, bool(row.active))


def _ticket(row: UploadTicketRow) -> UploadTicket:
    meta = {str(k): str(v) for k, v in row.meta.items()}
    return UploadTicket(
        row.id,
        row.bucket,
        row.key,
        row.content_type,
        row.size,
        meta,
        row.created_by,
        row.expires_at,
        row.document_id,
    )


class AccountRepository:
    """Accounts and their secrets. Every method runs in its own transaction.

    Args:
        db: the platform database (migrated to ``0003`` or later).
        sessions: where login sessions live; default the database
            (:class:`~medflow.web.sessions.DatabaseSessionStore`).
    """

    def __init__(self, db: Database, sessions: SessionStore | None = None) -> None:
        self._db = db
        self.sessions: SessionStore = sessions or DatabaseSessionStore(db)

    # -- users ------------------------------------------------------------------------------

    def create_user(
        self,
        email: str,
        password: str,
        role: Role,
        *,
        name: str = "",
        patient_id: str | None = None,
    ) -> User:
        """A new account. Raises AccountExistsError when the email is taken."""
        row = UserRow(
            email=email.strip().lower(),
            name=name,
            role=role,
            password_hash=hash_password(password),
            patient_id=patient_id,
            active=1,
        )
        try:
            with self._db.transaction() as s:
                s.add(row)
                s.flush()
                return _user(row)
        except Exception as exc:
            if isinstance(exc.__cause__, IntegrityError) or isinstance(exc, IntegrityError):
                raise AccountExistsError("account", "an account with this email exists") from exc
            raise

    def count_users(self) -> int:
        """How many accounts exist."""
        with self._db.reading() as s:
            return int(s.scalar(select(func.count()).select_from(UserRow)) or 0)

    def by_email(self, email: str) -> User | None:
        """The account with ``email`` (case-insensitive), if any."""
        with self._db.reading() as s:
            row = s.scalar(select(UserRow).where(UserRow.email == email.strip().lower()))
            return None if row is None else _user(row)

    def get(self, user_id: str) -> User:
        """The account. Raises RecordNotFoundError."""
        with self._db.reading() as s:
            row = s.get(UserRow, user_id)
            if row is None:
                raise RecordNotFoundError(f"no user {user_id}")
            return _user(row)

    def list(self, role: Role | None = None) -> builtins.list[User]:
        """Accounts by email, optionally of one role."""
        q = select(UserRow).order_by(UserRow.email)
        if role is not None:
            q = q.where(UserRow.role == role)
        with self._db.reading() as s:
            return [_user(r) for r in s.scalars(q)]

    def authenticate(self, email: str, password: str) -> User | None:
        """The active account if ``password`` is right, else None (same time either way)."""
        with self._db.reading() as s:
            row = s.scalar(select(UserRow).where(UserRow.email == email.strip().lower()))
            stored = row.password_hash if row is not None and row.active else None
            user = _user(row) if row is not None else None
        return user if verify_password(stored, password) else None

    def set_active(self, user_id: str, active: bool) -> User:
        """Enable or disable an account. Disabling ends its sessions at once; its API tokens
        stop working while it is disabled (they are checked against the account on use).

        Raises:
            RecordNotFoundError: no such account.
        """
        with self._db.transaction() as s:
            row = s.get(UserRow, user_id)
            if row is None:
                raise RecordNotFoundError(f"no user {user_id}")
            row.active = 1 if active else 0
            user = _user(row)
        if not active:
            self.sessions.delete_user(user_id)
        return user

    def set_password(self, user_id: str, password: str) -> None:
        """Replace the password and end every session of the account."""
        with self._db.transaction() as s:
            row = s.get(UserRow, user_id)
            if row is None:
                raise RecordNotFoundError(f"no user {user_id}")
            row.password_hash = hash_password(password)
        self.sessions.delete_user(user_id)

    # -- sessions and API tokens ---------------------------------------------------------------

    def open_session(self, user_id: str, ttl_s: int) -> tuple[str, SessionInfo]:
        """A new session; returns the cookie value (shown once) and the session."""
        user = self.get(user_id)
        token, stored = self.sessions.create(user_id, ttl_s)
        return token, SessionInfo(user, stored.csrf_token, stored.expires_at)

    def session(self, token: str, ttl_s: int) -> SessionInfo | None:
        """The live session for a cookie value, its idle expiry pushed ``ttl_s`` ahead; None
        when unknown, expired, or its account is gone or disabled (then it is ended)."""
        stored = self.sessions.touch(token, ttl_s)
        if stored is None:
            return None
        with self._db.reading() as s:
            row = s.get(UserRow, stored.user_id)
            user = _user(row) if row is not None and row.active else None
        if user is None:
            self.sessions.delete(token)
            return None
        return SessionInfo(user, stored.csrf_token, stored.expires_at)

    def close_session(self, token: str) -> None:
        """End a session (logout)."""
        self.sessions.delete(token)

    def issue_api_token(self, user_id: str, label: str = "") -> str:
        """A new bearer token acting as ``user_id``; returned once, stored as a digest."""
        token = new_token()
        with self._db.transaction() as s:
            s.add(ApiTokenRow(id=digest(token), user_id=user_id, label=label))
        return token

    def api_tokens(self, user_id: str | None = None) -> builtins.list[ApiTokenInfo]:
        """Issued API tokens (never the secrets), newest first, optionally of one account."""
        q = select(ApiTokenRow).order_by(ApiTokenRow.created_at.desc(), ApiTokenRow.id)
        if user_id is not None:
            q = q.where(ApiTokenRow.user_id == user_id)
        with self._db.reading() as s:
            return [ApiTokenInfo(r.id, r.user_id, r.label, r.created_at) for r in s.scalars(q)]

    def revoke_api_token(self, token_id: str) -> ApiTokenInfo | None:
        """Delete the token whose digest is ``token_id``; returns it, or None if unknown."""
        with self._db.transaction() as s:
            row = s.get(ApiTokenRow, token_id)
            if row is None:
                return None
            info = ApiTokenInfo(row.id, row.user_id, row.label, row.created_at)
            s.delete(row)
            return info

    def token_user(self, token: str) -> User | None:
        """The active account behind a bearer token, if any."""
        with self._db.reading() as s:
            row = s.get(ApiTokenRow, digest(token))
            user = None if row is None else s.get(UserRow, row.user_id)
            return None if user is None or not user.active else _user(user)

    # -- one-time tokens (invitations, password resets) ---------------------------------------

    def issue_one_time(
        self,
        kind: TokenKind,
        email: str,
        ttl_s: int,
        *,
        patient_id: str | None = None,
        user_id: str | None = None,
    ) -> str:
        """A single-use token for an emailed link; returned once, stored as a digest."""
        token = new_token()
        with self._db.transaction() as s:
            s.add(
                OneTimeTokenRow(
                    id=digest(token),
                    kind=kind,
                    email=email.strip().lower(),
                    patient_id=patient_id,
                    user_id=user_id,
                    expires_at=utcnow() + timedelta(seconds=ttl_s),
                )
            )
        return token

    def peek_one_time(self, kind: TokenKind, token: str) -> dict[str, str | None] | None:
        """The token's email, patient and user if it is valid and unused, without using it."""
        with self._db.reading() as s:
            row = s.get(OneTimeTokenRow, digest(token))
            if row is None or row.kind != kind or row.used_at or row.expires_at <= utcnow():
                return None
            return {"email": row.email, "patient_id": row.patient_id, "user_id": row.user_id}

    def use_one_time(self, kind: TokenKind, token: str) -> dict[str, str | None] | None:
        """Like :meth:`peek_one_time`, and marks the token used (a second use gets None)."""
        with self._db.transaction() as s:
            row = s.get(OneTimeTokenRow, digest(token))
            if row is None or row.kind != kind or row.used_at or row.expires_at <= utcnow():
                return None
            row.used_at = utcnow()
            return {"email": row.email, "patient_id": row.patient_id, "user_id": row.user_id}

    # -- login throttling ----------------------------------------------------------------------

    def login_failures(self, key: str) -> tuple[int, datetime | None]:
        """Consecutive failures and the time of the last one for ``key`` (email + address)."""
        with self._db.reading() as s:
            row = s.get(LoginAttemptRow, key[:128])
            return (0, None) if row is None else (row.failures, row.last_at)

    def record_login(self, key: str, *, success: bool) -> None:
        """Count a failure, or clear the count after a success."""
        with self._db.transaction() as s:
            row = s.get(LoginAttemptRow, key[:128])
            if success:
                if row is not None:
                    s.delete(row)
                return
            if row is None:
                s.add(LoginAttemptRow(id=key[:128], failures=1, last_at=utcnow()))
            else:
                row.failures += 1
                row.last_at = utcnow()

    def budget_wait(self, key: str, budget: Budget) -> float:
        """Seconds until ``key``'s bucket has room for one more event (0: room now)."""
        with self._db.reading() as s:
            row = s.get(LoginAttemptRow, key[:128])
            if row is None:
                return 0.0
            level, since = _leaked(row.failures, row.last_at, budget)
        if level < budget.burst:
            return 0.0
        return max(0.0, (since - utcnow()).total_seconds() + budget.leak_s)

    def spend(self, key: str, budget: Budget) -> None:
        """Add one event to ``key``'s bucket (failed login, reset request)."""
        with self._db.transaction() as s:
            row = s.get(LoginAttemptRow, key[:128])
            if row is None:
                s.add(LoginAttemptRow(id=key[:128], failures=1, last_at=utcnow()))
                return
            level, since = _leaked(row.failures, row.last_at, budget)
            row.failures = level + 1
            row.last_at = since

    # -- upload tickets and read marks ----------------------------------------------------------

    def create_ticket(
        self,
        *,
        bucket: str,
        key: str,
        content_type: str,
        size: int,
        meta: Mapping[str, str],
        created_by: str,
        ttl_s: int,
    ) -> UploadTicket:
        """Record what a signed upload URL is for."""
        row = UploadTicketRow(
            bucket=bucket,
            key=key,
            content_type=content_type,
            size=size,
            meta=dict(meta),
            created_by=created_by,
            expires_at=utcnow() + timedelta(seconds=ttl_s),
        )
        with self._db.transaction() as s:
            s.add(row)
            s.flush()
            return _ticket(row)

    def ticket_for(self, bucket: str, key: str) -> UploadTicket | None:
        """The newest ticket issued for ``bucket``/``key``."""
        q = (
            select(UploadTicketRow)
            .where(UploadTicketRow.bucket == bucket, UploadTicketRow.key == key)
            .order_by(UploadTicketRow.created_at.desc())
        )
        with self._db.reading() as s:
            row = s.scalars(q).first()
            return None if row is None else _ticket(row)

    def tickets(self, limit: int = 50) -> builtins.list[UploadTicket]:
        """Recent tickets, newest first (the staff dashboard's uploads)."""
        q = select(UploadTicketRow).order_by(UploadTicketRow.created_at.desc()).limit(limit)
        with self._db.reading() as s:
            return [_ticket(r) for r in s.scalars(q)]

    def attach_document(self, ticket_id: str, document_id: str) -> None:
        """Note the document an upload ticket produced."""
        with self._db.transaction() as s:
            row = s.get(UploadTicketRow, ticket_id)
            if row is not None:
                row.document_id = document_id

    def mark_read(self, user_id: str, document_id: str) -> None:
        """Note that ``user_id`` opened the document's report (idempotent)."""
        with self._db.transaction() as s:
            if s.get(ReadMarkRow, (user_id, document_id)) is None:
                s.add(ReadMarkRow(user_id=user_id, document_id=document_id))

    def read_documents(self, user_id: str) -> set[str]:
        """Ids of documents ``user_id`` has opened."""
        with self._db.reading() as s:
            q = select(ReadMarkRow.document_id).where(ReadMarkRow.user_id == user_id)
            return set(s.scalars(q))


def _leaked(level: int, since: datetime, budget: Budget) -> tuple[int, datetime]:
    """A bucket's level after leaking since ``since``, and the time that level holds from
    (advanced by whole leak periods only, so partial periods are not lost)."""
    now = utcnow()
    periods = int(max(0.0, (now - since).total_seconds()) // budget.leak_s)
    left = max(0, level - periods)
    if left == 0:
        return 0, now
    return left, since + timedelta(seconds=periods * budget.leak_s)


def ticket_meta(values: Mapping[str, Any]) -> dict[str, str]:
    """Upload metadata as the object store takes it (``str -> str``, empty values dropped)."""
    return {k: str(v) for k, v in values.items() if v not in (None, "")}
