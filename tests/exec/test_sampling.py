"""Subsampling a source's value, and the bootstrap interval of per-row metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import scipy.sparse

from helixvcs.exec import sampling, scores
from helixvcs.hashing import SampleSpec


def test_the_same_fraction_and_seed_keep_the_same_rows() -> None:
    spec = SampleSpec(0.1, seed=7)
    first, again = sampling.row_mask(10_000, spec), sampling.row_mask(10_000, SampleSpec(0.1, 7))
    assert np.array_equal(first, again)
    assert 800 < first.sum() < 1200  # about F * n
    assert not np.array_equal(first, sampling.row_mask(10_000, SampleSpec(0.1, seed=8)))


def test_a_larger_fraction_keeps_a_superset_and_appended_rows_change_nothing() -> None:
    small, large = (
        sampling.row_mask(5000, SampleSpec(0.1)),
        sampling.row_mask(5000, SampleSpec(0.3)),
    )
    assert not (small & ~large).any()
    longer = sampling.row_mask(6000, SampleSpec(0.1))
    assert np.array_equal(longer[:5000], small)


def test_a_tiny_value_keeps_at_least_one_row() -> None:
    assert sampling.row_mask(3, SampleSpec(0.01, seed=1)).sum() == 1


@pytest.mark.parametrize(
    "make",
    [
        lambda n: pa.table({"x": np.arange(n)}),
        lambda n: pd.DataFrame({"x": np.arange(n)}),
        lambda n: np.arange(n * 2).reshape(n, 2),
        lambda n: scipy.sparse.csr_matrix(np.arange(n * 2).reshape(n, 2)),
        lambda n: [(i, i) for i in range(n)],
    ],
    ids=["arrow", "pandas", "numpy", "sparse", "list"],
)
def test_every_row_shaped_value_keeps_the_same_rows(make) -> None:
    spec = SampleSpec(0.2, seed=3)
    expected = np.flatnonzero(sampling.row_mask(500, spec))
    value, warning = sampling.rows(make(500), spec)
    assert warning is None
    if isinstance(value, pa.Table):
        kept = value.column("x").to_numpy()
    elif isinstance(value, pd.DataFrame):
        kept = value["x"].to_numpy()
    elif isinstance(value, list):
        kept = np.array([r[0] for r in value])
    else:
        kept = np.asarray(value.todense() if scipy.sparse.issparse(value) else value)[:, 0] // 2
    assert np.array_equal(kept, expected)


def test_a_value_without_rows_is_used_whole_with_a_warning() -> None:
    value = {"a": 1}
    kept, warning = sampling.rows(value, SampleSpec(0.5))
    assert kept is value and "no rows to sample" in warning


def test_per_row_scores_give_their_mean_and_a_seeded_bootstrap_interval() -> None:
    rng = np.random.default_rng(0)
    rows = (rng.random(2000) < 0.8).astype(float)
    assert scores.means("accuracy", rows) == {"accuracy": rows.mean()}
    lo, hi = scores.bootstrap_interval(rows, seed=0)
    assert lo < rows.mean() < hi and hi - lo < 0.05
    assert (lo, hi) == scores.bootstrap_interval(rows, seed=0)
    assert scores.intervals("m", {"a": list(rows)}, seed=0) == {"m.a": (lo, hi)}


def test_something_that_is_not_scores_is_refused() -> None:
    for bad in (0.5, "abc", np.zeros((2, 2)), []):
        with pytest.raises(scores.NotScores):
            scores.means("m", bad)
