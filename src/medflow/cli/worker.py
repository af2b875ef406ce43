"""``medflow worker``: a Celery worker running pipeline steps (``runner.backend = celery``)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from medflow.cli.common import fail, load_settings, quiet_logging


class Pool(StrEnum):
    """Celery execution pools ``medflow worker`` offers."""

    PREFORK = "prefork"
    THREADS = "threads"
    SOLO = "solo"


def worker(
    concurrency: Annotated[
        int | None, typer.Option(help="Steps at once; default runner.workers.")
    ] = None,
    queues: Annotated[
        str | None,
        typer.Option(help="Comma-separated queues; default runner.queue and every routed one."),
    ] = None,
    pool: Annotated[Pool, typer.Option(help="prefork: a process per slot.")] = Pool.PREFORK,
    data_dir: Annotated[str | None, typer.Option(help="Default ./medflow-data.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run pipeline steps from the broker until stopped (needs runner.backend = celery)."""
    quiet_logging(verbose)
    from medflow.errors import ConfigError, DependencyMissingError
    from medflow.pipelines import default_pipelines
    from medflow.platform import PipelineRegistry, build_runner, build_services

    settings = load_settings(data_dir)
    if settings.runner.backend != "celery":
        fail(
            "configuration: runner.backend is "
            f"{settings.runner.backend!r}; medflow worker needs celery "
            "(MEDFLOW_RUNNER__BACKEND=celery)"
        )
    try:
        services = build_services(settings)
        runner = build_runner(services, PipelineRegistry(default_pipelines(settings)))
    except (ConfigError, DependencyMissingError) as exc:
        fail(f"configuration: {exc}")
    from medflow.platform.runner.celery import CeleryRunner, run_worker

    assert isinstance(runner, CeleryRunner)
    names = [q.strip() for q in (queues or "").split(",") if q.strip()] or runner.queues()
    slots = concurrency or settings.runner.workers
    print(
        f"medflow: worker on {', '.join(names)} ({pool.value} x{slots}); "
        f"pipelines {', '.join(runner.registry.names())}",
        flush=True,
    )
    code = run_worker(
        runner,
        concurrency=slots,
        queues=names,
        pool=pool.value,
        loglevel="INFO" if verbose else "WARNING",
    )
    if code:
        raise typer.Exit(code)
