"""Records checks at scale: read floor, medflow, pandera (polars), Great Expectations, anomalies.

The checks: types (integer, float, ISO date), ranges, allowed values, the date-order rule
(admission <= discharge) and uniqueness of the encounter id, over an admissions CSV made by
``tests/fixtures/records/generate_admissions.py`` (2% of rows break a rule). Each tool runs in its
own subprocess, so its peak memory (ru_maxrss) is its own; each reads the CSV itself.

* medflow: ``RecordsAnalyzer.validate`` (cleaning and outliers off, as the others have neither),
  then the per-rule counts: every row gets a flag per rule; the ragged-row check runs too.
* pandera 0.x ``pandera.polars``: ``pl.read_csv`` (all text) + ``DataFrameSchema``
  ``.validate(lazy=True)``, failure cases collected; numbers coerced (``coerce=True``), dates
  checked as ISO text with ``str.to_date`` (``pandera``), and, as first declared, dates coerced
  with ``Column(pl.Date, coerce=True)`` (``pandera_coerce``), which Polars 2 no longer supports:
  that run fails every row's dates and skips the date checks, so it does less work. The ratio is
  taken against the faster of all the others.
* Great Expectations 1.x (pandas): ``pd.read_csv`` (text) + numeric/date coercion + an
  expectation suite; on at most ``--gx-rows`` rows (pandas holds the whole frame as Python
  strings: 10M rows would need > 15 GB), reported as rows/s on that many rows.

* floor: reading just the checked columns with Polars (``pl.read_csv(columns=...)``, all text,
  both cores) and nothing else: no check can be faster than its own read.
* medflow_clean: the same checks with cleaning on (each date column's format decided from all
  its values, trimming, duplicates): what ``medflow records check`` does before writing.
* anomalies: the anomaly pass (median/MAD + IsolationForest) on the rows that passed the rules
  (the file's rows less its injected violations, typed), scored in parallel slices with the
  few-trees screen (``anomalies``) and, as the baseline, every row by the whole forest
  (``anomalies_full``); precision and recall on the generator's planted outliers for both.

Usage: ``python benchmarks/records_speed.py [--rows 10000000] [--gx-rows 1000000]``.
Prints rows/s, wall and CPU seconds per tool, peak memory, the ratio of medflow to the read
floor, CPU per row against pandera, and the anomaly pass beside its baseline. CPU seconds are
less sensitive to other load on the machine than wall time: both are printed, with the load.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GENERATOR = ROOT / "tests" / "fixtures" / "records" / "generate_admissions.py"
SEX = ["F", "M", "O", "U"]
ADMISSION_TYPES = ["emergency", "urgent", "elective", "newborn", "trauma"]
DEPARTMENTS = [
    "cardiology",
    "emergency",
    "general_medicine",
    "neurology",
    "obstetrics",
    "oncology",
    "orthopedics",
    "pediatrics",
    "pulmonology",
    "surgery",
]
INTS = {"age": (0, 120), "heart_rate": (20, 300), "systolic_bp": (40, 300)}
FLOATS = {"temperature_c": (25, 45), "weight": (0.3, 500)}


def _cpu() -> float:
    """CPU seconds this process has used, all threads (user + system)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


CHECKED = [
    "encounter_id",
    "sex",
    "admission_type",
    "department",
    "admission_date",
    "discharge_date",
    *INTS,
    *FLOATS,
]


def run_floor(path: Path, rows: int) -> dict[str, float]:
    """The read floor: the checked columns read with Polars as text, nothing checked."""
    import polars as pl

    start, cpu0 = time.perf_counter(), _cpu()
    height = pl.read_csv(path, columns=CHECKED, infer_schema=False).height
    seconds, cpu = time.perf_counter() - start, _cpu() - cpu0
    return {"seconds": seconds, "cpu": cpu, "rows": height, "failures": 0, "peak_mb": _peak_mb()}


