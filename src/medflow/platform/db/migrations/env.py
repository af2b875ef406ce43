"""Alembic environment: runs on the connection :class:`medflow.platform.db.Database` passes in.

Offline mode (SQL script output) and the ``alembic`` command line work too, reading the URL from
``sqlalchemy.url`` in the Alembic config.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from medflow.platform.db import accounts as _accounts  # noqa: F401  (registers the portal's tables)
from medflow.platform.db import care_team as _care_team  # noqa: F401  (care-team memberships)
from medflow.platform.db import health_records as _health_records  # noqa: F401  (dictation records)
from medflow.platform.db.models import Base

config = context.config
target_metadata = Base.metadata


def run_offline() -> None:
    """Emit SQL to stdout instead of running it."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Run on the given connection, or on a new engine from ``sqlalchemy.url``."""
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(str(config.get_main_option("sqlalchemy.url")))
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
