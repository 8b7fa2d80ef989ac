"""Per-row metrics: a metric declared ``@wf.metric(per_row=True)`` returns one score per
test row (a 1-D numpy array or a list of numbers, or a dict of such), and its value is
their mean. Keeping the rows lets helix say how sure that mean is: a seeded bootstrap
95% confidence interval (percentile method, 1,000 resamples of the rows), the same for
the same scores and seed in any process.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

RESAMPLES = 1000
LEVEL = 0.95
_CHUNK = 100  # resamples drawn at once: bounds memory at 100 x rows


class NotScores(TypeError):
    """A per-row metric returned something that is not a sequence of numbers."""


def per_row_scores(name: str, value: Any) -> dict[str, Any]:
    """``{metric name: 1-D float array}``; a dict gives ``name.key`` entries."""
    import numpy as np

    items = {name: value}
    if isinstance(value, Mapping):
        items = {f"{name}.{k}": v for k, v in value.items()}
    result = {}
    for label, scores in items.items():
        if isinstance(scores, str | bytes) or not hasattr(scores, "__len__"):
            raise NotScores(f"{label}: {type(scores).__name__}")
        try:
            array = np.asarray(scores, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            raise NotScores(f"{label}: {type(scores).__name__}") from None
        if array.ndim != 1 or array.size == 0:
            raise NotScores(f"{label}: shape {array.shape}")
        result[label] = array
    return result


def means(name: str, value: Any) -> dict[str, float]:
    return {label: float(scores.mean()) for label, scores in per_row_scores(name, value).items()}


def bootstrap_interval(scores: Any, seed: int) -> tuple[float, float]:
    """The 95% percentile bootstrap interval of the mean of ``scores``."""
    import numpy as np

    n = len(scores)
    rng = np.random.default_rng([seed, n])
    resampled = []
    for start in range(0, RESAMPLES, _CHUNK):
        count = min(_CHUNK, RESAMPLES - start)
        rows = rng.integers(0, n, size=(count, n))
        resampled.append(scores[rows].mean(axis=1))
    stats = np.concatenate(resampled)
    tail = (1.0 - LEVEL) / 2 * 100
    lo, hi = np.percentile(stats, [tail, 100 - tail])
    return float(lo), float(hi)


def intervals(name: str, value: Any, seed: int) -> dict[str, tuple[float, float]]:
    """Bootstrap intervals of every mean a per-row metric's value gives."""
    return {
        label: bootstrap_interval(scores, seed)
        for label, scores in per_row_scores(name, value).items()
    }
