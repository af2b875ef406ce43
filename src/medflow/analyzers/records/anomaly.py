"""Anomaly detection beyond the rules, on rows that passed them.

Univariate: the modified z-score ``0.6745 * (x - median) / MAD`` (Iglewicz & Hoaglin, "How to
Detect and Handle Outliers", ASQC 1993); when the MAD is 0 the mean absolute deviation times
1.253314 stands in (the same fallback IBM SPSS uses). Multivariate: scikit-learn's
IsolationForest (Liu, Ting & Zhou, ICDM 2008) on each column's percentile (its empirical CDF,
learnt from an even sample), so a combination that is rare in the file stands apart whatever the
columns' units and skew; a row is flagged when its isolation score is far above the file's usual
scores (a robust z-score over the sample's scores, so the threshold comes from the data), and a
row a single column already explains is left to the univariate check. Medians, MADs, the
percentile map and the forest all come from the sample; rows are scored in slices, so memory
stays flat. Every anomaly carries a sentence a person can read.

Scoring every row with every tree is the cost at scale (10 million rows x 100 trees). Rows are
scored in slices on both cores, and each row is first scored with a few trees: the forest's
mean path length over 40 trees estimates the full mean closely, and the largest gap between
the two among the sample's most isolated rows (times a safety factor) bounds how far the
estimate can be off.
Only rows whose estimate comes within that bound of the threshold are scored by the whole
forest, so the rows flagged are those the whole forest flags (checked on the planted set by
``benchmarks/records_speed.py``), at a fraction of the work.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import polars as pl
from numpy.typing import NDArray

from medflow.analyzers.records.report import OutlierSummary
from medflow.analyzers.records.rules import AnomalySpec

ROW = "__row"
_SLICE = 250_000
_MIN_ROWS_FOR_FOREST = 50
_FULL_SCORING = False
"""Score every row with the whole forest (the slow baseline; benchmarks switch it on)."""


@dataclass(frozen=True)
class Outlier:
    """One anomaly.

    Attributes:
        row: 1-based data-row number in the original file.
        kind: ``outlier`` (one column) or ``multivariate`` (a combination).
        column: the column (for a multivariate anomaly, the most unusual one).
        reason: the readable reason.
    """

    row: int
    kind: Literal["outlier", "multivariate"]
    column: str
    reason: str


@dataclass(frozen=True)
class _Scale:
    median: float
    spread: float
    factor: float


def _scales(lf: pl.LazyFrame, columns: list[str]) -> dict[str, _Scale]:
    """Median and spread per column, from ``lf`` (the caller passes a bounded sample)."""
    med = lf.select([pl.col(c).cast(pl.Float64).median() for c in columns]).collect(
        engine="streaming"
    )
    medians = {c: med[c][0] for c in columns if med[c][0] is not None}
    dev = [(pl.col(c).cast(pl.Float64) - m).abs() for c, m in medians.items()]
    spread = lf.select(
        [d.median().alias(f"mad{i}") for i, d in enumerate(dev)]
        + [d.mean().alias(f"mean{i}") for i, d in enumerate(dev)]
    ).collect(engine="streaming")
    out: dict[str, _Scale] = {}
    for i, (c, m) in enumerate(medians.items()):
        mad, mean_ad = spread[f"mad{i}"][0], spread[f"mean{i}"][0]
        if mad:
            out[c] = _Scale(float(m), float(mad), 0.6745)
        elif mean_ad:
            out[c] = _Scale(float(m), float(mean_ad), 1 / 1.253314)
    return out


@dataclass(frozen=True)
class _Fence:
    low: float
    high: float


def _fences(lf: pl.LazyFrame, columns: list[str], k: float) -> dict[str, _Fence]:
    """Per column, ``[q1 - k x span, q99 + k x span]`` with span = q99 - q1 (from a sample).

    A subgroup of at least 1% of rows (newborns' breathing rates among adults') lies inside
    the 1st-99th percentile span, so it is never an outlier; a value as far again beyond the
    span is.
    """
    qs = lf.select(
        [pl.col(c).cast(pl.Float64).quantile(0.01).alias(f"lo{i}") for i, c in enumerate(columns)]
        + [pl.col(c).cast(pl.Float64).quantile(0.99).alias(f"hi{i}") for i, c in enumerate(columns)]
    ).collect(engine="streaming")
    out: dict[str, _Fence] = {}
    for i, c in enumerate(columns):
        lo, hi = qs[f"lo{i}"][0], qs[f"hi{i}"][0]
        if lo is None or hi is None or hi <= lo:
            continue
        span = float(hi) - float(lo)
        out[c] = _Fence(float(lo) - k * span, float(hi) + k * span)
    return out


def _tails(lf: pl.LazyFrame, fences: dict[str, _Fence]) -> list[Outlier]:
    if not fences:
        return []

    def outside(c: str, f: _Fence) -> pl.Expr:
        v = pl.col(c).cast(pl.Float64)
        return (v < f.low) | (v > f.high)

    hit = pl.any_horizontal([outside(c, f) for c, f in fences.items()])
    found = lf.filter(hit.fill_null(False)).select(ROW, *fences).collect(engine="streaming")
    out: list[Outlier] = []
    for rec in found.iter_rows(named=True):
        for c, f in fences.items():
            x = rec[c]
            if x is not None and (x < f.low or x > f.high):
                reason = (
                    f"{c} {x:g} is far outside the file's usual values "
                    f"(expected {f.low:.4g} to {f.high:.4g})"
                )
                out.append(Outlier(int(rec[ROW]), "outlier", c, reason))
    return out


def _z(c: str, s: _Scale) -> pl.Expr:
    return s.factor * (pl.col(c).cast(pl.Float64) - s.median) / s.spread


def _univariate(lf: pl.LazyFrame, scales: dict[str, _Scale], threshold: float) -> list[Outlier]:
    if not scales:
        return []
    zs = [_z(c, s).alias(f"__z_{c}") for c, s in scales.items()]
    hit = pl.any_horizontal([_z(c, s).abs() > threshold for c, s in scales.items()])
    found = lf.filter(hit.fill_null(False)).select(ROW, *scales, *zs).collect(engine="streaming")
    out: list[Outlier] = []
    for rec in found.iter_rows(named=True):
        for c, s in scales.items():
            z = rec[f"__z_{c}"]
            if z is not None and abs(z) > threshold:
                reason = (
                    f"{c} {rec[c]:g} is far from the typical {s.median:g} "
                    f"(robust z {z:+.1f}; threshold {threshold:g})"
                )
                out.append(Outlier(int(rec[ROW]), "outlier", c, reason))
    return out


def _percentiles(sample: NDArray[np.float64]) -> list[NDArray[np.float64]]:
    """Per column, the sample's sorted values: the empirical CDF that :func:`_to_cdf` reads."""
    return [np.sort(sample[:, j]) for j in range(sample.shape[1])]


