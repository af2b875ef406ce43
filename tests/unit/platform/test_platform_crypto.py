"""HMAC signing helpers and expiring tokens."""

from __future__ import annotations

import pytest

from medflow.errors import SignatureError
from medflow.platform import crypto


def test_sign_verify_and_part_boundaries() -> None:
    sig = crypto.sign(b"k", "GET", "raw", "a/b")
    assert crypto.verify(b"k", sig, "GET", "raw", "a/b")
    assert not crypto.verify(b"k", sig, "GET", "raw/a", "b")
    assert not crypto.verify(b"other", sig, "GET", "raw", "a/b")
    assert not crypto.verify(b"k", sig, "GET", "raw\nx", "a/b")


def test_token_round_trip() -> None:
    token = crypto.make_token(b"k", "patient-report", "doc-123", ttl_s=60, now=1000)
    assert crypto.read_token(b"k", "patient-report", token, now=1059) == "doc-123"


def test_token_expired_tampered_or_for_other_purpose_is_refused() -> None:
    token = crypto.make_token(b"k", "patient-report", "doc-123", ttl_s=60, now=1000)
    with pytest.raises(SignatureError, match="expired"):
        crypto.read_token(b"k", "patient-report", token, now=1060)
    with pytest.raises(SignatureError):
        crypto.read_token(b"k", "password-reset", token, now=1000)
    _subj, exp, sig = token.split(".")
    forged = f"{crypto.make_token(b'k', 'x', 'doc-999', 60, 1000).split('.')[0]}.{exp}.{sig}"
    with pytest.raises(SignatureError):
        crypto.read_token(b"k", "patient-report", forged, now=1000)
    with pytest.raises(SignatureError, match="malformed"):
        crypto.read_token(b"k", "patient-report", "garbage", now=1000)
