"""``medflow admin``: portal accounts from the command line (create a user, issue an API
token for a machine client). Every change goes to the audit log with the actor ``cli``.

Passwords are never taken as an argument (it would land in the shell history and the process
list): they are asked for at a prompt, or read from standard input with ``--password-stdin``.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from medflow.cli.common import EXIT_BAD_INPUT, fail, load_settings

if TYPE_CHECKING:
    from medflow.platform import Services
    from medflow.web.accounts import AccountRepository

admin_app = typer.Typer(
    name="admin",
    help="Portal accounts: create users and API tokens.",
    no_args_is_help=True,
    add_completion=False,
)

AUDIT_ACTOR = "cli"


class RoleChoice(StrEnum):
    """Roles ``create-user`` accepts (a patient account needs ``--patient-id``)."""

    STAFF = "staff"
    DOCTOR = "doctor"
    ADMIN = "admin"
    PATIENT = "patient"


DataDir = Annotated[str | None, typer.Option(help="Default ./medflow-data.")]


def _accounts(data_dir: str | None) -> tuple[Services, AccountRepository]:
    try:
        from medflow.web.accounts import AccountRepository
    except ImportError:
        fail("accounts need the web extra: pip install 'medflow[web]'")
    from medflow.platform import build_services

    services = build_services(load_settings(data_dir))
    return services, AccountRepository(services.db)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    from medflow.web.security import password_problem

    problem = password_problem(password)
    if problem:
        fail(problem, EXIT_BAD_INPUT)
    return password


@admin_app.command("create-user")
def create_user(
    email: Annotated[str, typer.Argument(help="The person's email (their login).")],
    role: Annotated[RoleChoice, typer.Option("--role", "-r", help="Their role.")],
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    patient_id: Annotated[
        str | None, typer.Option(help="For a patient account: the patient whose records it sees.")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Create a portal account (the password is asked for, or read from stdin)."""
    email = email.strip().lower()
    if "@" not in email or len(email) > 320:
        fail(f"{email!r} is not an email address")
    if role is RoleChoice.PATIENT and not patient_id:
        fail("a patient account needs --patient-id (the patient whose records it sees)")
    if role is not RoleChoice.PATIENT and patient_id:
        fail("--patient-id is only for patient accounts")
    password = _read_password(password_stdin)
    from medflow.web.accounts.repository import AccountExistsError

    services, accounts = _accounts(data_dir)
    try:
        try:
            user = accounts.create_user(
                email, password, role.value, name=name, patient_id=patient_id
            )
        except AccountExistsError:
            fail(f"{email}: an account with this email exists")
        services.db.audit.record(
            AUDIT_ACTOR, "admin-create-user", "user", user.id, {"role": role.value}
        )
        print(f"created {role.value} account {user.email} (id {user.id})")
    finally:
        services.close()


@admin_app.command("create-token")
def create_token(
    email: Annotated[str, typer.Argument(help="The account the token acts as.")],
    label: Annotated[str, typer.Option(help="What the token is for (shown to admins).")] = "",
    data_dir: DataDir = None,
) -> None:
    """Issue an API token for a machine client; it is printed once, on standard output."""
    services, accounts = _accounts(data_dir)
    try:
        user = accounts.by_email(email)
        if user is None:
            fail(f"{email.strip().lower()}: no such account")
        if not user.active:
            fail(f"{user.email}: the account is disabled; enable it first")
        token = accounts.issue_api_token(user.id, label[:128])
        services.db.audit.record(
            AUDIT_ACTOR, "admin-issue-token", "user", user.id, {"label": label[:128]}
        )
        print(token)
        print(
            "medflow: the token is shown once; send it as 'Authorization: Bearer <token>'",
            file=sys.stderr,
        )
    finally:
        services.close()
