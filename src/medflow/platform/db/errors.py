"""Database errors beyond those in :mod:`medflow.errors`."""

from __future__ import annotations

from medflow.errors import DatabaseError, TransientError


class TransientDatabaseError(DatabaseError, TransientError):
    """The database was locked, busy or unreachable; trying again may succeed."""


class RecordNotFoundError(DatabaseError, LookupError):
    """No row with that id."""


class LeaseLostError(DatabaseError):
    """Another worker took over this execution (our lease expired); stop working on it."""
