"""Records accuracy on a generated admissions file with known injected problems.

Prints, against the generator's ground truth:

* rule violations: recall and precision over (row, rule id) pairs, overall and per rule;
* outliers: precision and recall of medflow's detector (median/MAD + IsolationForest), per kind,
  beside a named baseline measured in the same run: the classic z-score (|x - mean| / sd > 3) on
  the same columns and the same rows;
* cleaning: each count against the number of injected artefacts.

Usage: ``python benchmarks/records_accuracy.py [--rows 100000] [--seed 21]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
GENERATOR = ROOT / "tests" / "fixtures" / "records" / "generate_admissions.py"


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("generate_admissions", GENERATOR)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["generate_admissions"] = module
    spec.loader.exec_module(module)
    return module


def _pr(found: set[Any], truth: set[Any]) -> tuple[float, float]:
    tp = len(found & truth)
    precision = tp / len(found) if found else 1.0
    recall = tp / len(truth) if truth else 1.0
    return precision, recall


def _zscore_baseline(curated_rows: Path, columns: list[str]) -> set[int]:
    lf = pl.scan_parquet(curated_rows)
    stats = lf.select(
        [pl.col(c).mean().alias(f"m_{c}") for c in columns]
        + [pl.col(c).std().alias(f"s_{c}") for c in columns]
    ).collect()
    hit = pl.any_horizontal(
        [((pl.col(c) - stats[f"m_{c}"][0]).abs() / stats[f"s_{c}"][0]) > 3 for c in columns]
    )
    rows = lf.filter(hit.fill_null(False)).select("__row").collect()
    return set(rows["__row"].to_list())


def main() -> None:
    """Generate, check, compare with the truth, print."""
    from medflow.analyzers.records import CheckOptions, RecordsAnalyzer, builtin_rules
    from medflow.analyzers.records import outputs as records_outputs

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=21)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="medflow-acc-") as tmp:
        path = Path(tmp) / "admissions.csv"
        _generator().generate(a.rows, a.seed, path)
        truth = json.loads(path.with_suffix(".truth.json").read_text(encoding="utf-8"))
        rules = builtin_rules("admissions")
        # Keep the detector's work copy (curated rows with row numbers) for the baseline.
        kept: dict[str, Path] = {}
        original = records_outputs.detect_outliers

        def keep_copy(lf: pl.LazyFrame, cols: list[str], spec: Any) -> Any:
            copy = Path(tmp) / "curated_rows.parquet"
            lf.sink_parquet(copy)
            kept["rows"] = copy
            return original(pl.scan_parquet(copy), cols, spec)

        records_outputs.detect_outliers = keep_copy  # type: ignore[assignment]
        analyzer = RecordsAnalyzer(rules, CheckOptions())
        result = records_outputs.check_file(analyzer, path, Path(tmp) / "out")
        q = pl.read_csv(result.files["quarantined_rows"], infer_schema=False)
        found = {
            (int(r), x) for r, ids in zip(q["row"], q["rules"], strict=True) for x in ids.split(",")
        }
        expected = {(int(r), x) for r, ids in truth["violations"].items() for x in ids}
        p, r = _pr(found, expected)
        print(f"records_accuracy: {truth['rows']:,} rows, seed {a.seed}")
        print(
            f"rule violations: {len(expected):,} injected (row, rule) pairs; "
            f"recall {r:.2%}, precision {p:.2%} (false positives: {len(found - expected)})"
        )
        for rule in sorted({x for _, x in expected}):
            e = {f for f in expected if f[1] == rule}
            f = {x for x in found if x[1] == rule}
            rp, rr = _pr(f, e)
            print(f"  {rule:<28} injected {len(e):>6,}  recall {rr:7.2%}  precision {rp:7.2%}")
        anomalies = pl.read_csv(result.files["anomalies"])
        planted = {int(k): v for k, v in truth["outliers"].items()}
        flagged_all = set(anomalies["row"].to_list())
        print(f"outliers: {len(planted)} injected among rows that pass the rules")
        for label, kind in (
            ("univariate (MAD)", "outlier"),
            ("multivariate (IForest)", "multivariate"),
        ):
            rows = set(anomalies.filter(pl.col("kind") == kind)["row"].to_list())
            want = {
                k
                for k, v in planted.items()
                if v == ("univariate" if kind == "outlier" else "multivariate")
            }
            prec = len(rows & set(planted)) / len(rows) if rows else 1.0
            rec = len(rows & want) / len(want) if want else 1.0
            print(
                f"  {label:<24} flagged {len(rows):>5}  precision {prec:6.2%}  "
                f"recall on its kind {rec:6.2%}"
            )
        p_all, r_all = _pr(flagged_all, set(planted))
        print(
            f"  {'medflow combined':<24} flagged {len(flagged_all):>5}  "
            f"precision {p_all:6.2%}  recall {r_all:6.2%}"
        )
        watched = [c for c in (rules.anomalies.columns or ()) if c]
        base = _zscore_baseline(kept["rows"], watched)
        p_b, r_b = _pr(base, set(planted))
        print(
            f"  {'baseline z-score > 3':<24} flagged {len(base):>5}  "
            f"precision {p_b:6.2%}  recall {r_b:6.2%}"
        )
        if p_b:
            print(
                f"ratio: medflow precision / z-score precision = {p_all / p_b:.2f}x; "
                f"recall {r_all / r_b if r_b else float('nan'):.2f}x"
            )
        print("cleaning (counted / injected):")
        art = truth["artefacts"]
        pairs = [
            ("whitespace_trimmed", art["padded_cells"]),
            ("dates_to_iso", art["us_dates"]),
            ("sex_codes_unified", art["sex_variants"]),
            ("units_normalised", art["weights_in_pounds"]),
            ("duplicate_rows_removed", len(truth["duplicates"])),
        ]
        for name, injected in pairs:
            print(f"  {name:<24} {result.report.cleaning[name]:>7,} / {injected:,}")


if __name__ == "__main__":
    main()
