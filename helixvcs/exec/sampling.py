"""Cutting a source's value down to the rows of a sampled run (``--sample F --seed N``).

Row ``i`` is kept when a hash of ``(seed, i)``, read as a number in [0, 1), is below F.
The choice depends on nothing but the seed, the fraction and the row's position, so:

* the same F and seed keep the same rows in every run, process and executor, and two
  sampled runs of different iterations compare like with like;
* a larger F keeps a superset of the rows of a smaller one (same seed);
* rows appended to a file do not change which of the earlier rows are kept.

The number of rows kept is close to ``F * n`` (binomial), never zero for a non-empty
value. Row-shaped values are Arrow tables and record batches, pandas frames and series,
numpy arrays (first axis), scipy sparse matrices and arrays (rows), and lists; anything
else is used whole, with a warning.
"""

from __future__ import annotations

import sys
from typing import Any

from helixvcs.hashing import SampleSpec

_GOLDEN = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB


def row_mask(n: int, sample: SampleSpec) -> Any:
    """Which of ``n`` rows a sample keeps: a boolean numpy array (splitmix64 of seed, i)."""
    import numpy as np

    with np.errstate(over="ignore"):
        z = np.arange(n, dtype=np.uint64) + np.uint64((sample.seed * _GOLDEN) & (2**64 - 1))
        z = z * np.uint64(_GOLDEN)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(_MIX1)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(_MIX2)
        z = z ^ (z >> np.uint64(31))
    uniform = (z >> np.uint64(11)).astype(np.float64) / float(2**53)
    mask = uniform < sample.fraction
    if n and not mask.any():
        mask[int(np.argmin(uniform))] = True
    return mask


def rows(value: Any, sample: SampleSpec) -> tuple[Any, str | None]:
    """``(the sampled value, None)``, or ``(value, why it was used whole)``."""
    n = _length(value)
    if n is None:
        return value, (
            f"returned {type(value).__module__}.{type(value).__qualname__}, which has no rows "
            "to sample; a sampled run uses it whole"
        )
    mask = row_mask(n, sample)
    return _take(value, mask), None


def _length(value: Any) -> int | None:
    if isinstance(value, list):
        return len(value)
    module = type(value).__module__.split(".")[0]
    if module == "pyarrow" and hasattr(value, "num_rows"):
        return int(value.num_rows)
    if module == "pandas" and type(value).__name__ in ("DataFrame", "Series"):
        return len(value)
    if module == "numpy" and getattr(value, "ndim", 0) >= 1:
        return int(value.shape[0])
    if module == "scipy" and "scipy.sparse" in sys.modules:
        import scipy.sparse

        if scipy.sparse.issparse(value) and value.ndim == 2:
            return int(value.shape[0])
    return None


def _arrow_rows(value: Any, mask: Any) -> Any:
    """Filter batch by batch: ``Table.take`` pays a one-off ~0.2 s on chunked strings."""
    import pyarrow as pa

    if not isinstance(value, pa.Table):
        return value.filter(pa.array(mask))
    batches, start = [], 0
    for batch in value.to_batches():
        batches.append(batch.filter(pa.array(mask[start : start + batch.num_rows])))
        start += batch.num_rows
    return pa.Table.from_batches(batches, schema=value.schema)


def _take(value: Any, mask: Any) -> Any:
    import numpy as np

    if isinstance(value, list):
        return [item for item, keep in zip(value, mask.tolist(), strict=True) if keep]
    module = type(value).__module__.split(".")[0]
    if module == "pyarrow":
        return _arrow_rows(value, mask)
    if module == "pandas":
        return value.iloc[mask]
    if module == "scipy":
        return value.tocsr()[np.flatnonzero(mask)].asformat(value.format)
    return value[mask]
