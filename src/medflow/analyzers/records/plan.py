"""The Initiator: is the file a CSV medflow can read, and which rules will check it.

:func:`initiate` is the first of the three phases :func:`~medflow.analyzers.records.check_file`
runs (then :func:`~medflow.analyzers.records.outputs.transform` and
:func:`~medflow.analyzers.records.insights.analyze`). Its :class:`Plan` is plain JSON, so a later
phase can run in another process, on another machine, from the plan alone.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medflow.analyzers.records.analyzer import (
    CheckOptions,
    RecordsAnalyzer,
    references_present,
    required_absent,
)
from medflow.analyzers.records.clean import normalise_names
from medflow.analyzers.records.infer import describe
from medflow.analyzers.records.ingest import inspect_csv
from medflow.analyzers.records.rules import RuleSet, dump_rules, rules_from_dict

INFERRED_RULES_FILE = "rules.inferred.yaml"
"""Where :func:`~medflow.analyzers.records.check_file` writes rules it inferred."""


@dataclass(frozen=True)
class Plan:
    """What the Initiator decided for one file.

    Attributes:
        file: the file's name (as the report names it).
        rules: the rule set every later phase checks with.
        inferred: whether ``rules`` were inferred from this file (no rule set was given).
        recognised: when inferred, what each column was recognised as (``column``, ``meaning``,
            ``unit``, ``how``), in file order.
        encoding / delimiter: what the sniffer found in the file's first bytes.
        header: the column names as written.
        size_bytes: the file's size.
        missing_required: required columns of ``rules`` the header lacks (the decision
            quarantines such a file whole, with its report).
    """

    file: str
    rules: RuleSet
    inferred: bool
    encoding: str
    delimiter: str
    header: tuple[str, ...]
    size_bytes: int
    recognised: list[dict[str, str]] = field(default_factory=list)
    missing_required: list[str] = field(default_factory=list)

    def analyzer(self, options: CheckOptions) -> RecordsAnalyzer:
        """An analyzer bound to this plan's rules (what :meth:`RecordsAnalyzer.for_file`
        gives, without inferring again)."""
        return RecordsAnalyzer(self.rules, options)

    def rules_text(self) -> str:
        """The inferred rule set as YAML, headed by what each column was recognised as."""
        lines = [
            f"# Rules inferred by medflow from {self.file}: edit them and pass them back with",
            f"#   medflow records check {self.file} --rules {INFERRED_RULES_FILE}",
            "# Columns recognised (column: meaning, unit, how):",
        ]
        for d in self.recognised:
            unit = f", {d['unit']}" if d["unit"] else ""
            lines.append(f"#   {d['column']}: {d['meaning']}{unit} ({d['how']})")
        return "\n".join(lines) + "\n" + dump_rules(self.rules)

    def summary(self) -> dict[str, Any]:
        """What was decided, as a pipeline records it: names and counts, no cell values."""
        return {
            "rules": "inferred" if self.inferred else "given",
            "dataset": self.rules.dataset,
            "rules_version": self.rules.version,
            "columns": len(self.header),
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "size_bytes": self.size_bytes,
            "missing_required": list(self.missing_required),
        }

    def to_json(self) -> str:
        """The plan as JSON (:meth:`from_json` reads it back equal)."""
        data = {
            "file": self.file,
            "rules": self.rules.model_dump(mode="json"),
            "inferred": self.inferred,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "header": list(self.header),
            "size_bytes": self.size_bytes,
            "recognised": self.recognised,
            "missing_required": self.missing_required,
        }
        return json.dumps(data, indent=1)

    @classmethod
    def from_json(cls, text: str) -> Plan:
        """The plan :meth:`to_json` wrote.

        Raises:
            RuleSetError: the rules in it do not load (a plan written by another version).
            KeyError / ValueError: not a plan.
        """
        data = json.loads(text)
        return cls(
            file=str(data["file"]),
            rules=rules_from_dict(data["rules"], f"plan of {data['file']}"),
            inferred=bool(data["inferred"]),
            encoding=str(data["encoding"]),
            delimiter=str(data["delimiter"]),
            header=tuple(str(h) for h in data["header"]),
            size_bytes=int(data["size_bytes"]),
            recognised=[{str(k): str(v) for k, v in d.items()} for d in data["recognised"]],
            missing_required=[str(c) for c in data["missing_required"]],
        )


def initiate(
    analyzer: RecordsAnalyzer,
    path: str | Path,
    work: str | Path,
    references: Collection[str] = (),
) -> Plan:
    """Check that ``path`` can be read as a CSV and decide the rules that check it.

    The file is sniffed (size limit, binary content, encoding, delimiter, header, repeated
    names); when ``analyzer`` infers, its columns are recognised and its rules inferred from an
    even sample (which also reads every record's width). A given rule set's reference rules
    must have their files (``references``: the dataset names given). The width of every record
    is otherwise checked when the rows are read (:func:`~.outputs.transform`).

    Args:
        analyzer: the analyzer with the site's rules, or one that infers them per file.
        path: the CSV (only read).
        work: a folder for intermediate files.
        references: dataset names of the reference files that will be given.

    Raises:
        InputError: subclasses from :mod:`medflow.analyzers.records.errors`: the file cannot
            be read as a CSV, or a reference rule has no file.
    """
    src = Path(path)
    if not analyzer.infers:
        references_present(analyzer.rules, references)
    fmt = inspect_csv(src, analyzer.options.limits)
    bound = analyzer.for_file(src, work)
    cleaning = analyzer.options.cleaning
    names = normalise_names(fmt.header) if cleaning.normalise_names else list(fmt.header)
    return Plan(
        file=src.name,
        rules=bound.rules,
        inferred=bound.inference is not None,
        encoding=fmt.encoding,
        delimiter=fmt.delimiter,
        header=fmt.header,
        size_bytes=fmt.size_bytes,
        recognised=describe(bound.inference.columns) if bound.inference is not None else [],
        missing_required=required_absent(bound.rules, names),
    )
