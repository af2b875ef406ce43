"""The database port: SQLAlchemy 2 models, Alembic migrations, repositories.

Build with ``Database(url)``; it migrates on open. Repositories hang off it:
``db.patients``, ``db.documents``, ``db.executions``, ``db.results``, ``db.notifications``,
``db.audit``.
"""

from medflow.platform.db.database import Database
from medflow.platform.db.errors import LeaseLostError, RecordNotFoundError, TransientDatabaseError
from medflow.platform.db.records import (
    TERMINAL,
    AuditRecord,
    DocumentRecord,
    ExecutionRecord,
    ExecutionStatus,
    Finding,
    NotificationRecord,
    NotificationStatus,
    Observation,
    PatientRecord,
    StepRunRecord,
    StepStatus,
)

__all__ = [
    "TERMINAL",
    "AuditRecord",
    "Database",
    "DocumentRecord",
    "ExecutionRecord",
    "ExecutionStatus",
    "Finding",
    "LeaseLostError",
    "NotificationRecord",
    "NotificationStatus",
    "Observation",
    "PatientRecord",
    "RecordNotFoundError",
    "StepRunRecord",
    "StepStatus",
    "TransientDatabaseError",
]
