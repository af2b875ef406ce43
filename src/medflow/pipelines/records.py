"""The records pipeline: a CSV dropped under ``raw/records/`` is checked, cleaned and split.

Four steps, the seed's Initiator -> Transformer -> Analyzer -> Mover, each the matching phase of
the records analyzer (:func:`~medflow.analyzers.records.initiate`,
:func:`~medflow.analyzers.records.transform`, :func:`~medflow.analyzers.records.analyze`) or
the platform's part (moving objects):

* ``initiate``: the CSV is readable (size, encoding, header, required columns) and the rule set
  is decided (the site's, or inferred from the file); the plan goes to the ``work`` bucket;
* ``transform``: every row cleaned and validated; quarantined rows, unparsed records, curated
  rows (CSV and Parquet) and the typed hand-off for the Analyzer go to ``work``;
* ``analyze``: outliers among the curated rows, the decision's report (JSON and HTML) to ``work``;
* ``move``: each staged output to its bucket, the original beside its reason when the file is
  quarantined whole, then the work objects deleted.

A step may run on another worker (a Celery worker, a Lambda function, a Fargate task) than the
one before it, so nothing passes between steps but the object store and the execution's state,
which holds only names, counts and the decision (no cell values). Work objects live under
``work/records/<stem>/<sha16>/``, outputs under the same prefix in their buckets (a retried or
repeated run rewrites the same keys, never a second copy):

* ``curated/records/<stem>/<sha16>/curated.csv`` and ``curated.parquet`` (typed, cleaned rows);
* ``quarantine/records/<stem>/<sha16>/quarantined_rows.csv`` (original cells, row numbers and
  every reason) and ``unparsed_rows.csv`` (records of the wrong width);
* ``insights/records/<stem>/<sha16>/report.json``, ``report.html`` and ``anomalies.csv``.

A file the decision quarantines whole is copied byte for byte to
``quarantine/records/<stem>/<sha16>/<name>`` beside ``reason.json``. A file that cannot be read at
all (binary, empty, over the size limit...) fails its step permanently and ``quarantine`` does
the same with the error, and deletes the work objects. The original always stays in ``raw``:
nothing is lost.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from medflow.analyzers.records import (
    CheckOptions,
    Decision,
    Plan,
    RecordsAnalyzer,
    RuleSet,
    Transformed,
    analyze,
    initiate,
    transform,
)
from medflow.analyzers.records.outputs import CURATED_ROWS
from medflow.errors import PipelineError
from medflow.platform.runner.context import StepContext
from medflow.platform.runner.declaration import NO_RETRY, Pipeline, RetryPolicy, Step
from medflow.platform.storage.base import ObjectStore

PIPELINE = "records"
VERSION = "2"
CURATED_BUCKET = "curated"
QUARANTINE_BUCKET = "quarantine"
INSIGHTS_BUCKET = "insights"
WORK_BUCKET = "work"

PLAN = "plan.json"
TRANSFORMED = "transformed.json"
STAGED = "staged/"
"""Under the work prefix: outputs waiting for ``move``."""

_DESTINATIONS = {
    "quarantined_rows": (QUARANTINE_BUCKET, "quarantined_rows.csv", "text/csv"),
    "unparsed_rows": (QUARANTINE_BUCKET, "unparsed_rows.csv", "text/csv"),
    "curated_csv": (CURATED_BUCKET, "curated.csv", "text/csv"),
    "curated_parquet": (CURATED_BUCKET, "curated.parquet", "application/vnd.apache.parquet"),
    "anomalies": (INSIGHTS_BUCKET, "anomalies.csv", "text/csv"),
    "report_json": (INSIGHTS_BUCKET, "report.json", "application/json"),
    "report_html": (INSIGHTS_BUCKET, "report.html", "text/html"),
}
"""Published outputs: bucket, file name and content type, in the order they are listed."""


class StagedOutputLostError(PipelineError):
    """An output ``analyze`` staged is neither in the work bucket nor at its destination."""


@dataclass(frozen=True)
class RecordsConfig:
    """What a site sets for the records pipeline.

    Attributes:
        rules: the rule set (default: inferred from each file).
        options: cleaning, size limit, anomaly detection.
        references: other files by dataset name, as ``(bucket, key)``, for reference rules.
    """

    rules: RuleSet | None = None
    options: CheckOptions = field(default_factory=CheckOptions)
    references: Mapping[str, tuple[str, str]] = field(default_factory=dict)


def output_prefix(key: str, sha256: str) -> str:
    """``records/<stem>/<sha16>/``: one folder per distinct content of one file name (the same
    prefix holds the file's work objects in the ``work`` bucket)."""
    return f"records/{PurePosixPath(key).stem}/{sha256[:16]}/"


@contextmanager
def _scratch() -> Iterator[Path]:
    # Gone when the step ends: what a later step needs is in the object store.
    with tempfile.TemporaryDirectory(prefix="medflow-records-") as tmp:
        yield Path(tmp)


def _fetch(store: ObjectStore, bucket: str, key: str, dest: Path) -> Path:
    # Objects travel as files (streamed by the store), never as one bytes value: a CSV of
    # several gigabytes is checked without its size in memory.
    dest.parent.mkdir(parents=True, exist_ok=True)
    store.get_file(bucket, key, dest)
    return dest


def _put_json(store: ObjectStore, key: str, text: str, tmp: Path) -> None:
    path = tmp / PurePosixPath(key).name
    path.write_text(text, encoding="utf-8")
    store.put_file(WORK_BUCKET, key, path, content_type="application/json")


def _get_text(store: ObjectStore, key: str, tmp: Path) -> str:
    return _fetch(store, WORK_BUCKET, key, tmp / "meta" / PurePosixPath(key).name).read_text(
        encoding="utf-8"
    )


def _stage(store: ObjectStore, prefix: str, files: Mapping[str, Path]) -> list[str]:
    """Put the publishable ``files`` under the work prefix; their output names."""
    staged = []
    for name, path in files.items():
        if name in _DESTINATIONS:
            _, filename, content_type = _DESTINATIONS[name]
            store.put_file(WORK_BUCKET, prefix + STAGED + filename, path, content_type=content_type)
            staged.append(name)
    return staged


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


def _clean_work(store: ObjectStore, prefix: str) -> int:
    """Delete the work objects under ``prefix`` (one already gone is no error: retry-safe)."""
    removed = 0
    for obj in store.list(WORK_BUCKET, prefix):
        try:
            store.delete(WORK_BUCKET, obj.key)
            removed += 1
        except LookupError:
            continue
    return removed


def initiate_object(
    store: ObjectStore,
    bucket: str,
    key: str,
    sha256: str,
    config: RecordsConfig,
    analyzer: RecordsAnalyzer,
) -> dict[str, Any]:
    """The ``initiate`` step: read the stored CSV's shape and decide its rules.

    Writes ``plan.json`` under the work prefix.

    Returns:
        What was decided (:meth:`Plan.summary`: rule source, dataset, columns, encoding...).

    Raises:
        InputError subclasses: the object cannot be read as a CSV (a permanent failure).
    """
    prefix = output_prefix(key, sha256)
    with _scratch() as tmp:
        src = _fetch(store, bucket, key, tmp / "in" / PurePosixPath(key).name)
        plan = initiate(analyzer, src, tmp / "work", config.references.keys())
        _put_json(store, prefix + PLAN, plan.to_json(), tmp)
    return plan.summary()


def transform_object(
    store: ObjectStore, bucket: str, key: str, sha256: str, config: RecordsConfig
) -> dict[str, Any]:
    """The ``transform`` step: clean and validate every row of the stored CSV by its plan.

    Stages ``quarantined_rows.csv``, ``unparsed_rows.csv``, ``curated.csv`` and
    ``curated.parquet`` under the work prefix, beside ``transformed.json`` and the typed
    curated rows the Analyzer reads.

    Returns:
        The decision and counts (:meth:`Transformed.summary`).

    Raises:
        InputError subclasses: the rows cannot be read as a CSV (a permanent failure).
    """
    prefix = output_prefix(key, sha256)
    with _scratch() as tmp:
        plan = Plan.from_json(_get_text(store, prefix + PLAN, tmp))
        src = _fetch(store, bucket, key, tmp / "in" / PurePosixPath(key).name)
        refs = {
            name: _fetch(
                store, ref_bucket, ref_key, tmp / "refs" / name / PurePosixPath(ref_key).name
            )
            for name, (ref_bucket, ref_key) in config.references.items()
        }
        out, hand = tmp / "out", tmp / "handoff"
        found = transform(plan, config.options, src, tmp / "work", out, hand, refs)
        _stage(store, prefix, {name: out / f for name, f in found.files.items()})
        if found.curated_rows is not None:
            store.put_file(WORK_BUCKET, prefix + CURATED_ROWS, hand / found.curated_rows)
        _put_json(store, prefix + TRANSFORMED, found.model_dump_json(), tmp)
    return found.summary()


def analyze_object(
    store: ObjectStore, key: str, sha256: str, config: RecordsConfig
) -> dict[str, Any]:
    """The ``analyze`` step: outliers among the curated rows, and the insight report.

    Stages ``anomalies.csv``, ``report.json`` and ``report.html`` under the work prefix.

    Returns:
        The decision, its reason and the report's counts, and ``staged``: the names of every
        output waiting for ``move``.
    """
    prefix = output_prefix(key, sha256)
    with _scratch() as tmp:
        plan = Plan.from_json(_get_text(store, prefix + PLAN, tmp))
        found = Transformed.model_validate_json(_get_text(store, prefix + TRANSFORMED, tmp))
        hand = tmp / "handoff"
        if found.curated_rows is not None:
            _fetch(store, WORK_BUCKET, prefix + CURATED_ROWS, hand / found.curated_rows)
        insights = analyze(plan, found, config.options, hand, tmp / "out")
        _stage(store, prefix, insights.files)
    report = insights.report
    produced = set(found.files) | set(insights.files)
    return {
        "decision": report.decision.value,
        "decision_reason": report.decision_reason,
        "records": report.records,
        "rows_curated": report.rows_curated,
        "rows_quarantined": report.rows_quarantined,
        "anomalies_detected": report.anomalies_detected,
        "staged": [name for name in _DESTINATIONS if name in produced],
    }


def move_object(
    store: ObjectStore, bucket: str, key: str, sha256: str, analysed: Mapping[str, Any]
) -> dict[str, Any]:
    """The ``move`` step: publish the staged outputs and clean the work objects.

    Each output named in ``analysed["staged"]`` is copied from the work bucket to its bucket
    (an output already moved by an earlier try is found there); a file quarantined whole is
    copied beside ``reason.json``; then the work prefix is emptied.

    Args:
        analysed: what ``analyze`` returned (``decision``, ``decision_reason``, ``staged``).

    Returns:
        ``outputs``: the written keys by output name.

    Raises:
        StagedOutputLostError: a staged output is in neither place (run the file again).
    """
    prefix = output_prefix(key, sha256)
    written: dict[str, str] = {}
    for name in analysed["staged"]:
        dest_bucket, filename, _ = _DESTINATIONS[name]
        staged = prefix + STAGED + filename
        if store.exists(WORK_BUCKET, staged):
            store.copy(WORK_BUCKET, staged, dest_bucket, prefix + filename)
        elif not store.exists(dest_bucket, prefix + filename):
            raise StagedOutputLostError(
                f"records output {filename} of {PurePosixPath(key).name} is neither staged in "
                f"{WORK_BUCKET}/{prefix} nor in {dest_bucket}: check the file again"
            )
        written[name] = f"{dest_bucket}/{prefix}{filename}"
    if analysed["decision"] == Decision.QUARANTINED.value:
        reason = {"decision": analysed["decision"], "reason": analysed["decision_reason"]}
        dest = _quarantine_original(store, bucket, key, prefix, reason)
        written["quarantined_file"] = f"{QUARANTINE_BUCKET}/{dest}"
    _clean_work(store, prefix)
    return {"outputs": written}


def check_object(
    store: ObjectStore,
    bucket: str,
    key: str,
    sha256: str,
    config: RecordsConfig,
    analyzer: RecordsAnalyzer,
) -> dict[str, Any]:
    """Check one stored CSV: the four steps in order, on this worker (see the module docstring).

    Returns:
        The decision, counts and the written keys by output name (no patient data), as the
        pipeline's state holds them at its end.

    Raises:
        InputError subclasses: the object cannot be read as a CSV (a permanent failure).
    """
    initiate_object(store, bucket, key, sha256, config, analyzer)
    transform_object(store, bucket, key, sha256, config)
    analysed = analyze_object(store, key, sha256, config)
    moved = move_object(store, bucket, key, sha256, analysed)
    return {**{k: v for k, v in analysed.items() if k != "staged"}, **moved}


def records_pipeline(config: RecordsConfig | None = None) -> Pipeline:
    """The ``records`` declaration: ``initiate`` -> ``transform`` -> ``analyze`` -> ``move``,
    with ``quarantine`` on a permanent failure.

    The analyzer (rule set, code sets) is built here once and shared by every execution. Each
    step's timeout says where it runs on AWS (:func:`medflow.aws.asl.compute_for`): the three
    that read a whole file or all its rows (up to the 20 GiB read limit: more than Lambda's
    10 GiB of /tmp and 15 minutes) run as Fargate tasks; ``move`` only copies objects within
    the store and runs on Lambda.
    """
    cfg = config or RecordsConfig()
    analyzer = RecordsAnalyzer(cfg.rules, cfg.options)

    def initiate_step(ctx: StepContext) -> dict[str, Any]:
        event = ctx.object_event
        ctx.progress(0.0, "reading the CSV's shape")
        plan = initiate_object(
            ctx.services.store, event.bucket, event.key, event.sha256, cfg, analyzer
        )
        ctx.progress(1.0, f"rules {plan['rules']}")
        return {"initiated": plan}

    def transform_step(ctx: StepContext) -> dict[str, Any]:
        event = ctx.object_event
        ctx.progress(0.0, "cleaning and validating rows")
        found = transform_object(ctx.services.store, event.bucket, event.key, event.sha256, cfg)
        ctx.progress(1.0, found["decision"])
        return {"transformed": found}

    def analyze_step(ctx: StepContext) -> dict[str, Any]:
        event = ctx.object_event
        ctx.progress(0.0, "looking for outliers")
        out = analyze_object(ctx.services.store, event.key, event.sha256, cfg)
        ctx.progress(1.0, out["decision"])
        return out

    def move_step(ctx: StepContext) -> dict[str, Any]:
        event = ctx.object_event
        ctx.progress(0.0, "publishing outputs")
        return move_object(ctx.services.store, event.bucket, event.key, event.sha256, ctx.state)

    def quarantine(ctx: StepContext) -> dict[str, Any]:
        event = ctx.object_event
        error = dict(ctx.state.get("error", {}))
        prefix = output_prefix(event.key, event.sha256)
        store = ctx.services.store
        dest = _quarantine_original(store, event.bucket, event.key, prefix, error)
        _clean_work(store, prefix)
        return {"quarantined": f"{QUARANTINE_BUCKET}/{dest}"}

    # Only storage blips are worth a retry; a bad file fails the same way every time.
    return Pipeline(
        name=PIPELINE,
        version=VERSION,
        steps=(
            Step("initiate", initiate_step, RetryPolicy(max_attempts=3, timeout_s=1800.0)),
            Step("transform", transform_step, RetryPolicy(max_attempts=3, timeout_s=3600.0)),
            Step("analyze", analyze_step, RetryPolicy(max_attempts=3, timeout_s=3600.0)),
            Step("move", move_step, RetryPolicy(max_attempts=3, timeout_s=600.0)),
        ),
        on_failure=Step("quarantine", quarantine, NO_RETRY),
    )