def run_medflow(path: Path, rows: int, clean: bool = False) -> dict[str, float]:
    """medflow: validate (every rule flagged per row) and count failures per rule."""
    from medflow.analyzers.records import CheckOptions, CleaningOptions, RecordsAnalyzer
    from medflow.analyzers.records.outputs import rule_stats
    from medflow.analyzers.records.rules import rules_from_dict

    columns: dict[str, dict[str, object]] = {
        "encounter_id": {"required": True},
        "sex": {"required": True, "allowed": SEX},
        "admission_type": {"required": True, "allowed": ADMISSION_TYPES},
        "department": {"required": True, "allowed": DEPARTMENTS},
        "admission_date": {"type": "date", "required": True},
        "discharge_date": {"type": "date"},
    }
    columns |= {c: {"type": "integer", "min": lo, "max": hi} for c, (lo, hi) in INTS.items()}
    columns |= {c: {"type": "float", "min": lo, "max": hi} for c, (lo, hi) in FLOATS.items()}
    rules = rules_from_dict(
        {
            "dataset": "bench",
            "columns": columns,
            "unique": [["encounter_id"]],
            "cross_field": [
                {
                    "id": "date_order",
                    "rule": "date_order",
                    "first": "admission_date",
                    "then": "discharge_date",
                }
            ],
        }
    )
    cleaning = CleaningOptions() if clean else CleaningOptions.off()
    options = CheckOptions(cleaning=cleaning, anomalies=False)
    with tempfile.TemporaryDirectory(prefix="medflow-bench-") as work:
        start, cpu0 = time.perf_counter(), _cpu()
        validation = RecordsAnalyzer(rules, options).validate(path, work)
        _, _, failing = rule_stats(validation)
        seconds, cpu = time.perf_counter() - start, _cpu() - cpu0
    return {
        "seconds": seconds,
        "cpu": cpu,
        "rows": rows,
        "failures": failing,
        "peak_mb": _peak_mb(),
    }


def _pandera_schema(dates: str) -> Any:
    """The pandera schema; ``dates`` says how dates are typed (see :func:`run_pandera`)."""
    import pandera.polars as pa
    import polars as pl

    def parses(c: str) -> Any:
        return pa.Check(
            lambda d: d.lazyframe.select(
                pl.col(c).is_null() | pl.col(c).str.to_date("%Y-%m-%d", strict=False).is_not_null()
            ),
            name=f"{c}_is_iso_date",
        )

    cols = {
        "encounter_id": pa.Column(pl.String, unique=True, nullable=False),
        "sex": pa.Column(pl.String, pa.Check.isin(SEX), nullable=False),
        "admission_type": pa.Column(pl.String, pa.Check.isin(ADMISSION_TYPES), nullable=False),
        "department": pa.Column(pl.String, pa.Check.isin(DEPARTMENTS), nullable=False),
    }
    if dates == "coerce":
        cols["admission_date"] = pa.Column(pl.Date, nullable=False, coerce=True)
        cols["discharge_date"] = pa.Column(pl.Date, nullable=True, coerce=True)
        first, then = pl.col("admission_date"), pl.col("discharge_date")
        checks = []
    else:
        cols["admission_date"] = pa.Column(pl.String, nullable=False)
        cols["discharge_date"] = pa.Column(pl.String, nullable=True)
        first = pl.col("admission_date").str.to_date("%Y-%m-%d", strict=False)
        then = pl.col("discharge_date").str.to_date("%Y-%m-%d", strict=False)
        checks = [parses("admission_date"), parses("discharge_date")]
    cols |= {
        c: pa.Column(pl.Int64, pa.Check.in_range(lo, hi), nullable=True, coerce=True)
        for c, (lo, hi) in INTS.items()
    }
    cols |= {
        c: pa.Column(pl.Float64, pa.Check.in_range(lo, hi), nullable=True, coerce=True)
        for c, (lo, hi) in FLOATS.items()
    }
    order = pa.Check(
        lambda d: d.lazyframe.select((first <= then).fill_null(True)),
        name="date_order",
    )
    return pa.DataFrameSchema(cols, checks=[*checks, order])


