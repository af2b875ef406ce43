"""Portal accounts: users and roles, sessions, API tokens, invitations, password resets and
upload tickets. Tables in :mod:`.models` (migration ``0003``), queries in :mod:`.repository`."""

from medflow.web.accounts.models import ROLES, Role
from medflow.web.accounts.repository import (
    AccountRepository,
    ApiTokenInfo,
    SessionInfo,
    UploadTicket,
    User,
)

__all__ = [
    "ROLES",
    "AccountRepository",
    "ApiTokenInfo",
    "Role",
    "SessionInfo",
    "UploadTicket",
    "User",
]
