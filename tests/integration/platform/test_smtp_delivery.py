"""SmtpNotifier against a real SMTP server on loopback (aiosmtpd): TLS, AUTH, retries."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "contract"))

from smtp_server import SmtpServer, free_port

from medflow.platform.config import NotifySettings
from medflow.platform.db import Database
from medflow.platform.notify import Message, SmtpNotifier

pytestmark = pytest.mark.service("smtp")

MSG = Message(to="doctor@hospital.test", subject="Results", text="Potassium 6.8", html="<p>K</p>")
FAR_FUTURE = dt.datetime.now(dt.UTC) + dt.timedelta(days=365)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'n.db'}")
    yield database
    database.close()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (cert, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(*map(str, certificate))
    return ctx


def _auth(expected: tuple[str, str]) -> Any:
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def text(value: str | bytes) -> str:
        return value.decode() if isinstance(value, bytes) else value

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = isinstance(data, LoginPassword) and (text(data.login), text(data.password)) == expected
        return AuthResult(success=ok, handled=False)

    return authenticator


def _settings(port: int, **extra: Any) -> NotifySettings:
    base = {
        "from_address": "medflow@hospital.test",
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_security": "none",
        "timeout_s": 5.0,
        "retry_base_s": 0.0,
        "max_attempts": 3,
    }
    return NotifySettings(**{**base, **extra})


def test_plain_delivery_reaches_the_server(db: Database) -> None:
    server = SmtpServer().start()
    try:
        nid = SmtpNotifier(db, _settings(server.port)).send(MSG)
    finally:
        server.stop()
    assert db.notifications.get(nid).status == "sent"
    assert server.handler.envelopes == [("medflow@hospital.test", ["doctor@hospital.test"])]


def test_starttls_with_auth(db: Database, certificate: tuple[Path, Path]) -> None:
    server = SmtpServer(
        tls_context=_server_tls(certificate),
        require_starttls=True,
        authenticator=_auth(("medflow", "s3cret-pw")),
        auth_required=True,
    ).start()
    settings = _settings(
        server.port, smtp_security="starttls", smtp_username="medflow", smtp_password="s3cret-pw"
    )
    try:
        nid = SmtpNotifier(db, settings, ca_file=certificate[0]).send(MSG)
    finally:
        server.stop()
    assert db.notifications.get(nid).status == "sent"
    assert len(server.handler.messages) == 1


def test_wrong_password_is_a_permanent_failure(
    db: Database, certificate: tuple[Path, Path]
) -> None:
    server = SmtpServer(
        tls_context=_server_tls(certificate),
        require_starttls=True,
        authenticator=_auth(("medflow", "right")),
        auth_required=True,
    ).start()
    settings = _settings(
        server.port, smtp_security="starttls", smtp_username="medflow", smtp_password="wrong"
    )
    try:
        nid = SmtpNotifier(db, settings, ca_file=certificate[0]).send(MSG)
    finally:
        server.stop()
    rec = db.notifications.get(nid)
    assert rec.status == "failed"
    assert rec.next_attempt_at is None
    assert "credentials" in (rec.last_error or "")
    assert server.handler.messages == []


def test_untrusted_certificate_is_refused(db: Database, certificate: tuple[Path, Path]) -> None:
    server = SmtpServer(tls_context=_server_tls(certificate), require_starttls=True).start()
    try:
        nid = SmtpNotifier(db, _settings(server.port, smtp_security="starttls")).send(MSG)
    finally:
        server.stop()
    rec = db.notifications.get(nid)
    assert rec.status == "failed"
    assert rec.next_attempt_at is None
    assert "certificate" in (rec.last_error or "")


def test_implicit_tls(db: Database, certificate: tuple[Path, Path]) -> None:
    server = SmtpServer(ssl_context=_server_tls(certificate)).start()
    try:
        nid = SmtpNotifier(db, _settings(server.port, smtp_security="ssl"), certificate[0]).send(
            MSG
        )
    finally:
        server.stop()
    assert db.notifications.get(nid).status == "sent"
    assert len(server.handler.messages) == 1


def test_server_down_then_up_is_retried_and_delivered(db: Database) -> None:
    port = free_port()
    notifier = SmtpNotifier(db, _settings(port))
    nid = notifier.send(MSG)
    first = db.notifications.get(nid)
    assert (first.status, first.attempts) == ("failed", 1)
    assert first.next_attempt_at is not None
    assert "unreachable" in (first.last_error or "")
    server = SmtpServer(port=port).start()
    try:
        assert notifier.retry_failed(now=FAR_FUTURE) == 1
    finally:
        server.stop()
    rec = db.notifications.get(nid)
    assert (rec.status, rec.attempts) == ("sent", 2)
    assert len(server.handler.messages) == 1
    assert notifier.retry_failed(now=FAR_FUTURE) == 0


def test_4xx_is_retried_5xx_is_not(db: Database) -> None:
    server = SmtpServer().start()
    server.handler.reject_next = ["451 try later", "554 rejected"]
    notifier = SmtpNotifier(db, _settings(server.port))
    try:
        transient = notifier.send(MSG)
        permanent = notifier.send(MSG)
        notifier.retry_failed(now=FAR_FUTURE)
    finally:
        server.stop()
    assert db.notifications.get(transient).status == "sent"
    bad = db.notifications.get(permanent)
    assert (bad.status, bad.next_attempt_at, bad.attempts) == ("failed", None, 1)
    assert "554" in (bad.last_error or "")


def test_gives_up_after_max_attempts(db: Database) -> None:
    notifier = SmtpNotifier(db, _settings(free_port(), max_attempts=2))
    nid = notifier.send(MSG)
    assert notifier.retry_failed(now=FAR_FUTURE) == 1
    rec = db.notifications.get(nid)
    assert (rec.status, rec.attempts, rec.next_attempt_at) == ("failed", 2, None)
    assert notifier.retry_failed(now=FAR_FUTURE) == 0
