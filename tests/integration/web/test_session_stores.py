"""The ``SessionStore`` contract, run against every adapter: the database store (always) and
the Redis store (``service("redis")``, the real Redis at ``MEDFLOW_TEST_REDIS``, default
``redis://127.0.0.1:6379/15``, under a key prefix of its own that is deleted afterwards).

Plus what only a deployment shows: a portal configured with ``session_backend=redis`` keeps
its sessions in Redis (none in the database), and ends them on logout and when an admin
disables the account.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from medflow.platform import Platform, Settings
from medflow.platform.db import Database
from medflow.platform.db.accounts import SessionRow
from medflow.platform.db.models import utcnow
from medflow.web.accounts import AccountRepository
from medflow.web.app import create_app
from medflow.web.security import digest, use_hasher
from medflow.web.sessions import (
    RENEW_EVERY,
    DatabaseSessionStore,
    RedisSessionStore,
    SessionStore,
)

REDIS_URL = os.environ.get("MEDFLOW_TEST_REDIS", "redis://127.0.0.1:6379/15")
PASSWORD = "correct horse battery"
TTL = 3600

BACKENDS = [
    pytest.param("database", id="database"),
    pytest.param("redis", id="redis", marks=pytest.mark.service("redis")),
]


class Clock:
    """A clock the test moves forward."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Setup:
    store: SessionStore
    clock: Clock
    users: tuple[str, str]
    stored_keys: Callable[[], set[str]]  # what the backend holds, to look for secrets


def _redis_client():  # type: ignore[no-untyped-def]
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")
    return client


