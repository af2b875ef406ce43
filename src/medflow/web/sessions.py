"""Server-side login sessions: the ``SessionStore`` port and its two adapters.

``DatabaseSessionStore`` keeps sessions in the platform database (the default);
``RedisSessionStore`` keeps them in Redis (``MEDFLOW_WEB__SESSION_BACKEND=redis`` with
``MEDFLOW_WEB__SESSION_REDIS_URL``), so several portal processes share them without writing
the database on every request.

Both keep the same semantics, held in place by one contract suite run against each:

- the cookie value is a 256-bit random token; only its SHA-256 is stored (a stolen store
  grants no session, OWASP Session Management Cheat Sheet);
- a session expires after ``ttl_s`` seconds without use (sliding idle expiry); each use
  pushes the expiry ``ttl_s`` ahead, written at most once a minute to keep reads cheap;
- an expired session is gone: reading it answers None and deletes it;
- all sessions of one account can be ended at once (password change, account disabled).

Whether the account behind a session is still active is not the store's business: the
:class:`~medflow.web.accounts.AccountRepository` checks that on every read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import delete

from medflow.errors import DependencyMissingError, TransientError
from medflow.platform.db import Database
from medflow.platform.db.accounts import SessionRow
from medflow.platform.db.models import utcnow
from medflow.web.security import digest, new_token

if TYPE_CHECKING:
    import redis

Clock = Callable[[], datetime]

RENEW_EVERY = timedelta(seconds=60)
"""A session's expiry is rewritten only when it would move by more than this."""


class SessionStoreError(TransientError):
    """The session store cannot be reached (Redis down); the request may be retried."""


@dataclass(frozen=True)
class StoredSession:
    """What a session store keeps for one session.

    Attributes:
        user_id: the account logged in.
        csrf_token: the CSRF token bound to the session (sent back in forms and headers).
        expires_at: when the session ends unless used again (timezone-aware UTC).
    """

    user_id: str
    csrf_token: str
    expires_at: datetime


class SessionStore(Protocol):
    """Port: where server-side sessions live.

    Every method takes the cookie value (the token) as the client sent it; stores keep only
    its digest. Adapters raise :class:`SessionStoreError` when their backend cannot be
    reached, never a driver exception.
    """

    def create(self, user_id: str, ttl_s: int) -> tuple[str, StoredSession]:
        """Open a session for ``user_id`` lasting ``ttl_s`` idle seconds.

        Returns:
            The cookie value (shown once, never stored) and the session.
        """
        ...

    def touch(self, token: str, ttl_s: int) -> StoredSession | None:
        """The live session for ``token`` with its idle expiry pushed ``ttl_s`` ahead; None
        when unknown or expired (an expired session is deleted)."""
        ...

    def delete(self, token: str) -> None:
        """End one session (logout). Unknown tokens are ignored."""
        ...

    def delete_user(self, user_id: str) -> int:
        """End every session of ``user_id``; returns how many were ended."""
        ...


class DatabaseSessionStore:
    """Sessions as rows of ``web_sessions`` in the platform database (the default).

    Args:
        db: the platform database (migrated to ``0003`` or later).
        clock: the current time (tests move it forward); default :func:`utcnow`.
    """

    def __init__(self, db: Database, clock: Clock = utcnow) -> None:
        self._db = db
        self._now = clock

    def create(self, user_id: str, ttl_s: int) -> tuple[str, StoredSession]:
        """See :meth:`SessionStore.create`."""
        token, csrf = new_token(), new_token()
        expires = self._now() + timedelta(seconds=ttl_s)
        with self._db.transaction() as s:
            s.add(
                SessionRow(id=digest(token), user_id=user_id, csrf_token=csrf, expires_at=expires)
            )
        return token, StoredSession(user_id, csrf, expires)

    def touch(self, token: str, ttl_s: int) -> StoredSession | None:
        """See :meth:`SessionStore.touch`."""
        now = self._now()
        with self._db.transaction() as s:
            row = s.get(SessionRow, digest(token))
            if row is None:
                return None
            if row.expires_at <= now:
                s.delete(row)
                return None
            renewed = now + timedelta(seconds=ttl_s)
            if renewed - row.expires_at > RENEW_EVERY:
                row.expires_at = renewed
            return StoredSession(row.user_id, row.csrf_token, row.expires_at)

    def delete(self, token: str) -> None:
        """See :meth:`SessionStore.delete`."""
        with self._db.transaction() as s:
            s.execute(delete(SessionRow).where(SessionRow.id == digest(token)))

    def delete_user(self, user_id: str) -> int:
        """See :meth:`SessionStore.delete_user`."""
        with self._db.transaction() as s:
            gone = s.execute(delete(SessionRow).where(SessionRow.user_id == user_id))
            return int(getattr(gone, "rowcount", 0) or 0)


