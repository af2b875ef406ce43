"""The outlier detector: robust univariate (median/MAD) and multivariate (IsolationForest)."""

from __future__ import annotations

import numpy as np
import polars as pl

from medflow.analyzers.records.anomaly import detect_outliers
from medflow.analyzers.records.rules import AnomalySpec, IsolationForestSpec


def _frame(n: int = 2000, seed: int = 3) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    height = rng.normal(170, 8, n)
    weight = (height - 100) + rng.normal(0, 4, n)
    return pl.DataFrame({"__row": np.arange(1, n + 1), "height": height, "weight": weight})


def test_mad_flags_a_planted_value_with_a_readable_reason() -> None:
    df = _frame().with_columns(
        pl.when(pl.col("__row") == 17).then(400.0).otherwise(pl.col("weight")).alias("weight")
    )
    spec = AnomalySpec(isolation_forest=IsolationForestSpec(enabled=False))
    found, summary = detect_outliers(df.lazy(), ["height", "weight"], spec)
    assert [(o.row, o.column, o.kind) for o in found] == [(17, "weight", "outlier")]
    assert found[0].reason.startswith("weight 400 is far from the typical")
    assert "robust z +" in found[0].reason
    assert summary.per_column == {"weight": 1}


def test_mad_of_zero_falls_back_to_mean_absolute_deviation() -> None:
    values = [5.0] * 95 + [6.0] * 4 + [90.0]
    df = pl.DataFrame({"__row": range(1, 101), "x": values})
    spec = AnomalySpec(isolation_forest=IsolationForestSpec(enabled=False))
    found, _ = detect_outliers(df.lazy(), ["x"], spec)
    assert [o.row for o in found] == [100]


def test_isolation_forest_finds_a_combination_no_single_column_shows() -> None:
    # 196 cm and 45 kg: each value ordinary on its own, the pair far from the rest.
    df = _frame().with_columns(
        pl.when(pl.col("__row") == 5).then(196.0).otherwise(pl.col("height")).alias("height"),
        pl.when(pl.col("__row") == 5).then(45.0).otherwise(pl.col("weight")).alias("weight"),
    )
    spec = AnomalySpec(
        mad_threshold=6.0,
        isolation_forest=IsolationForestSpec(contamination=0.005, sample_rows=5000, seed=1),
    )
    found, summary = detect_outliers(df.lazy(), ["height", "weight"], spec)
    assert not [o for o in found if o.kind == "outlier"]
    multi = {o.row: o for o in found if o.kind == "multivariate"}
    assert 5 in multi
    assert multi[5].reason.startswith("unusual combination of values:")
    assert summary.multivariate == len(multi)


def test_nothing_to_watch_finds_nothing() -> None:
    found, summary = detect_outliers(_frame().lazy(), [], AnomalySpec())
    assert found == []
    assert summary.rows == 0
