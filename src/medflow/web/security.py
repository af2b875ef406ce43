"""Secrets of the portal: argon2id password hashes, random tokens kept as SHA-256 digests,
the login slow-down schedule and the failure budgets against credential stuffing and email
floods.

Why digests: a session id or API token is a bearer secret; storing only its SHA-256 means a
leaked database copy grants nothing (OWASP Session Management Cheat Sheet). Tokens have 256
bits of entropy, so an unsalted fast hash is enough; passwords are low-entropy and get argon2id
(OWASP Password Storage Cheat Sheet, RFC 9106).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()  # argon2id, RFC 9106 second recommended option (64 MiB, t=3)
_DUMMY: dict[int, str] = {}

MIN_PASSWORD_LENGTH = 10
SLOWDOWN_FREE_FAILURES = 3
"""Failed logins allowed before any delay."""
SLOWDOWN_MAX_S = 300.0


@dataclass(frozen=True)
class Budget:
    """A leaky bucket: ``burst`` events at once, then one more every ``leak_s`` seconds.

    Unlike the per-(email, address) slow-down, a success does not refill it: an attacker could
    otherwise log into an account of their own between guesses.
    """

    burst: int
    leak_s: float


# Failed logins from one client address across all accounts: 50 at once, then 2 a minute
# (OWASP Credential Stuffing Prevention Cheat Sheet: limit per IP address, not per account).
ADDRESS_LOGIN_BUDGET = Budget(burst=50, leak_s=30.0)
# Failed logins with one password (keyed hash prefix) across all accounts and addresses: 10 at
# once, then 1 a minute: password spraying tries one common password on many accounts.
PASSWORD_LOGIN_BUDGET = Budget(burst=10, leak_s=60.0)
# Password-reset emails: 3 per account (then 3 an hour), and 10 requests per address (then 10
# an hour) stop the form from being used to flood an inbox or the outgoing mail server
# (OWASP Forgot Password Cheat Sheet: rate-limit the reset form).
RESET_ACCOUNT_BUDGET = Budget(burst=3, leak_s=1200.0)
RESET_ADDRESS_BUDGET = Budget(burst=10, leak_s=360.0)
PASSWORD_KEY_BITS = 20
"""Bits of the keyed password hash a password's budget is filed under: enough that two
different passwords rarely share a budget (1 in a million), too few to say anything about a
password even with the key (the stored value is one of a million buckets)."""


def password_key(password: str, secret: bytes) -> str:
    """The budget key of a tried password: a 20-bit prefix of HMAC-SHA256 under the site's
    secret (never the password, nor a hash that could be checked offline without the key)."""
    mac = hmac.new(secret, password.encode(), hashlib.sha256).hexdigest()
    return f"pw:{mac[: PASSWORD_KEY_BITS // 4]}"


def use_hasher(hasher: PasswordHasher) -> PasswordHasher:
    """Swap the password hasher (tests use cheap parameters); returns the previous one.

    Hashes made with other parameters still verify: argon2 strings carry their parameters.
    """
    global _HASHER
    previous, _HASHER = _HASHER, hasher
    return previous


def _dummy_hash() -> str:
    key = id(_HASHER)
    if key not in _DUMMY:
        _DUMMY[key] = _HASHER.hash("medflow-timing-equaliser")
    return _DUMMY[key]


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (salt and parameters encoded in the string)."""
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``.

    With ``None`` (unknown account) a dummy hash is still verified, so the answer takes the
    same time whether or not the account exists (no user enumeration by timing).
    """
    try:
        return (
            _HASHER.verify(password_hash or _dummy_hash(), password) and password_hash is not None
        )
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    """A URL-safe random secret with 256 bits of entropy."""
    return secrets.token_urlsafe(32)


def digest(token: str) -> str:
    """The SHA-256 hex digest under which ``token`` is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time string comparison (CSRF tokens)."""
    return hmac.compare_digest(a.encode(), b.encode())


def slowdown_s(failures: int) -> float:
    """Seconds a login must wait after ``failures`` consecutive failures.

    Free for the first :data:`SLOWDOWN_FREE_FAILURES`, then 1, 2, 4, 8... seconds, capped at
    :data:`SLOWDOWN_MAX_S` (exponential back-off, OWASP Authentication Cheat Sheet).
    """
    if failures < SLOWDOWN_FREE_FAILURES:
        return 0.0
    return float(min(SLOWDOWN_MAX_S, 2.0 ** (failures - SLOWDOWN_FREE_FAILURES)))


def password_problem(password: str) -> str | None:
    """Why ``password`` is refused, or None when acceptable (NIST SP 800-63B: length, not
    composition rules)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"the password must be at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > 1024:
        return "the password is too long"
    return None
