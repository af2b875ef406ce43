"""Helpers shared by the command groups: settings, errors as one line, exit codes."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console

from medflow.errors import ConfigError
from medflow.platform.config import Settings, get_settings

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2

err_console = Console(stderr=True, highlight=False, soft_wrap=True)
out_console = Console(highlight=False)


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print ``medflow: <message>`` as one line on stderr and exit with ``code``."""
    line = " ".join(message.split())
    print(f"medflow: {line}", file=sys.stderr)
    raise typer.Exit(code)


def load_settings(data_dir: str | None = None) -> Settings:
    """Settings from arguments > environment > medflow.toml; a bad configuration exits 2."""
    try:
        if data_dir is not None:
            return Settings(data_dir=Path(data_dir))
        return get_settings()
    except (ConfigError, ValidationError) as exc:
        fail(f"configuration: {str(exc).splitlines()[0]}")


def quiet_logging(verbose: bool) -> None:
    """Log errors only (everything with --verbose) to stderr: a bad input is reported once, as
    the command's own one-line message. Logs carry ids, never patient data."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.ERROR,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("alembic", "PyRuSH", "faster_whisper", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
