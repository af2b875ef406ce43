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


def _planted_pair(df: pl.DataFrame, row: int, height: float, weight: float) -> pl.DataFrame:
    hit = pl.col("__row") == row
    return df.with_columns(
        pl.when(hit).then(height).otherwise(pl.col("height")).alias("height"),
        pl.when(hit).then(weight).otherwise(pl.col("weight")).alias("weight"),
    )


def test_a_row_one_column_explains_is_not_reported_again_as_multivariate() -> None:
    df = _planted_pair(_frame(), 9, 170.0, 400.0)
    spec = AnomalySpec(isolation_forest=IsolationForestSpec(sample_rows=5000, seed=1))
    found, _ = detect_outliers(df.lazy(), ["height", "weight"], spec)
    assert [(o.row, o.kind) for o in found if o.row == 9] == [(9, "outlier")]


def test_the_reason_names_the_percentiles_of_the_rare_combination() -> None:
    df = _planted_pair(_frame(), 5, 196.0, 45.0)
    spec = AnomalySpec(
        mad_threshold=6.0, isolation_forest=IsolationForestSpec(sample_rows=5000, seed=1)
    )
    found, _ = detect_outliers(df.lazy(), ["height", "weight"], spec)
    reason = next(o.reason for o in found if o.row == 5 and o.kind == "multivariate")
    assert "height 196 (99." in reason
    assert "weight 45 (0." in reason
    assert "isolation score robust z +" in reason


def test_contamination_caps_the_share_flagged_keeping_the_most_isolated() -> None:
    df = _frame()
    for row, (h, w) in enumerate([(196.0, 45.0), (150.0, 95.0), (190.0, 60.0)], start=5):
        df = _planted_pair(df, row, h, w)
    loose = IsolationForestSpec(sample_rows=5000, seed=1, score_threshold=1.0)
    capped = loose.model_copy(update={"contamination": 0.001})
    many, _ = detect_outliers(df.lazy(), ["height", "weight"], AnomalySpec(isolation_forest=loose))
    few, _ = detect_outliers(df.lazy(), ["height", "weight"], AnomalySpec(isolation_forest=capped))
    multi_many = [o for o in many if o.kind == "multivariate"]
    multi_few = [o for o in few if o.kind == "multivariate"]
    assert len(multi_many) > 2
    assert len(multi_few) == 2  # 0.1% of 2000 rows
    assert {o.row for o in multi_few} <= {o.row for o in multi_many}
    assert 5 in {o.row for o in multi_few}


def test_the_few_trees_screen_flags_exactly_what_the_whole_forest_flags() -> None:
    from sklearn.ensemble import IsolationForest

    from medflow.analyzers.records.anomaly import ForestScorer

    rng = np.random.default_rng(3)
    x = rng.random((20_000, 4))
    x[:40, :2] = rng.random((40, 2)) * 0.02  # a rare corner
    forest = IsolationForest(n_estimators=100, max_samples=1024, random_state=0).fit(x[::4])
    scorer = ForestScorer(forest, x[::4], score_threshold=4.0)
    full, screened = scorer.full_scores(x), scorer.scores(x)
    flagged = np.flatnonzero(full > scorer.cut)
    assert len(flagged) > 0
    assert np.array_equal(np.flatnonzero(screened > scorer.cut), flagged)
    assert np.allclose(screened[flagged], full[flagged])
    assert np.allclose(full, -forest.score_samples(x))
