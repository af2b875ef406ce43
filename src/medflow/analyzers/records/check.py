"""Checking one CSV on one machine: the three phases in order, in one output folder.

:func:`check_file` runs :func:`~.plan.initiate` (is it a CSV, which rules),
:func:`~.outputs.transform` (clean, validate, curated and quarantined rows) and
:func:`~.insights.analyze` (outliers, the report), then copies a file the rules quarantine whole
into ``quarantine/``. The records pipeline runs the same phases as separate steps, handing their
files over through the object store.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from medflow.analyzers.records.analyzer import RecordsAnalyzer, copy_original
from medflow.analyzers.records.insights import analyze
from medflow.analyzers.records.outputs import transform
from medflow.analyzers.records.plan import initiate
from medflow.analyzers.records.report import Decision, InsightReport


@dataclass(frozen=True)
class CheckResult:
    """A checked file: the report and where its outputs lie.

    Attributes:
        report: the insight report (also in ``report.json``).
        out_dir: the output folder; ``files`` maps output names to paths in it.
    """

    report: InsightReport
    out_dir: Path
    files: dict[str, Path]


def check_file(
    analyzer: RecordsAnalyzer,
    path: str | Path,
    out_dir: str | Path,
    references: Mapping[str, Path] | None = None,
) -> CheckResult:
    """Check one CSV and write every output to ``out_dir``.

    The output folder receives ``curated.csv`` and ``curated.parquet``, ``quarantined_rows.csv``,
    ``unparsed_rows.csv``, ``duplicate_rows.csv``, ``anomalies.csv``, ``report.json``,
    ``report.html`` and, for inferred rules, ``rules.inferred.yaml`` (see the phases); a file
    quarantined whole is copied byte for byte to ``quarantine/`` and no curated file is written.

    Raises:
        InputError: the file cannot be read as a CSV (see :func:`~.plan.initiate` and
            :meth:`RecordsAnalyzer.validate`).
    """
    src, out = Path(path), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    work = out / ".work"
    refs = references or {}
    try:
        plan = initiate(analyzer, src, work, refs)
        found = transform(plan, analyzer.options, src, work, out, work, refs)
        insights = analyze(plan, found, analyzer.options, work, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    files = {name: out / name_in_out for name, name_in_out in found.files.items()}
    files.update(insights.files)
    if insights.report.decision is Decision.QUARANTINED:
        files["quarantined_file"] = copy_original(src, out / "quarantine")
    return CheckResult(report=insights.report, out_dir=out, files=files)