def _pandera(path: Path, rows: int, dates: str) -> dict[str, float]:
    import polars as pl
    from pandera.errors import SchemaErrors

    schema = _pandera_schema(dates)
    start, cpu0 = time.perf_counter(), _cpu()
    df = pl.read_csv(path, infer_schema=False)
    try:
        schema.validate(df, lazy=True)
        failures = 0
    except SchemaErrors as exc:
        failures = exc.failure_cases.height
    seconds, cpu = time.perf_counter() - start, _cpu() - cpu0
    return {
        "seconds": seconds,
        "cpu": cpu,
        "rows": rows,
        "failures": failures,
        "peak_mb": _peak_mb(),
    }


def run_pandera(path: Path, rows: int) -> dict[str, float]:
    """pandera (polars backend): read all as text, coerce numbers, check dates as text.

    Dates are checked as ISO text with ``str.to_date`` inside custom checks, and the date-order
    check parses them the same way: pandera coerces with ``LazyFrame.cast``, and Polars 2 no
    longer casts text to dates (see :func:`run_pandera_coerce`), so this is what a pandera user
    on Polars 2 writes to get the same checks.
    """
    return _pandera(path, rows, "text")


def run_pandera_coerce(path: Path, rows: int) -> dict[str, float]:
    """pandera as first declared: ``Column(pl.Date, coerce=True)`` for the two dates.

    On Polars 2 that coercion fails on every row, so pandera reports each row as a failure case
    and skips the date checks; kept so the ratio is also shown against this (cheaper) run.
    """
    return _pandera(path, rows, "coerce")