def _to_cdf(x: NDArray[np.float64], sorted_cols: list[NDArray[np.float64]]) -> NDArray[np.float64]:
    """Each value's share of the sample at or below it (ties get their middle share)."""
    out = np.empty_like(x)
    for j, ref in enumerate(sorted_cols):
        lo = np.searchsorted(ref, x[:, j], side="left")
        hi = np.searchsorted(ref, x[:, j], side="right")
        out[:, j] = (lo + hi) / (2.0 * len(ref))
    return out


def _ordinal(p: float) -> str:
    pct = 100 * p
    return f"{pct:.1f}th" if 0.5 <= pct < 99.5 else f"{pct:.2f}th"


_SCREEN_TREES = 40
_SCREEN_SAFETY = 1.5
_NEAR = 0.02


class ForestScorer:
    """Scores rows with a fitted IsolationForest: a few trees first, the whole forest only for
    rows that could pass the threshold (see the module docstring).

    Args:
        forest: a fitted ``sklearn.ensemble.IsolationForest``.
        train: the rows it was fitted on (the threshold and the screen's error bound are
            measured on them).
        score_threshold: the robust z-score of the isolation score above which a row is
            flagged (scores as ``-score_samples``: higher is more isolated).
        screen_trees: how many trees the first pass uses.
    """

    def __init__(
        self,
        forest: Any,
        train: NDArray[np.float64],
        score_threshold: float,
        screen_trees: int = _SCREEN_TREES,
    ) -> None:
        from sklearn.ensemble._iforest import _average_path_length

        self.trees = list(forest.estimators_)
        self.paths = list(forest._decision_path_lengths)
        self.average = list(forest._average_path_length_per_tree)
        self.n = len(self.trees)
        self.k = min(screen_trees, self.n)
        self.norm = float(self.n * _average_path_length([forest.max_samples_])[0])
        x = np.ascontiguousarray(train, dtype=np.float32)
        part = self._depths(x, range(self.k))
        full = part + self._depths(x, range(self.k, self.n))
        # The threshold comes from the file: how far a row's isolation score stands above the
        # sample's usual scores, in robust z units (median and MAD of the scores).
        usual = 2.0 ** (-full / self.norm)
        self.centre = float(np.median(usual))
        mad = float(np.median(np.abs(usual - self.centre))) / 0.6745
        self.spread = mad or float(np.std(usual)) or 1.0
        self.cut = self.centre + score_threshold * self.spread
        # score > cut  <=>  summed depth < depth_cut (score = 2 ** (-summed depth / norm)).
        self.depth_cut = -np.log2(self.cut) * self.norm
        # The bound is measured where it matters: among the sample's most isolated rows (the
        # 2% with the shortest paths), how much longer the estimate can be than the truth.
        near = full <= np.quantile(full, _NEAR) if len(x) else np.zeros(0, dtype=bool)
        gap = part[near] * (self.n / self.k) - full[near]
        self.margin = max(float(gap.max()) if gap.size else 0.0, 0.0) * _SCREEN_SAFETY + 1e-9

    def _depths(self, x: NDArray[np.float32], trees: Sequence[int]) -> NDArray[np.float64]:
        out = np.zeros(len(x), dtype=np.float64)
        for i in trees:
            leaves = self.trees[i].apply(x, check_input=False)
            out += self.paths[i][leaves] + self.average[i][leaves] - 1.0
        return out

    def scores(self, q: NDArray[np.float64]) -> NDArray[np.float64]:
        """Anomaly scores; rows that cannot reach the threshold get 0."""
        x = np.ascontiguousarray(q, dtype=np.float32)
        first = self._depths(x, range(self.k))
        maybe = np.flatnonzero(first * (self.n / self.k) < self.depth_cut + self.margin)
        out = np.zeros(len(x), dtype=np.float64)
        if len(maybe):
            summed = first[maybe] + self._depths(x[maybe], range(self.k, self.n))
            out[maybe] = 2.0 ** (-summed / self.norm)
        return out

    def full_scores(self, q: NDArray[np.float64]) -> NDArray[np.float64]:
        """Every row scored by the whole forest (the baseline the screen is checked against)."""
        x = np.ascontiguousarray(q, dtype=np.float32)
        return np.asarray(2.0 ** (-self._depths(x, range(self.n)) / self.norm))


