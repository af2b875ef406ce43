"""Records without a rule file: recognition and checking on hospital-like CSVs nobody tuned on.

Generates files with ``tests/fixtures/records/generate_hospital.py`` in every naming style and
checks each with ``medflow records check`` semantics (no ``--rules``: columns recognised by
meaning, rules inferred). The named baseline, measured in the same run on the same files, is
the earlier default: the built-in admissions rule set applied as is.

Split (fixed before tuning): naming styles ``TUNED`` and seeds 1-99 were used to build the
name vocabulary and the inference; styles ``HELD_OUT`` and seeds 1000+ were never looked at
while tuning. The report prints both, separately:

* column recognition: share of columns whose meaning matches the generator's concept;
* planted impossibilities: share of planted rows quarantined (recall);
* clean rows quarantined (false alarms), as a share of clean rows;
* whole-file decisions.

Usage: ``python benchmarks/records_recognition.py [--rows 4000] [--seeds 3]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
GENERATOR = ROOT / "tests" / "fixtures" / "records" / "generate_hospital.py"
# Concepts whose recognised meaning has another name.
SAME = {
    "first_name": "person_name",
    "lab_unit": "unit",
    "lab_value": "value",
    "loinc_code": "loinc",
    "diagnosis_code": "icd10cm",
    "procedure_code": "snomedct",
    "total_charges": "money",
    "payer": "category",
    "admission_type": "category",
    "department": "category",
}


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("generate_hospital", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["generate_hospital"] = module
    spec.loader.exec_module(module)
    return module


def _quarantined(result: Any) -> set[int]:
    if result.report.decision.value == "quarantined":
        return set(range(1, result.report.records + 1))
    q = pl.read_csv(result.files["quarantined_rows"], infer_schema=False, columns=["row"])
    return {int(r) for r in q["row"]}


def _one(path: Path, truth: dict[str, Any], out: Path, builtin: bool) -> dict[str, Any]:
    from medflow.analyzers.records import CheckOptions, RecordsAnalyzer, builtin_rules, check_file

    options = CheckOptions(anomalies=False, today=dt.date(2026, 1, 1))
    analyzer = RecordsAnalyzer(builtin_rules("admissions") if builtin else None, options)
    result = check_file(analyzer, path, out)
    flagged = _quarantined(result)
    planted = {int(r) for r in truth["planted"]}
    dups = {int(r) for r in truth["duplicates"]}
    clean = truth["rows"] - len(planted) - len(dups)
    row: dict[str, Any] = {
        "planted": len(planted),
        "caught": len(flagged & planted),
        "clean": clean,
        "false": len(flagged - planted - dups),
        "decision": result.report.decision.value,
        "missed": Counter(truth["planted"][str(r)][0] for r in planted - flagged),
    }
    if not builtin:
        recognised = {c.column: c.meaning for c in result.report.recognised_columns}
        right = [SAME.get(concept, concept) == recognised.get(name)
                 for name, concept in truth["columns"].items()]  # fmt: skip
        row["columns"], row["right"] = len(right), sum(right)
        row["wrong"] = [
            f"{name}->{recognised.get(name)}"
            for name, concept in truth["columns"].items()
            if SAME.get(concept, concept) != recognised.get(name)
        ]
    return row


def main() -> None:
    """Generate, check with and without the built-in rules, print per split."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=4000)
    ap.add_argument("--seeds", type=int, default=3)
    a = ap.parse_args()
    gen = _generator()
    splits = {"tuned": (gen.TUNED, range(1, 1 + a.seeds)),
              "held-out": (gen.HELD_OUT, range(1000, 1000 + a.seeds))}  # fmt: skip
    print(f"records_recognition: {a.rows:,} rows per file, {a.seeds} seeds per style; "
          f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    start = time.perf_counter()
    for split, (styles, seeds) in splits.items():
        totals: dict[str, Counter[str]] = {"medflow": Counter(), "builtin": Counter()}
        missed: Counter[str] = Counter()
        wrong: Counter[str] = Counter()
        for style in styles:
            for seed in seeds:
                with tempfile.TemporaryDirectory(prefix="medflow-rec-") as tmp:
                    path = Path(tmp) / f"{style}_{seed}.csv"
                    truth = gen.generate(a.rows, seed, path, style)
                    for name, builtin in (("medflow", False), ("builtin", True)):
                        r = _one(path, truth, Path(tmp) / name, builtin)
                        t = totals[name]
                        for k in ("planted", "caught", "clean", "false", "columns", "right"):
                            t[k] += int(r.get(k, 0))
                        t[f"decision {r['decision']}"] += 1
                        if name == "medflow":
                            missed.update(r["missed"])
                            wrong.update(w.split("->")[0] + " (" + style + ")" for w in r["wrong"])
        print(f"\n[{split}] styles: {', '.join(styles)}; seeds {seeds.start}-{seeds.stop - 1}")
        for name, t in totals.items():
            label = "medflow, no rules " if name == "medflow" else "baseline: built-in"
            recall = t["caught"] / t["planted"] if t["planted"] else 1.0
            false = t["false"] / t["clean"] if t["clean"] else 0.0
            cols = (
                f"columns {t['right']}/{t['columns']} ({t['right'] / t['columns']:.1%}); "
                if t["columns"]
                else ""
            )
            decisions = ", ".join(
                f"{k.split()[1]} {v}" for k, v in sorted(t.items()) if k.startswith("decision")
            )
            print(
                f"  {label}: {cols}planted caught {t['caught']}/{t['planted']} ({recall:.1%}); "
                f"clean rows quarantined {t['false']}/{t['clean']} ({false:.2%}); "
                f"files: {decisions}"
            )
        if missed:
            print(f"  missed planted kinds: {dict(missed.most_common())}")
        if wrong:
            print(f"  columns not recognised as their concept: {sorted(wrong)}")
    print(f"\n{time.perf_counter() - start:.0f} s; load average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
