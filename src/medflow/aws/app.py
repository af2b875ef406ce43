"""Building the CDK app: the stack for the pipelines this installation runs, and its synthesis.

Used by ``medflow aws synth`` and by the ``app.py`` at the repository root that ``cdk synth`` /
``cdk deploy`` run (``cdk.json``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from medflow.aws.settings import DeploySettings
from medflow.errors import ConfigError
from medflow.platform.config import Settings
from medflow.platform.runner import Pipeline


def declared_pipelines() -> list[Pipeline]:
    """The pipelines to deploy: :func:`medflow.pipelines.default_pipelines`.

    Only their declarations are used here (names, steps, retry policies). Building them needs a
    signing secret for the imaging configuration; a throwaway one is used, so synthesising
    writes nothing and no secret reaches the template (the deployed functions read the real
    one from Secrets Manager).
    """
    from medflow.pipelines import default_pipelines

    with tempfile.TemporaryDirectory(prefix="medflow-synth-") as tmp:
        settings = Settings(data_dir=Path(tmp), security={"signing_secret": os.urandom(16).hex()})
        return default_pipelines(settings)


def source_root(start: Path | None = None) -> Path:
    """The medflow checkout holding ``deploy/aws/Dockerfile``: ``start`` (default the working
    folder) or a parent of it, else the checkout this package was installed from.

    Raises:
        ConfigError: none found.
    """
    candidates = [start or Path.cwd()]
    candidates += list(candidates[0].resolve().parents)
    candidates.append(Path(__file__).resolve().parents[3])
    for folder in candidates:
        if (folder / "deploy" / "aws" / "Dockerfile").is_file() and (
            folder / "pyproject.toml"
        ).is_file():
            return folder
    raise ConfigError(
        "no medflow checkout (deploy/aws/Dockerfile) here or above; run from the repository"
    )


def build_app(
    context: dict[str, Any] | None = None,
    outdir: Path | None = None,
    pipelines: list[Pipeline] | None = None,
    source: Path | None = None,
) -> Any:
    """The CDK app with the medflow stack, not yet synthesised.

    Args:
        context: CDK context values (see :mod:`medflow.aws.settings`); ``cdk`` passes its own.
        outdir: the cloud assembly folder (default: what the CDK CLI says, else a temp folder).
        pipelines: the declarations (default :func:`declared_pipelines`).
        source: the checkout (default :func:`source_root`).

    Raises:
        ConfigError: a bad context value, a pipeline without a profile, no checkout.
    """
    import aws_cdk as cdk

    from medflow.aws.stack import MedflowStack

    app = cdk.App(context=context or {}, outdir=str(outdir) if outdir else None)
    deploy = DeploySettings.from_context(app.node.try_get_context)
    env = cdk.Environment(
        account=deploy.account or os.environ.get("CDK_DEFAULT_ACCOUNT"),
        region=deploy.region or os.environ.get("CDK_DEFAULT_REGION") or "us-east-1",
    )
    MedflowStack(
        app,
        deploy.stack_name,
        pipelines=pipelines if pipelines is not None else declared_pipelines(),
        deploy=deploy,
        source_dir=source or source_root(),
        env=env,
        description="medflow: medical documents and records pipelines (Lambda, Step Functions)",
    )
    return app


def synth(
    outdir: Path, context: dict[str, Any] | None = None, pipelines: list[Pipeline] | None = None
) -> Path:
    """Synthesise into ``outdir``; returns the template's path.

    Raises:
        ConfigError: as :func:`build_app`.
    """
    app = build_app(context, outdir, pipelines)
    assembly = app.synth()
    stack = assembly.stacks[0]
    return Path(str(assembly.directory)) / str(stack.template_file)
