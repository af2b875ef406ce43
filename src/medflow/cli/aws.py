"""``medflow aws``: the AWS deployment's CloudFormation template and state machines."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from medflow.cli.common import EXIT_FAILED, fail, out_console
from medflow.errors import ConfigError

aws_app = typer.Typer(
    help="Deploy to AWS: synthesise the CDK app, show a pipeline's state machine.",
    no_args_is_help=True,
)


def _context(pairs: list[str]) -> dict[str, str]:
    context: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            fail(f"--context {pair!r}: expected KEY=VALUE")
        context[key.strip()] = value.strip()
    return context


@aws_app.command()
def synth(
    out: Annotated[
        Path | None, typer.Option("--out", help="Cloud assembly folder (default: a temp one).")
    ] = None,
    context: Annotated[
        list[str] | None,
        typer.Option("--context", "-c", help="CDK context KEY=VALUE (README: Deploy to AWS)."),
    ] = None,
) -> None:
    """Write the CloudFormation template (and assets) of the medflow stack; print its path."""
    try:
        from medflow.aws.app import synth as synthesise
    except ImportError as exc:
        fail(f"medflow aws synth needs the cdk extra: pip install 'medflow[cdk]' ({exc.name})")
    outdir = out or Path(tempfile.mkdtemp(prefix="medflow-cdk-"))
    try:
        template = synthesise(outdir, _context(context or []))
    except ConfigError as exc:
        fail(str(exc))
    except Exception as exc:  # jsii reports synthesis errors as RuntimeError with the reason
        fail(
            f"synthesis failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
            EXIT_FAILED,
        )
    resources = json.loads(template.read_text())["Resources"]
    out_console.print(f"{template} ({len(resources)} resources)", soft_wrap=True)


@aws_app.command("asl")
def asl(
    pipeline: Annotated[str, typer.Argument(help="Pipeline name (labs, records, ...).")],
) -> None:
    """Print the Amazon States Language definition generated for a pipeline."""
    from medflow.aws.app import declared_pipelines
    from medflow.aws.asl import state_machine

    found = {p.name: p for p in declared_pipelines()}
    if pipeline not in found:
        fail(f"no pipeline named {pipeline!r}; known: {', '.join(sorted(found))}")
    print(json.dumps(state_machine(found[pipeline]), indent=2))
