"""``python -m medflow`` runs the command line."""

from medflow.cli import app

app()
