"""Errors raised while loading the labs knowledge base (data files or per-lab overrides)."""

from __future__ import annotations

from medflow.errors import ConfigError


class KnowledgeBaseError(ConfigError):
    """A knowledge-base data file or a per-lab override is invalid.

    The message names the file (or ``"overrides"``) and the entry at fault, e.g.
    ``"tests.yaml: test 'hemoglobin': LOINC 718-8 has a wrong check digit"``.
    """
