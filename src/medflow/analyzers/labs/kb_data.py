"""Reading the knowledge-base data files: tests with their sources, and order panels.

Split from ``kb.py``: this module turns YAML into validated models and names the file at fault;
``kb.py`` builds the indexes and answers questions.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from medflow.analyzers.labs.kb_errors import KnowledgeBaseError
from medflow.analyzers.labs.kb_models import (
    MatchingDef,
    PanelDef,
    PanelsFile,
    TestDef,
    TestsFile,
    is_valid_loinc,
)

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 10x faster
_PACKAGE = "medflow.analyzers.labs.knowledge"


@dataclass
class TestsData:
    """Every ``tests_*.yaml`` file read: the tests, the matching rules, each test's source."""

    __test__ = False

    tests: list[TestDef] = field(default_factory=list)
    matching: MatchingDef = field(default_factory=MatchingDef)
    sources: dict[str, str] = field(default_factory=dict)


def first_error(exc: Exception) -> str:
    """The first problem of a validation or YAML error, in one line."""
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        return f"{where}: {err['msg']}"
    return str(exc).splitlines()[0]


def _data_files(data_dir: Path | None, pattern: str) -> list[tuple[str, str]]:
    if data_dir is not None:
        paths = sorted(p for p in data_dir.glob("*.yaml") if re.fullmatch(pattern, p.name))
        return [(p.name, p.read_text(encoding="utf-8")) for p in paths]
    root = resources.files(_PACKAGE)
    names = sorted(e.name for e in root.iterdir() if re.fullmatch(pattern, e.name))
    return [(n, root.joinpath(n).read_text(encoding="utf-8")) for n in names]


def read_tests(data_dir: Path | None) -> TestsData:
    """Read and validate every ``tests_*.yaml`` (the packaged ones when ``data_dir`` is None).

    A test's ``source`` must be a key of its file's ``sources``; the citation is kept by test id.

    Raises:
        KnowledgeBaseError: a file breaks the schema or names an unknown source.
    """
    data = TestsData()
    for name, text in _data_files(data_dir, r"tests_\w+\.yaml"):
        try:
            parsed = TestsFile.model_validate(yaml.load(text, Loader=_LOADER))
        except (ValidationError, yaml.YAMLError) as exc:
            raise KnowledgeBaseError(f"{name}: {first_error(exc)}") from exc
        for test in parsed.tests:
            if test.source and test.source not in parsed.sources:
                raise KnowledgeBaseError(
                    f"{name}: test {test.id!r}: source {test.source!r} is not in 'sources'"
                )
            if test.source:
                data.sources[test.id] = parsed.sources[test.source]
            for unit, code in test.loinc_units.items():
                if not is_valid_loinc(code):
                    raise KnowledgeBaseError(
                        f"{name}: test {test.id!r}: LOINC {code} for {unit} has a wrong check digit"
                    )
        # once loaded, a test's source is the citation itself, not the file's key for it
        data.tests.extend(
            t.model_copy(update={"source": parsed.sources[t.source]}) if t.source else t
            for t in parsed.tests
        )
        if parsed.matching is not None:
            data.matching = parsed.matching
    return data


def read_panels(data_dir: Path | None, test_ids: Collection[str]) -> tuple[PanelDef, ...]:
    """Read and validate ``panels.yaml``; none when the folder has no such file.

    Raises:
        KnowledgeBaseError: a bad LOINC check digit, an unknown member test or superseded
            panel, or more members required than listed.
    """
    files = _data_files(data_dir, r"panels\.yaml")
    if not files:
        return ()
    name, text = files[0]
    try:
        panels = PanelsFile.model_validate(yaml.load(text, Loader=_LOADER)).panels
    except (ValidationError, yaml.YAMLError) as exc:
        raise KnowledgeBaseError(f"{name}: {first_error(exc)}") from exc
    ids = {p.id for p in panels}
    for panel in panels:
        where = f"{name}: panel {panel.id!r}"
        if not is_valid_loinc(panel.loinc):
            raise KnowledgeBaseError(f"{where}: LOINC {panel.loinc} has a wrong check digit")
        needed = (*panel.members, *panel.requires_all, *panel.requires_any)
        unknown = [m for m in needed if m not in test_ids]
        if unknown:
            raise KnowledgeBaseError(f"{where}: members {unknown} are not tests")
        if panel.min_members > len(panel.members):
            raise KnowledgeBaseError(f"{where}: min_members exceeds the members listed")
        for other in panel.supersedes:
            if other not in ids:
                raise KnowledgeBaseError(f"{where}: supersedes unknown panel {other!r}")
    return panels


def panels_for(panels: tuple[PanelDef, ...], test_ids: Collection[str]) -> list[PanelDef]:
    """The panels a report holds: ``min_members`` of each and the tests it requires.

    A panel superseded by another one found (a BMP inside a CMP) is left out.
    """
    present = set(test_ids)
    found = [
        p
        for p in panels
        if len(present.intersection(p.members)) >= p.min_members
        and present.issuperset(p.requires_all)
        and (not p.requires_any or present.intersection(p.requires_any))
    ]
    dropped = {other for p in found for other in p.supersedes}
    return [p for p in found if p.id not in dropped]