class RedisSessionStore:
    """Sessions as Redis hashes, ``<prefix>s:<digest>`` -> {user, csrf, exp}.

    Redis expires each key itself at the session's expiry (``PEXPIRE``), so abandoned
    sessions cost nothing; the stored expiry is still checked on read, so the semantics do not
    depend on Redis's expiry sweep. ``<prefix>u:<user id>`` is a set of the account's session
    digests, for ending them all at once.

    Args:
        client: a ``redis.Redis`` client (``decode_responses`` either way).
        prefix: key prefix, so one Redis can serve several deployments (and tests).
        clock: the current time (tests move it forward); default :func:`utcnow`.
    """

    def __init__(
        self, client: redis.Redis, prefix: str = "medflow:", clock: Clock = utcnow
    ) -> None:
        self._r = client
        self._prefix = prefix
        self._now = clock

    @classmethod
    def from_url(cls, url: str, prefix: str = "medflow:") -> RedisSessionStore:
        """A store on the Redis at ``url`` (``redis://host:port/db``).

        Raises:
            DependencyMissingError: the ``redis`` package is not installed.
        """
        try:
            import redis as redis_lib
        except ImportError as exc:
            raise DependencyMissingError("the Redis session store", "celery", "redis") from exc
        return cls(redis_lib.Redis.from_url(url, socket_timeout=5), prefix)

    def _key(self, token: str) -> str:
        return f"{self._prefix}s:{digest(token)}"

    def _user_key(self, user_id: str) -> str:
        return f"{self._prefix}u:{user_id}"

    def _ms_left(self, expires: datetime, now: datetime) -> int:
        return max(1, int((expires - now).total_seconds() * 1000))

    def create(self, user_id: str, ttl_s: int) -> tuple[str, StoredSession]:
        """See :meth:`SessionStore.create`."""
        token, csrf = new_token(), new_token()
        now = self._now()
        expires = now + timedelta(seconds=ttl_s)
        key, user_key = self._key(token), self._user_key(user_id)
        with _translated("open a session"):
            pipe = self._r.pipeline()
            pipe.hset(key, mapping={"user": user_id, "csrf": csrf, "exp": expires.isoformat()})
            pipe.pexpire(key, self._ms_left(expires, now))
            pipe.sadd(user_key, key)
            pipe.execute()
        return token, StoredSession(user_id, csrf, expires)

    def touch(self, token: str, ttl_s: int) -> StoredSession | None:
        """See :meth:`SessionStore.touch`."""
        now = self._now()
        key = self._key(token)
        with _translated("read a session"):
            raw = self._r.hgetall(key)
            if not raw:
                return None
            fields = {_text(k): _text(v) for k, v in raw.items()}
            try:
                user_id, csrf = fields["user"], fields["csrf"]
                expires = datetime.fromisoformat(fields["exp"]).astimezone(UTC)
            except (KeyError, ValueError):
                self._r.delete(key)  # not written by this store: never a valid session
                return None
            if expires <= now:
                self._forget(key, user_id)
                return None
            renewed = now + timedelta(seconds=ttl_s)
            if renewed - expires > RENEW_EVERY:
                expires = renewed
                pipe = self._r.pipeline()
                pipe.hset(key, "exp", expires.isoformat())
                pipe.pexpire(key, self._ms_left(expires, now))
                pipe.execute()
        return StoredSession(user_id, csrf, expires)

    def _forget(self, key: str, user_id: str) -> None:
        pipe = self._r.pipeline()
        pipe.delete(key)
        pipe.srem(self._user_key(user_id), key)
        pipe.execute()

    def delete(self, token: str) -> None:
        """See :meth:`SessionStore.delete`."""
        key = self._key(token)
        with _translated("end a session"):
            user_id = self._r.hget(key, "user")
            if user_id is None:
                self._r.delete(key)
                return
            self._forget(key, _text(user_id))

    def delete_user(self, user_id: str) -> int:
        """See :meth:`SessionStore.delete_user`."""
        user_key = self._user_key(user_id)
        with _translated("end an account's sessions"):
            keys = [_text(k) for k in self._r.smembers(user_key)]
            ended = int(self._r.delete(*keys)) if keys else 0
            self._r.delete(user_key)
        return ended


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@contextmanager
def _translated(doing: str) -> Iterator[None]:
    """Turn a redis-py error into :class:`SessionStoreError` (no driver error crosses the
    port)."""
    import redis as redis_lib

    try:
        yield
    except redis_lib.RedisError as exc:
        raise SessionStoreError(
            f"could not {doing}: the Redis session store failed ({type(exc).__name__}); "
            "check web.session_redis_url and that Redis runs"
        ) from exc


def build_session_store(
    db: Database, backend: str = "database", redis_url: str | None = None, prefix: str = "medflow:"
) -> SessionStore:
    """The session store the web settings name.

    Args:
        db: the platform database (the ``database`` backend's home).
        backend: ``database`` or ``redis``.
        redis_url: the Redis URL (required for ``redis``).
        prefix: the Redis key prefix.

    Raises:
        ConfigError: ``redis`` without a URL, or an unknown backend.
    """
    from medflow.errors import ConfigError

    if backend == "database":
        return DatabaseSessionStore(db)
    if backend == "redis":
        if not redis_url:
            raise ConfigError(
                "web.session_backend is redis but web.session_redis_url is not set "
                "(MEDFLOW_WEB__SESSION_REDIS_URL=redis://127.0.0.1:6379/0)"
            )
        return RedisSessionStore.from_url(redis_url, prefix)
    raise ConfigError(f"unknown web.session_backend {backend!r} (database or redis)")
