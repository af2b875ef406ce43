"""The account tables (defined in :mod:`medflow.platform.db.accounts`, beside the platform's
other tables, so migrations see them) and the role names."""

from medflow.platform.db.accounts import (
    ROLES,
    ApiTokenRow,
    LoginAttemptRow,
    OneTimeTokenRow,
    ReadMarkRow,
    Role,
    SessionRow,
    UploadTicketRow,
    UserRow,
)

__all__ = [
    "ROLES",
    "ApiTokenRow",
    "LoginAttemptRow",
    "OneTimeTokenRow",
    "ReadMarkRow",
    "Role",
    "SessionRow",
    "UploadTicketRow",
    "UserRow",
]