def run_gx(path: Path, rows: int) -> dict[str, float]:
    """Great Expectations 1.x on pandas: read as text, coerce, validate an expectation suite."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("TQDM_DISABLE", "1")
    import great_expectations as gx
    import great_expectations.expectations as gxe
    import pandas as pd

    start, cpu0 = time.perf_counter(), _cpu()
    df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], nrows=rows)
    for c in [*INTS, *FLOATS]:
        df[f"{c}__n"] = pd.to_numeric(df[c], errors="coerce")
    for c in ("admission_date", "discharge_date"):
        df[f"{c}__d"] = pd.to_datetime(df[c], format="%Y-%m-%d", errors="coerce")
    ctx = gx.get_context(mode="ephemeral")
    batch_def = (
        ctx.data_sources.add_pandas("p")
        .add_dataframe_asset("a")
        .add_batch_definition_whole_dataframe("b")
    )
    suite = ctx.suites.add(gx.ExpectationSuite(name="records"))
    exps: list[object] = [
        gxe.ExpectColumnValuesToBeUnique(column="encounter_id"),
        gxe.ExpectColumnValuesToNotBeNull(column="encounter_id"),
        gxe.ExpectColumnValuesToBeInSet(column="sex", value_set=SEX),
        gxe.ExpectColumnValuesToBeInSet(column="admission_type", value_set=ADMISSION_TYPES),
        gxe.ExpectColumnValuesToBeInSet(column="department", value_set=DEPARTMENTS),
        gxe.ExpectColumnValuesToMatchRegex(column="admission_date", regex=r"^\d{4}-\d{2}-\d{2}$"),
        gxe.ExpectColumnValuesToMatchRegex(column="discharge_date", regex=r"^\d{4}-\d{2}-\d{2}$"),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="discharge_date__d",
            column_B="admission_date__d",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
        ),
    ]
    for c, (lo, hi) in INTS.items():
        exps.append(gxe.ExpectColumnValuesToMatchRegex(column=c, regex=r"^-?\d+$"))
        exps.append(gxe.ExpectColumnValuesToBeBetween(column=f"{c}__n", min_value=lo, max_value=hi))
    for c, (lo, hi) in FLOATS.items():
        exps.append(gxe.ExpectColumnValuesToMatchRegex(column=c, regex=r"^-?\d+(\.\d+)?$"))
        exps.append(gxe.ExpectColumnValuesToBeBetween(column=f"{c}__n", min_value=lo, max_value=hi))
    for e in exps:
        suite.add_expectation(e)  # type: ignore[arg-type]
    result = batch_def.get_batch(batch_parameters={"dataframe": df}).validate(
        suite, result_format="SUMMARY"
    )
    failures = sum(int(r.result.get("unexpected_count") or 0) for r in result.results)
    seconds, cpu = time.perf_counter() - start, _cpu() - cpu0
    return {
        "seconds": seconds,
        "cpu": cpu,
        "rows": len(df),
        "failures": failures,
        "peak_mb": _peak_mb(),
    }


def run_medflow_clean(path: Path, rows: int) -> dict[str, float]:
    """medflow with cleaning on (dates decided per column, trimming, duplicates)."""
    return run_medflow(path, rows, clean=True)


def _anomalies(path: Path, rows: int, full: bool) -> dict[str, float]:
    import polars as pl

    from medflow.analyzers.records import anomaly, builtin_rules

    rules = builtin_rules("admissions")
    cols = list(rules.anomalies.columns or ())
    truth = json.loads(path.with_suffix(".truth.json").read_text(encoding="utf-8"))
    bad = [int(r) for r in truth["violations"]]
    typed = path.with_suffix(".passed.parquet")
    if not typed.exists():
        # The rows that passed the rules, typed: what the check hands the detector.
        lf = pl.scan_csv(path, infer_schema=False).with_row_index(anomaly.ROW, offset=1)
        lf.with_columns(pl.col(anomaly.ROW).cast(pl.Int64)).filter(
            ~pl.col(anomaly.ROW).is_in(bad)
        ).select(
            anomaly.ROW, *[pl.col(c).str.strip_chars().cast(pl.Float64, strict=False) for c in cols]
        ).sink_parquet(typed)
    anomaly._FULL_SCORING = full
    start, cpu0 = time.perf_counter(), _cpu()
    found, _ = anomaly.detect_outliers(pl.scan_parquet(typed), cols, rules.anomalies)
    seconds, cpu = time.perf_counter() - start, _cpu() - cpu0
    flagged = {o.row for o in found}
    planted = {int(r) for r in truth["outliers"]}
    tp = len(flagged & planted)
    digest = hash(tuple(sorted(flagged))) & 0xFFFFFFFF
    return {
        "seconds": seconds,
        "cpu": cpu,
        "rows": rows - len(bad),
        "failures": len(flagged),
        "peak_mb": _peak_mb(),
        "precision": tp / len(flagged) if flagged else 1.0,
        "recall": tp / len(planted) if planted else 1.0,
        "digest": digest,
    }


def run_anomalies(path: Path, rows: int) -> dict[str, float]:
    """The anomaly pass as medflow runs it: parallel slices, few-trees screen."""
    return _anomalies(path, rows, full=False)


def run_anomalies_full(path: Path, rows: int) -> dict[str, float]:
    """Baseline: every row scored by the whole forest."""
    return _anomalies(path, rows, full=True)


WORKERS = {
    "floor": run_floor,
    "medflow": run_medflow,
    "medflow_clean": run_medflow_clean,
    "anomalies": run_anomalies,
    "anomalies_full": run_anomalies_full,
    "pandera": run_pandera,
    "pandera_coerce": run_pandera_coerce,
    "great_expectations": run_gx,
}


def _spawn(tool: str, path: Path, rows: int) -> dict[str, float] | str:
    cmd = [sys.executable, __file__, "--worker", tool, "--file", str(path), "--rows", str(rows)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return f"failed: {tail}"
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> None:
    """Generate (or reuse) the file, run each tool in turn, print the table and the ratio."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--gx-rows", type=int, default=1_000_000)
    ap.add_argument("--data", type=Path, default=ROOT / ".bench" / "records")
    ap.add_argument("--skip-gx", action="store_true")
    ap.add_argument("--skip-anomalies", action="store_true")
    ap.add_argument("--worker", choices=sorted(WORKERS))
    ap.add_argument("--file", type=Path)
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(WORKERS[a.worker](a.file, a.rows)))
        return
    a.data.mkdir(parents=True, exist_ok=True)
    path = a.data / f"admissions_{a.rows}.csv"
    if not path.exists():
        print(f"generating {a.rows:,} rows -> {path}", flush=True)
        subprocess.run(
            [
                sys.executable,
                str(GENERATOR),
                "--rows",
                str(a.rows),
                "--seed",
                "5",
                "--out",
                str(path),
                "--no-artefacts",
            ],
            check=True,
        )
    size_mb = path.stat().st_size / 1e6
    print(
        f"records_speed: {a.rows:,} rows, {size_mb:,.0f} MB; checks: types, ranges, allowed "
        "values, admission <= discharge, unique encounter_id"
    )
    plan = [(t, a.rows) for t in ("floor", "medflow", "medflow_clean", "pandera", "pandera_coerce")]
    if not a.skip_gx:
        plan.append(("great_expectations", min(a.rows, a.gx_rows)))
    if not a.skip_anomalies:
        plan += [("anomalies", a.rows), ("anomalies_full", a.rows)]
    results: dict[str, dict[str, float]] = {}
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(
        f"{'tool':<20}{'rows':>12}{'seconds':>10}{'cpu s':>8}{'rows/s':>14}{'peak MB':>10}"
        f"{'failures':>12}"
    )
    for tool, rows in plan:
        out = _spawn(tool, path, rows)
        if isinstance(out, str):
            print(f"{tool:<20} {out}")
            continue
        results[tool] = out
        rate = out["rows"] / out["seconds"]
        extra = ""
        if "precision" in out:
            extra = f"  precision {out['precision']:.3f} recall {out['recall']:.3f}"
        print(
            f"{tool:<20}{int(out['rows']):>12,}{out['seconds']:>10.2f}{out['cpu']:>8.1f}"
            f"{rate:>14,.0f}{out['peak_mb']:>10,.0f}{int(out['failures']):>12,}{extra}",
            flush=True,
        )
    _summary(results)