def _workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def _multivariate(
    lf: pl.LazyFrame,
    n_rows: int,
    scales: dict[str, _Scale],
    spec: AnomalySpec,
    explained: set[int],
) -> list[Outlier]:
    from sklearn.ensemble import IsolationForest

    cols = list(scales)
    cfg = spec.isolation_forest
    if not cfg.enabled or len(cols) < 2 or n_rows < _MIN_ROWS_FOR_FOREST:
        return []
    filled = [pl.col(c).cast(pl.Float64).fill_null(scales[c].median) for c in cols]
    step = max(1, n_rows // cfg.sample_rows)
    sample = lf.select(filled).gather_every(step).collect(engine="streaming").to_numpy()
    # Percentiles, not raw values: the forest splits one axis at a time, and on percentiles a
    # rare pairing (a toddler's age with an adult's weight) is an empty corner of the unit cube
    # whatever each column's unit, skew or outliers.
    ref = _percentiles(sample)
    train = _to_cdf(sample, ref)
    forest = IsolationForest(
        n_estimators=cfg.n_estimators,
        max_samples=min(cfg.max_samples, len(train)),
        random_state=cfg.seed,
    )
    forest.fit(train)
    scorer = ForestScorer(forest, train, cfg.score_threshold)
    cut, centre, spread = scorer.cut, scorer.centre, scorer.spread
    cap = int(cfg.contamination * n_rows)

    def score_slice(offset: int) -> list[tuple[float, int, str, str]]:
        part = lf.slice(offset, _SLICE).select(ROW, *filled).collect()
        x = part.select(cols).to_numpy()
        q = _to_cdf(x, ref)
        score = scorer.full_scores(q) if _FULL_SCORING else scorer.scores(q)
        return _flagged(part[ROW].to_numpy(), x, q, score, cut, centre, spread)

    def _flagged(
        rows: NDArray[Any],
        x: NDArray[np.float64],
        q: NDArray[np.float64],
        score: NDArray[np.float64],
        cut: float,
        centre: float,
        spread: float,
    ) -> list[tuple[float, int, str, str]]:
        found: list[tuple[float, int, str, str]] = []
        for i in np.flatnonzero(score > cut):
            row = int(rows[i])
            if row in explained:
                continue
            far = sorted(range(len(cols)), key=lambda j: -abs(q[i, j] - 0.5))[:3]
            parts = ", ".join(
                f"{cols[j]} {x[i, j]:g} ({_ordinal(q[i, j])} percentile)" for j in far
            )
            z = (score[i] - centre) / spread
            reason = (
                f"unusual combination of values: {parts}; isolation score robust z "
                f"{z:+.1f} (threshold {cfg.score_threshold:g})"
            )
            found.append((float(score[i]), row, cols[far[0]], reason))
        return found

    # Slices are scored on both cores: Polars reads, numpy and the trees release the GIL.
    with ThreadPoolExecutor(max_workers=_workers()) as pool:
        found = [f for part in pool.map(score_slice, range(0, n_rows, _SLICE)) for f in part]
    # ``contamination`` caps the share flagged: past it, only the most isolated rows are kept.
    if len(found) > cap:
        found = sorted(found, key=lambda f: -f[0])[: max(cap, 0)]
    return [Outlier(row, "multivariate", col, reason) for _, row, col, reason in found]


def detect_outliers(
    lf: pl.LazyFrame, columns: list[str], spec: AnomalySpec
) -> tuple[list[Outlier], OutlierSummary]:
    """Find univariate and multivariate outliers.

    Args:
        lf: rows that passed the rules, with :data:`ROW` and typed numeric ``columns``.
        columns: the numeric columns to watch.
        spec: thresholds and the IsolationForest settings.

    Returns:
        The outliers (a row may appear once per column and once as multivariate) and a summary.
    """
    n_rows = int(lf.select(pl.len()).collect(engine="streaming").item())
    if n_rows == 0 or not columns:
        return [], OutlierSummary()
    # Medians and MADs from an even sample once the file is larger than it: an exact median
    # holds the whole column, an estimate from 100,000 rows is as good for a threshold.
    step = max(1, n_rows // spec.isolation_forest.sample_rows)
    sample = lf.gather_every(step) if step > 1 else lf
    scales = _scales(sample, columns)
    if spec.univariate == "quantile":
        uni = _tails(lf, _fences(sample, list(scales), spec.tail_span))
    else:
        uni = _univariate(lf, scales, spec.mad_threshold)
    multi = _multivariate(lf, n_rows, scales, spec, {o.row for o in uni})
    per_column: dict[str, int] = {}
    for o in uni:
        per_column[o.column] = per_column.get(o.column, 0) + 1
    summary = OutlierSummary(
        univariate=len(uni),
        multivariate=len(multi),
        per_column=per_column,
        rows=len({o.row for o in uni} | {o.row for o in multi}),
    )
    return uni + multi, summary
