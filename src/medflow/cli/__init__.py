"""The ``medflow`` command line. Thin: parse input, call a pipeline or a query, render output.

Each capability registers its own sub-command module here (``records``, ``imaging``...).
"""

from medflow.cli.main import app

__all__ = ["app"]
