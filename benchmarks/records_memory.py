"""Records memory: does peak memory stay flat as the file grows?

Runs the whole records check (``check_file`` with the built-in admissions rules: cleaning, every
rule, the outputs written, the anomaly detector) on admissions CSVs of two sizes made by
``tests/fixtures/records/generate_admissions.py``, each in its own subprocess so its peak
resident memory (ru_maxrss) is its own, and prints peak MB per size and the growth per million
rows. The named baseline is a process reading the larger file whole (``pl.read_csv``, all
text), which is what memory would do if the check held the frame.

Usage: ``python benchmarks/records_memory.py [--sizes 1000000 10000000] [--no-anomalies]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GENERATOR = ROOT / "tests" / "fixtures" / "records" / "generate_admissions.py"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _worker(path: Path, anomalies: bool, whole: bool) -> dict[str, float]:
    import polars as pl

    from medflow.analyzers.records import CheckOptions, RecordsAnalyzer, check_file

    start = time.perf_counter()
    if whole:
        rows = pl.read_csv(path, infer_schema=False).height
        return {"seconds": time.perf_counter() - start, "peak_mb": _peak_mb(), "rows": rows}
    with tempfile.TemporaryDirectory(prefix="medflow-mem-") as out:
        analyzer = RecordsAnalyzer(options=CheckOptions(anomalies=anomalies))
        report = check_file(analyzer, path, Path(out)).report
    return {
        "seconds": time.perf_counter() - start,
        "peak_mb": _peak_mb(),
        "rows": report.records,
        "curated": report.rows_curated,
    }


def _file(data: Path, rows: int) -> Path:
    path = data / f"admissions_{rows}.csv"
    if not path.exists():
        print(f"generating {rows:,} rows -> {path}", flush=True)
        cmd = [sys.executable, str(GENERATOR), "--rows", str(rows), "--seed", "5"]
        cmd += ["--out", str(path), "--no-artefacts"]
        subprocess.run(cmd, check=True)
    return path


def _spawn(path: Path, anomalies: bool, whole: bool) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--worker", str(path)]
    cmd += [] if anomalies else ["--no-anomalies"]
    cmd += ["--whole"] if whole else []
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> None:
    """Check each size in its own process; print peak memory and its growth."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs=2, default=[1_000_000, 10_000_000])
    ap.add_argument("--data", type=Path, default=ROOT / ".bench" / "records")
    ap.add_argument("--no-anomalies", action="store_true")
    ap.add_argument("--worker", type=Path)
    ap.add_argument("--whole", action="store_true")
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(_worker(a.worker, not a.no_anomalies, a.whole)))
        return
    a.data.mkdir(parents=True, exist_ok=True)
    small, large = sorted(a.sizes)
    print(
        f"records_memory: whole check (cleaning, rules, outputs, "
        f"{'no ' if a.no_anomalies else ''}anomaly detection), built-in admissions rules"
    )
    print(f"{'run':<34}{'rows':>12}{'seconds':>10}{'rows/s':>12}{'peak MB':>10}")
    results = {}
    for rows in (small, large):
        out = _spawn(_file(a.data, rows), not a.no_anomalies, whole=False)
        results[rows] = out
        print(
            f"{'medflow check':<34}{int(out['rows']):>12,}{out['seconds']:>10.1f}"
            f"{out['rows'] / out['seconds']:>12,.0f}{out['peak_mb']:>10,.0f}",
            flush=True,
        )
    base = _spawn(_file(a.data, large), True, whole=True)
    print(
        f"{'baseline: pl.read_csv whole file':<34}{int(base['rows']):>12,}"
        f"{base['seconds']:>10.1f}{base['rows'] / base['seconds']:>12,.0f}"
        f"{base['peak_mb']:>10,.0f}"
    )
    grow = (results[large]["peak_mb"] - results[small]["peak_mb"]) / ((large - small) / 1e6)
    print(
        f"peak memory: {results[small]['peak_mb']:,.0f} MB at {small:,} rows, "
        f"{results[large]['peak_mb']:,.0f} MB at {large:,} rows "
        f"(x{results[large]['peak_mb'] / results[small]['peak_mb']:.2f} for x{large / small:g} "
        f"rows; {grow:+.1f} MB per million rows)"
    )
    print(
        f"ratio: medflow peak / whole-file read peak, both at {large:,} rows = "
        f"{results[large]['peak_mb'] / base['peak_mb']:.2f}x"
    )


if __name__ == "__main__":
    main()
