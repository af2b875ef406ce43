"""Pipelines by name: what a runner can run."""

from __future__ import annotations

import threading

from medflow.errors import PipelineDeclarationError, PipelineError
from medflow.platform.runner.declaration import Pipeline


class UnknownPipelineError(PipelineError, LookupError):
    """No pipeline of that name is registered."""


class PipelineRegistry:
    """A name -> :class:`Pipeline` map, safe to read from worker threads.

    Args:
        pipelines: pipelines to register at once.
    """

    def __init__(self, pipelines: tuple[Pipeline, ...] | list[Pipeline] = ()) -> None:
        self._pipelines: dict[str, Pipeline] = {}
        self._lock = threading.Lock()
        for p in pipelines:
            self.register(p)

    def register(self, pipeline: Pipeline, *, replace: bool = False) -> Pipeline:
        """Add ``pipeline``; returns it.

        Args:
            pipeline: the declaration.
            replace: allow replacing a registered pipeline of the same name (a new version).

        Raises:
            PipelineDeclarationError: another pipeline already has that name.
        """
        with self._lock:
            existing = self._pipelines.get(pipeline.name)
            if existing is not None and existing is not pipeline and not replace:
                raise PipelineDeclarationError(f"pipeline {pipeline.name!r} is registered twice")
            self._pipelines[pipeline.name] = pipeline
        return pipeline

    def get(self, name: str) -> Pipeline:
        """The pipeline called ``name``.

        Raises:
            UnknownPipelineError: none is registered; the message lists those that are.
        """
        with self._lock:
            found = self._pipelines.get(name)
            known = sorted(self._pipelines)
        if found is None:
            raise UnknownPipelineError(
                f"no pipeline named {name!r}; registered: {', '.join(known) or 'none'}"
            )
        return found

    def names(self) -> list[str]:
        """Registered names, sorted."""
        with self._lock:
            return sorted(self._pipelines)

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._pipelines