def _summary(results: dict[str, dict[str, float]]) -> None:
    """The figures the issue asks for, each beside its target."""
    med, floor = results.get("medflow"), results.get("floor")
    if med and floor:
        print(
            f"floor ratio: medflow {med['seconds']:.2f} s / read floor {floor['seconds']:.2f} s = "
            f"{med['seconds'] / floor['seconds']:.2f}x wall, "
            f"{med['cpu'] / floor['cpu']:.2f}x CPU (target within 2x)"
        )
        clean = results.get("medflow_clean")
        if clean:
            print(
                f"  with cleaning on: {clean['seconds'] / floor['seconds']:.2f}x wall, "
                f"{clean['cpu'] / floor['cpu']:.2f}x CPU"
            )
    others = {t: r for t, r in results.items() if t.startswith("pandera")}
    if med and others:
        best = min(others, key=lambda t: others[t]["cpu"] / others[t]["rows"])
        per_row = others[best]["cpu"] / others[best]["rows"]
        ratio = per_row / (med["cpu"] / med["rows"])
        wall = (others[best]["seconds"] / others[best]["rows"]) / (med["seconds"] / med["rows"])
        print(
            f"cpu per row: {best} spends {ratio:.2f}x medflow's CPU per row (target >= 3x); "
            f"wall {wall:.2f}x"
        )
    if med:
        print(f"peak memory: medflow {med['peak_mb']:,.0f} MB (target <= 1,024 MB)")
    fast, full = results.get("anomalies"), results.get("anomalies_full")
    if fast:
        print(
            f"anomaly pass: {fast['seconds']:.1f} s wall, {fast['cpu']:.1f} s CPU (target <= 30 s)"
        )
    if fast and full:
        same = "the same rows" if fast["digest"] == full["digest"] else "DIFFERENT rows"
        print(
            f"  baseline (every row, whole forest): {full['seconds']:.1f} s wall, "
            f"{full['cpu']:.1f} s CPU; {full['seconds'] / fast['seconds']:.1f}x faster; "
            f"flags {same}: precision {fast['precision']:.3f} vs {full['precision']:.3f}, "
            f"recall {fast['recall']:.3f} vs {full['recall']:.3f}"
        )
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(
        "failures count differently: medflow counts failing rows; pandera failure cases "
        "(a failed type coercion is one case per column); GX unexpected values per expectation"
    )


if __name__ == "__main__":
    main()
