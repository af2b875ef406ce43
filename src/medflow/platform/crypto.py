"""HMAC-SHA256 signing (RFC 2104) for signed URLs and expiring links.

A signature covers every part joined by newlines, so ``("GET", "raw", "a/b")`` and
``("GET", "raw/a", "b")`` cannot share one. Comparisons are constant-time
(:func:`hmac.compare_digest`). The web layer uses :func:`make_token` / :func:`read_token` for
patient links; the object store uses :func:`sign` / :func:`verify` for its URLs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from medflow.errors import SignatureError


def sign(secret: bytes, *parts: str) -> str:
    """The hex HMAC-SHA256 of ``parts`` under ``secret``.

    Raises:
        ValueError: a part contains a newline (it would make two messages look alike).
    """
    if any("\n" in p for p in parts):
        raise ValueError("signed parts must not contain newlines")
    return hmac.new(secret, "\n".join(parts).encode(), hashlib.sha256).hexdigest()


def verify(secret: bytes, signature: str, *parts: str) -> bool:
    """Whether ``signature`` is the HMAC of ``parts`` (constant-time)."""
    try:
        expected = sign(secret, *parts)
    except ValueError:
        return False
    # Bytes, not str: compare_digest raises TypeError on non-ASCII str (a forged link's query).
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))


def check_expiry(expires_at: int, now: float | None = None) -> None:
    """Raise :class:`SignatureError` if the Unix time ``expires_at`` has passed."""
    if (time.time() if now is None else now) >= expires_at:
        raise SignatureError("the link has expired; ask for a new one")


def make_token(
    secret: bytes, purpose: str, subject: str, ttl_s: int, now: float | None = None
) -> str:
    """An opaque, URL-safe token binding ``subject`` to ``purpose`` until ``now + ttl_s``.

    Args:
        secret: the signing key.
        purpose: what the token is for (``"patient-report"``); a token for one purpose is
            refused for another.
        subject: what it grants access to (a document id); must not contain ``"."``.
        ttl_s: life in seconds.
        now: the current Unix time (tests).

    Returns:
        ``<subject-b64>.<expiry>.<signature>``.
    """
    expires = int((time.time() if now is None else now) + ttl_s)
    subj = base64.urlsafe_b64encode(subject.encode()).decode().rstrip("=")
    return f"{subj}.{expires}.{sign(secret, purpose, subj, str(expires))}"


def read_token(secret: bytes, purpose: str, token: str, now: float | None = None) -> str:
    """The subject of a token made by :func:`make_token` for ``purpose``.

    Raises:
        SignatureError: malformed, tampered with, for another purpose, or expired.
    """
    try:
        subj, expires_text, signature = token.split(".")
        expires = int(expires_text)
    except ValueError as exc:
        raise SignatureError("the link is malformed") from exc
    if not verify(secret, signature, purpose, subj, expires_text):
        raise SignatureError("the link's signature does not match")
    check_expiry(expires, now)
    padded = subj + "=" * (-len(subj) % 4)
    return base64.urlsafe_b64decode(padded.encode()).decode()