@pytest.fixture(autouse=True, scope="module")
def _cheap_hashing() -> Iterator[None]:
    previous = use_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    yield
    use_hasher(previous)


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix used by one test only; every key under it is deleted afterwards."""
    client = _redis_client()
    prefix = f"medflow-test:{uuid.uuid4().hex}:"
    yield prefix
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(params=BACKENDS)
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    db = Database(f"sqlite:///{tmp_path / 'medflow.db'}")
    accounts = AccountRepository(db)
    users = (
        accounts.create_user("a@example.org", PASSWORD, "staff").id,
        accounts.create_user("b@example.org", PASSWORD, "doctor").id,
    )
    clock = Clock()
    try:
        if request.param == "database":

            def db_keys() -> set[str]:
                with db.reading() as s:
                    return {f"{r.id} {r.csrf_token}" for r in s.scalars(select(SessionRow))}

            yield Setup(DatabaseSessionStore(db, clock), clock, users, db_keys)
        else:
            prefix: str = request.getfixturevalue("redis_prefix")
            client = _redis_client()

            def redis_keys() -> set[str]:
                return {k.decode() for k in client.scan_iter(match=f"{prefix}*")}

            yield Setup(RedisSessionStore(client, prefix, clock), clock, users, redis_keys)
            client.close()
    finally:
        db.close()


def test_a_new_session_is_found_by_its_token(setup: Setup) -> None:
    token, opened = setup.store.create(setup.users[0], TTL)
    found = setup.store.touch(token, TTL)
    assert found is not None
    assert found.user_id == setup.users[0]
    assert found.csrf_token == opened.csrf_token
    assert found.expires_at == opened.expires_at == setup.clock.now + timedelta(seconds=TTL)


def test_unknown_and_altered_tokens_find_nothing(setup: Setup) -> None:
    token, _ = setup.store.create(setup.users[0], TTL)
    assert setup.store.touch("no-such-token", TTL) is None
    altered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert setup.store.touch(altered, TTL) is None


def test_the_token_itself_is_never_stored(setup: Setup) -> None:
    token, _ = setup.store.create(setup.users[0], TTL)
    held = " ".join(setup.stored_keys())
    assert token not in held
    assert digest(token) in held


def test_each_session_has_its_own_token_and_csrf_token(setup: Setup) -> None:
    t1, s1 = setup.store.create(setup.users[0], TTL)
    t2, s2 = setup.store.create(setup.users[0], TTL)
    assert t1 != t2 and s1.csrf_token != s2.csrf_token


def test_a_session_idle_past_its_ttl_is_gone_for_good(setup: Setup) -> None:
    token, _ = setup.store.create(setup.users[0], TTL)
    setup.clock.advance(TTL + 1)
    assert setup.store.touch(token, TTL) is None
    setup.clock.now -= timedelta(seconds=TTL)  # even if the clock came back, it was deleted
    assert setup.store.touch(token, TTL) is None


def test_use_pushes_the_idle_expiry_ahead(setup: Setup) -> None:
    token, _ = setup.store.create(setup.users[0], TTL)
    for _ in range(3):  # 3 x 0.9 TTL: alive only because each use renews it
        setup.clock.advance(TTL * 0.9)
        found = setup.store.touch(token, TTL)
        assert found is not None
        assert found.expires_at == setup.clock.now + timedelta(seconds=TTL)
    setup.clock.advance(TTL + 1)
    assert setup.store.touch(token, TTL) is None


def test_the_expiry_is_rewritten_at_most_once_a_minute(setup: Setup) -> None:
    token, opened = setup.store.create(setup.users[0], TTL)
    setup.clock.advance(RENEW_EVERY.total_seconds() / 2)
    found = setup.store.touch(token, TTL)
    assert found is not None and found.expires_at == opened.expires_at
    setup.clock.advance(RENEW_EVERY.total_seconds())
    found = setup.store.touch(token, TTL)
    assert found is not None and found.expires_at == setup.clock.now + timedelta(seconds=TTL)


def test_logout_ends_only_that_session(setup: Setup) -> None:
    t1, _ = setup.store.create(setup.users[0], TTL)
    t2, _ = setup.store.create(setup.users[0], TTL)
    setup.store.delete(t1)
    assert setup.store.touch(t1, TTL) is None
    assert setup.store.touch(t2, TTL) is not None
    setup.store.delete(t1)  # twice, or an unknown token: no error
    setup.store.delete("no-such-token")


def test_ending_an_accounts_sessions_leaves_other_accounts_alone(setup: Setup) -> None:
    mine = [setup.store.create(setup.users[0], TTL)[0] for _ in range(2)]
    theirs, _ = setup.store.create(setup.users[1], TTL)
    assert setup.store.delete_user(setup.users[0]) == 2
    assert all(setup.store.touch(t, TTL) is None for t in mine)
    assert setup.store.touch(theirs, TTL) is not None
    assert setup.store.delete_user(setup.users[0]) == 0


@pytest.mark.service("redis")
def test_redis_expires_the_key_itself_at_the_session_expiry(redis_prefix: str) -> None:
    client = _redis_client()
    store = RedisSessionStore(client, redis_prefix)
    token, _ = store.create("u1", 120)
    key = f"{redis_prefix}s:{digest(token)}"
    assert 0 < client.pttl(key) <= 120_000
    store.delete(token)
    assert client.exists(key) == 0
    assert client.exists(f"{redis_prefix}u:u1") == 0
    client.close()


def _login(client: TestClient, email: str) -> str:
    page = client.get("/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    r = client.post(
        "/login",
        data={"email": email, "password": PASSWORD, "csrf_token": found.group(1)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    home = client.get("/")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', home.text)
    assert csrf is not None
    return csrf.group(1)


@pytest.mark.service("redis")
def test_a_portal_configured_for_redis_keeps_sessions_there(
    tmp_path: Path, redis_prefix: str
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        storage={"backend": "memory"},
        notify={"backend": "memory"},
        security={"signing_secret": "test-secret-for-redis-sessions"},
        web={
            "base_url": "http://testserver",
            "session_backend": "redis",
            "session_redis_url": REDIS_URL,
            "session_redis_prefix": redis_prefix,
        },
    )
    redis_client = _redis_client()
    with Platform(settings, pipelines=[]) as platform:
        app = create_app(platform, admin_email="admin@example.org", admin_password=PASSWORD)
        accounts: AccountRepository = app.state.portal.accounts
        assert isinstance(accounts.sessions, RedisSessionStore)
        doctor = accounts.create_user("doc@example.org", PASSWORD, "doctor")
        with (
            TestClient(app, base_url="http://testserver") as admin,
            TestClient(app, base_url="http://testserver") as doc,
        ):
            admin_csrf = _login(admin, "admin@example.org")
            _login(doc, "doc@example.org")
            assert doc.get("/inbox").status_code == 200
            with platform.services.db.reading() as s:
                assert s.scalar(select(func.count()).select_from(SessionRow)) == 0
            assert redis_client.scard(f"{redis_prefix}u:{doctor.id}") == 1
            # An admin disables the doctor: the doctor's Redis session ends at once.
            r = admin.post(
                f"/admin/users/{doctor.id}/active",
                data={"active": "0", "csrf_token": admin_csrf},
                follow_redirects=False,
            )
            assert r.status_code == 303
            assert redis_client.exists(f"{redis_prefix}u:{doctor.id}") == 0
            gone = doc.get("/inbox", follow_redirects=False)
            assert gone.status_code == 303 and gone.headers["location"].startswith("/login")
            # Logout removes the admin's own session key.
            r = admin.post("/logout", data={"csrf_token": admin_csrf}, follow_redirects=False)
            assert r.status_code == 303
            assert not list(redis_client.scan_iter(match=f"{redis_prefix}s:*"))
    redis_client.close()
