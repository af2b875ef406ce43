"""``Database``: the engine, its sessions, migrations on open, and the repositories.

On SQLite (the embedded default) every connection gets WAL journaling (readers never block the
writer), foreign keys on (off by default in SQLite) and a busy timeout; every transaction starts
with ``BEGIN IMMEDIATE`` so two writers queue on the lock instead of one failing with "database
is locked" when it upgrades a read lock (the SQLAlchemy pysqlite recipe). PostgreSQL needs none
of this.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, make_url, text
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from medflow.errors import DatabaseError
from medflow.platform.db.audit import AuditRepository
from medflow.platform.db.documents import DocumentRepository, PatientRepository
from medflow.platform.db.errors import TransientDatabaseError
from medflow.platform.db.executions import ExecutionRepository
from medflow.platform.db.notifications import NotificationRepository
from medflow.platform.db.results import ResultRepository

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

_MIGRATION_LOCK = 0x6D6564666C6F77  # "medflow": the advisory lock key migrations hold


@dataclass(frozen=True)
class PoolOptions:
    """Connection pool of a server database (PostgreSQL); SQLite opens a file per thread.

    Attributes:
        size: connections kept open per process.
        max_overflow: extra connections allowed under load, closed when returned.
        timeout_s: how long a thread waits for a free connection before failing.
        recycle_s: connections older than this are replaced (proxies and firewalls drop
            idle ones).
        connect_timeout_s: how long one connection attempt may take.
    """

    size: int = 5
    max_overflow: int = 10
    timeout_s: float = 30.0
    recycle_s: int = 1800
    connect_timeout_s: int = 10


MIGRATIONS = Path(__file__).parent / "migrations"
HEAD_REVISION = "0006"
"""The newest migration; a test checks it against the migrations folder. A database already at
this revision is opened without importing Alembic (which costs about a second)."""


def _sqlite_pragmas(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # let the "begin" hook below issue BEGIN itself
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA synchronous = NORMAL")  # safe with WAL: durable at checkpoints
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Readers take no write lock: under WAL they see the last commit and never wait.
        read_only = conn.get_execution_options().get("medflow_read_only", False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


class Database:
    """A migrated database and its repositories.

    Opening runs ``alembic upgrade head``, so a new file or an older schema is brought up to date
    before anything else touches it.

    Args:
        url: SQLAlchemy URL (``sqlite:///path/medflow.db``,
            ``postgresql+psycopg://user@host/db``).
        echo: log SQL statements.
        busy_timeout_ms: SQLite only: how long a writer waits for the lock.
        migrate: run migrations on open (default).

    Attributes:
        patients, documents, executions, results, notifications, audit: the repositories.

    Raises:
        DatabaseError: the database cannot be reached or migrated.
    """

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        busy_timeout_ms: int = 10_000,
        migrate: bool = True,
        pool: PoolOptions | None = None,
    ) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            path = url.split("///", 1)[1] if "///" in url else ""
            if not path or path == ":memory:":
                raise DatabaseError(
                    "use a SQLite file, not an in-memory database (threads share it)"
                )
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs: dict[str, Any] = {"echo": echo, "future": True}
        if not self.is_sqlite:
            opts = pool or PoolOptions()
            kwargs.update(
                pool_pre_ping=True,  # a connection the server dropped (restart) is replaced
                pool_size=opts.size,
                max_overflow=opts.max_overflow,
                pool_timeout=opts.timeout_s,
                pool_recycle=opts.recycle_s,
            )
            if url.startswith("postgresql"):
                kwargs["connect_args"] = {"connect_timeout": opts.connect_timeout_s}
        try:
            self.engine = create_engine(url, **kwargs)
        except ImportError as exc:
            raise DatabaseError(
                f"no driver for {self.safe_url}: install the postgres extra "
                f"(pip install 'medflow[postgres]') ({exc})"
            ) from exc
        except ArgumentError as exc:
            raise DatabaseError(
                f"{self.safe_url} is not a database URL SQLAlchemy reads ({exc}); use "
                "sqlite:///path/medflow.db or postgresql+psycopg://user@host:5432/db"
            ) from exc
        if self.is_sqlite:
            _sqlite_pragmas(self.engine, busy_timeout_ms)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(
            self.engine.execution_options(medflow_read_only=True), expire_on_commit=False
        )
        if migrate and self.revision() != HEAD_REVISION:
            self.migrate()
        self.patients = PatientRepository(self)
        self.documents = DocumentRepository(self)
        self.executions = ExecutionRepository(self)
        self.results = ResultRepository(self)
        self.notifications = NotificationRepository(self)
        self.audit = AuditRepository(self)

    @property
    def safe_url(self) -> str:
        """The URL with any password masked, for messages and logs."""
        try:
            return make_url(self.url).render_as_string(hide_password=True)
        except ArgumentError:
            return "the configured URL"

    def revision(self) -> str | None:
        """The schema revision the database is at (None: never migrated).

        Raises:
            DatabaseError: the database cannot be reached.
        """
        try:
            with self.engine.execution_options(medflow_read_only=True).connect() as conn:
                if not inspect(conn).has_table("alembic_version"):
                    return None
                value = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
                return None if value is None else str(value)
        except SQLAlchemyError as exc:
            reason = getattr(exc, "orig", None) or exc
            raise DatabaseError(f"cannot open the database {self.safe_url}: {reason}") from exc

    def alembic_config(self) -> Config:
        """An Alembic config pointing at the migrations shipped in the package."""
        from alembic.config import Config  # imported when needed: alembic is slow to import

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        return cfg

    def migrate(self, revision: str = "head") -> None:
        """Upgrade the schema to ``revision``.

        Raises:
            DatabaseError: the migration failed.
        """
        from alembic import command

        cfg = self.alembic_config()
        try:
            with self.engine.begin() as conn:
                if not self.is_sqlite and conn.dialect.name == "postgresql":
                    # Workers starting together on a new database: one migrates, the others
                    # wait here and then find it done (SQLite serialises on its file lock).
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
        except SQLAlchemyError as exc:
            raise DatabaseError(f"cannot migrate the database: {exc}") from exc

    def downgrade(self, revision: str) -> None:
        """Downgrade the schema to ``revision`` (``"base"``: drop every table).

        Raises:
            DatabaseError: the migration failed.
        """
        from alembic import command

        cfg = self.alembic_config()
        try:
            with self.engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.downgrade(cfg, revision)
        except SQLAlchemyError as exc:
            raise DatabaseError(f"cannot downgrade the database: {exc}") from exc

    def table_names(self) -> list[str]:
        """The tables present (for health checks and tests)."""
        return sorted(inspect(self.engine).get_table_names())

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session inside one transaction: committed on success, rolled back on error.

        Raises:
            TransientDatabaseError: the database was locked or unreachable (worth a retry).
            DatabaseError: any other database failure.
        """
        with self._session(self._sessions()) as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for queries only: on SQLite it takes no write lock, so status pages
        never wait for a runner's write (WAL gives it the last committed snapshot).

        Raises:
            TransientDatabaseError: the database was unreachable.
            DatabaseError: any other database failure.
        """
        with self._session(self._read_sessions()) as session:
            yield session

    @contextmanager
    def _session(self, session: Session) -> Iterator[Session]:
        try:
            with session.begin():
                yield session
        except OperationalError as exc:
            raise TransientDatabaseError(f"database busy or unreachable: {exc.orig}") from exc
        except SQLAlchemyError as exc:
            raise DatabaseError(f"database error: {exc}") from exc
        finally:
            session.close()

    def close(self) -> None:
        """Release every connection."""
        self.engine.dispose()
