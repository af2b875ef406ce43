"""``medflow admin create-user`` and ``create-token``: accounts from the command line, the
password never an argument, the token printed once, every change audited as ``cli``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medflow.cli.main import app
from medflow.platform import Settings, build_services
from medflow.platform.services import Services
from medflow.web.accounts import AccountRepository

PASSWORD = "a long enough password"


@pytest.fixture
def data_dir(tmp_path: Path) -> str:
    return str(tmp_path / "data")


def _services(data_dir: str) -> Iterator[Services]:
    services = build_services(Settings(data_dir=Path(data_dir)))
    try:
        yield services
    finally:
        services.close()


def _run(*args: str, stdin: str = "") -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["admin", *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_create_user_reads_the_password_from_stdin(data_dir: str) -> None:
    code, out, _ = _run(
        "create-user", "Dr.Who@Example.org", "--role", "doctor", "--name", "Dr Who",
        "--password-stdin", "--data-dir", data_dir, stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert code == 0, out
    assert "created doctor account dr.who@example.org" in out and PASSWORD not in out
    for services in _services(data_dir):
        user = AccountRepository(services.db).authenticate("dr.who@example.org", PASSWORD)
        assert user is not None and user.role == "doctor" and user.name == "Dr Who"
        entries = services.db.audit.list(actor="cli")
        assert [(e.action, e.object_id) for e in entries] == [("admin-create-user", user.id)]


def test_create_user_prompts_twice_for_the_password(data_dir: str) -> None:
    code, out, _ = _run(
        "create-user", "admin2@example.org", "--role", "admin", "--data-dir", data_dir,
        stdin=f"{PASSWORD}\n{PASSWORD}\n",
    )  # fmt: skip
    assert code == 0, out
    for services in _services(data_dir):
        assert AccountRepository(services.db).authenticate("admin2@example.org", PASSWORD)


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["x@example.org", "--role", "staff"], "short\n", "at least 10 characters"),
        (["not-an-email", "--role", "staff"], PASSWORD + "\n", "not an email address"),
        (["p@example.org", "--role", "patient"], PASSWORD + "\n", "needs --patient-id"),
        (["s@example.org", "--role", "staff", "--patient-id", "P1"], PASSWORD + "\n", "only for"),
    ],
)
def test_create_user_refuses_bad_input_with_exit_2(
    data_dir: str, args: list[str], stdin: str, message: str
) -> None:
    code, _, err = _run(
        "create-user", *args, "--password-stdin", "--data-dir", data_dir, stdin=stdin
    )
    assert code == 2 and message in err


def test_an_existing_email_is_refused(data_dir: str) -> None:
    args = ["create-user", "a@example.org", "--role", "staff", "--password-stdin"]
    assert _run(*args, "--data-dir", data_dir, stdin=PASSWORD + "\n")[0] == 0
    code, _, err = _run(*args, "--data-dir", data_dir, stdin=PASSWORD + "\n")
    assert code == 2 and "exists" in err


def test_create_token_prints_a_working_token_once(data_dir: str) -> None:
    _run("create-user", "feed@example.org", "--role", "staff", "--password-stdin",
         "--data-dir", data_dir, stdin=PASSWORD + "\n")  # fmt: skip
    code, out, err = _run(
        "create-token", "feed@example.org", "--label", "lab feed", "--data-dir", data_dir
    )
    assert code == 0, err
    token = out.strip()
    assert len(token) >= 40 and "\n" not in token and "shown once" in err
    for services in _services(data_dir):
        accounts = AccountRepository(services.db)
        user = accounts.token_user(token)
        assert user is not None and user.email == "feed@example.org"
        (issued,) = accounts.api_tokens(user.id)
        assert issued.label == "lab feed" and token not in issued.id
        assert "admin-issue-token" in [e.action for e in services.db.audit.list(actor="cli")]


def test_create_token_for_an_unknown_or_disabled_account_fails(data_dir: str) -> None:
    code, _, err = _run("create-token", "ghost@example.org", "--data-dir", data_dir)
    assert code == 2 and "no such account" in err
    _run("create-user", "gone@example.org", "--role", "staff", "--password-stdin",
         "--data-dir", data_dir, stdin=PASSWORD + "\n")  # fmt: skip
    for services in _services(data_dir):
        accounts = AccountRepository(services.db)
        user = accounts.by_email("gone@example.org")
        assert user is not None
        accounts.set_active(user.id, False)
    code, _, err = _run("create-token", "gone@example.org", "--data-dir", data_dir)
    assert code == 2 and "disabled" in err
