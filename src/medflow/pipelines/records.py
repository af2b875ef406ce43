"""The records pipeline: a CSV dropped under ``raw/records/`` is checked, cleaned and split.

``check`` runs the records analyzer on the object and writes, under a prefix made of the file's
name and content hash (so a retried or repeated run rewrites the same keys, never a second copy):

* ``curated/records/<stem>/<sha16>/curated.csv`` and ``curated.parquet`` (typed, cleaned rows);
* ``quarantine/records/<stem>/<sha16>/quarantined_rows.csv`` (original cells, row numbers and
  every reason) and ``unparsed_rows.csv`` (records of the wrong width);
* ``insights/records/<stem>/<sha16>/report.json``, ``report.html`` and ``anomalies.csv``.

A file the decision quarantines whole is copied byte for byte to
``quarantine/records/<stem>/<sha16>/<name>`` beside ``reason.json``. A file that cannot be read at
all (binary, empty, over the size limit...) fails the step permanently and ``quarantine`` does the
same with the error. The original always stays in ``raw``: nothing is lost.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from medflow.analyzers.records import CheckOptions, RecordsAnalyzer, RuleSet, check_file
from medflow.platform.runner.context import StepContext
from medflow.platform.runner.declaration import NO_RETRY, Pipeline, RetryPolicy, Step
from medflow.platform.storage.base import ObjectStore

PIPELINE = "records"
VERSION = "1"
CURATED_BUCKET = "curated"
QUARANTINE_BUCKET = "quarantine"
INSIGHTS_BUCKET = "insights"

_DESTINATIONS = {
    "curated_csv": (CURATED_BUCKET, "curated.csv", "text/csv"),
    "curated_parquet": (CURATED_BUCKET, "curated.parquet", "application/vnd.apache.parquet"),
    "quarantined_rows": (QUARANTINE_BUCKET, "quarantined_rows.csv", "text/csv"),
    "unparsed_rows": (QUARANTINE_BUCKET, "unparsed_rows.csv", "text/csv"),
    "anomalies": (INSIGHTS_BUCKET, "anomalies.csv", "text/csv"),
    "report_json": (INSIGHTS_BUCKET, "report.json", "application/json"),
    "report_html": (INSIGHTS_BUCKET, "report.html", "text/html"),
}


@dataclass(frozen=True)
class RecordsConfig:
    """What a site sets for the records pipeline.

    Attributes:
        rules: the rule set (default: the built-in admissions rules).
        options: cleaning, size limit, anomaly detection.
        references: other files by dataset name, as ``(bucket, key)``, for reference rules.
    """

    rules: RuleSet | None = None
    options: CheckOptions = field(default_factory=CheckOptions)
    references: Mapping[str, tuple[str, str]] = field(default_factory=dict)


def output_prefix(key: str, sha256: str) -> str:
    """``records/<stem>/<sha16>/``: one folder per distinct content of one file name."""
    return f"records/{PurePosixPath(key).stem}/{sha256[:16]}/"


def _quarantine_original(
    store: ObjectStore, bucket: str, key: str, prefix: str, reason: Mapping[str, Any]
) -> str:
    dest = prefix + PurePosixPath(key).name
    if store.exists(bucket, key):
        store.copy(bucket, key, QUARANTINE_BUCKET, dest)
    store.put(
        QUARANTINE_BUCKET,
        prefix + "reason.json",
        json.dumps(dict(reason), indent=2).encode(),
        content_type="application/json",
    )
    return dest


def check_object(
    store: ObjectStore,
    bucket: str,
    key: str,
    sha256: str,
    config: RecordsConfig,
    analyzer: RecordsAnalyzer,
) -> dict[str, Any]:
    """Check one stored CSV and write its outputs (see the module docstring).

    Returns:
        The decision, counts and the written keys by output name (no patient data).

    Raises:
        InputError subclasses: the object cannot be read as a CSV (a permanent failure).
    """
    prefix = output_prefix(key, sha256)
    with tempfile.TemporaryDirectory(prefix="medflow-records-") as tmp:
        work = Path(tmp)
        # Objects travel as files (streamed by the store), never as one bytes value: a CSV of
        # several gigabytes is checked without its size in memory.
        src = work / "in" / PurePosixPath(key).name
        src.parent.mkdir()
        store.get_file(bucket, key, src)
        refs: dict[str, Path] = {}
        for name, (ref_bucket, ref_key) in config.references.items():
            refs[name] = work / "refs" / name / PurePosixPath(ref_key).name
            refs[name].parent.mkdir(parents=True, exist_ok=True)
            store.get_file(ref_bucket, ref_key, refs[name])
        result = check_file(analyzer, src, work / "out", refs)
        written: dict[str, str] = {}
        for name, path in result.files.items():
            if name not in _DESTINATIONS:
                continue
            dest_bucket, filename, content_type = _DESTINATIONS[name]
            store.put_file(dest_bucket, prefix + filename, path, content_type=content_type)
            written[name] = f"{dest_bucket}/{prefix}{filename}"
    report = result.report
    if "quarantined_file" in result.files:
        reason = {"decision": report.decision.value, "reason": report.decision_reason}
        dest = _quarantine_original(store, bucket, key, prefix, reason)
        written["quarantined_file"] = f"{QUARANTINE_BUCKET}/{dest}"
    return {
        "decision": report.decision.value,
        "decision_reason": report.decision_reason,
        "records": report.records,
        "rows_curated": report.rows_curated,
        "rows_quarantined": report.rows_quarantined,
        "anomalies_detected": report.anomalies_detected,
        "outputs": written,
    }


def records_pipeline(config: RecordsConfig | None = None) -> Pipeline:
    """The ``records`` declaration: ``check``, with ``quarantine`` on a permanent failure.

    The analyzer (rule set, code sets) is built here once and shared by every execution.
    """
    cfg = config or RecordsConfig()
    analyzer = RecordsAnalyzer(cfg.rules, cfg.options)

    def check(ctx: StepContext) -> dict[str, Any]:
        event = ctx.object_event
        ctx.progress(0.0, "checking records")
        out = check_object(ctx.services.store, event.bucket, event.key, event.sha256, cfg, analyzer)
        ctx.progress(1.0, out["decision"])
        return out

    def quarantine(ctx: StepContext) -> dict[str, Any]:
        event = ctx.object_event
        error = dict(ctx.state.get("error", {}))
        prefix = output_prefix(event.key, event.sha256)
        dest = _quarantine_original(ctx.services.store, event.bucket, event.key, prefix, error)
        return {"quarantined": f"{QUARANTINE_BUCKET}/{dest}"}

    # Only storage blips are worth a retry; a bad file fails the same way every time.
    return Pipeline(
        name=PIPELINE,
        version=VERSION,
        steps=(Step("check", check, RetryPolicy(max_attempts=3, timeout_s=3600.0)),),
        on_failure=Step("quarantine", quarantine, NO_RETRY),
    )
