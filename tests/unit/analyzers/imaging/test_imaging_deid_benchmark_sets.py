"""The seed sets of ``benchmarks/imaging_deid_accuracy.py``: a held-out set is only held out
when none of its seeds was tuned on or measured in another set."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[4] / "benchmarks"))

import imaging_deid_accuracy as bench


def _overlap(a: range, b: range) -> set[int]:
    return set(a) & set(b)


def test_held_out_sets_share_no_seed_with_any_other_set() -> None:
    held_out = [name for name in bench.SETS if name not in bench.TUNING]
    assert "held-out-8" in held_out
    for name in held_out:
        phi, free = bench.SETS[name]
        for other in bench.SETS:
            if other == name:
                continue
            other_phi, other_free = bench.SETS[other]
            assert not _overlap(phi, other_phi), (name, other, "PHI seeds")
            assert not _overlap(free, other_free), (name, other, "text-free seeds")


def test_the_newest_held_out_set_lies_past_every_seed_used_before() -> None:
    phi, free = bench.SETS["held-out-8"]
    earlier = [r for name, pair in bench.SETS.items() if name != "held-out-8" for r in pair]
    assert phi.start > max(r.stop - 1 for r in earlier)
    assert free.start > max(r.stop - 1 for r in earlier)
    assert len(phi) == 80 and len(free) == 80
    assert "held-out-8" not in bench.TUNING  # its cases are never printed one by one
    assert "held-out-8" not in bench.SPENT


def test_spent_sets_are_measured_held_out_sets() -> None:
    # a spent set prints its cases: only a set already measured once and reported may be one
    assert set(bench.SPENT) <= set(bench.SETS) - set(bench.TUNING)
    assert all(
        bench.SETS[name][0].stop <= bench.SETS["held-out-8"][0].start for name in bench.SPENT
    )
