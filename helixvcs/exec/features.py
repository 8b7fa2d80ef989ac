"""Feature assemblies (``@wf.features``): stacking blocks, and reading an estimator's weights.

An assembly's function returns its blocks as a list in parameter order; ``assemble``
checks them (one per block, 2-D, numeric, the same number of rows) and stacks them
column-wise: a CSR matrix if any block is sparse, else a dense float array. Its
``Columns`` say which column range came from which block; the repo layer records them
in the index with the run.

In a pruned run the assembly receives, for each dropped block, a zero-width float array
with the rows of the others (``placeholder``), and the entry the function returns for it
is left out of the stack.

``weights`` reads the zero pattern of a fitted estimator's ``coef_`` (or
``feature_importances_``): the column ranges with a non-zero weight, and its
``n_features_in_``, which the repo layer compares with the assembly's width before it
maps anything to blocks.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Columns = tuple[tuple[str, int, int], ...]
"""``((block, start, stop), ...)``: the columns ``[start, stop)`` of each block."""


class AssemblyError(ValueError):
    """A feature assembly returned blocks that cannot be stacked; the message names the
    operator and the block."""


@dataclass(frozen=True)
class Weights:
    """Which of an estimator's input columns carry a non-zero weight."""

    attribute: str  # coef_ | feature_importances_
    width: int  # n_features_in_
    nonzero: tuple[tuple[int, int], ...]  # ranges [start, stop) of non-zero columns


def placeholder(rows: int) -> Any:
    """What a dropped block is passed as: no columns, the rows of the others."""
    import numpy as np

    return np.empty((rows, 0), dtype=np.float64)


def rows_of(value: Any) -> int | None:
    """The number of rows of a block-like value, or None."""
    shape = getattr(value, "shape", None)
    if shape is not None and len(shape) >= 1:
        return int(shape[0])
    num_rows = getattr(value, "num_rows", None)
    return int(num_rows) if isinstance(num_rows, int) else None


def assemble(name: str, blocks: Sequence[str], value: Any, dropped: Sequence[str] = ()) -> Any:
    """``(matrix, columns)`` from what assembly ``name`` returned for ``blocks``."""
    if not isinstance(value, list | tuple):
        raise AssemblyError(
            f"@wf.features operator '{name}' returned {_type(value)}; return a list of its "
            f"blocks in parameter order: [{', '.join(blocks)}]"
        )
    if len(value) != len(blocks):
        raise AssemblyError(
            f"@wf.features operator '{name}' returned {len(value)} blocks for "
            f"{len(blocks)} block parameters ({', '.join(blocks)}); return one per parameter, "
            "in order"
        )
    kept = [
        (b, _matrix(name, b, v)) for b, v in zip(blocks, value, strict=True) if b not in dropped
    ]
    first_block, first = kept[0]
    for block, matrix in kept[1:]:
        if matrix.shape[0] != first.shape[0]:
            raise AssemblyError(
                f"@wf.features operator '{name}': block '{block}' has {matrix.shape[0]} rows "
                f"but block '{first_block}' has {first.shape[0]}; every block needs one row "
                "per example"
            )
    columns, start = [], 0
    for block, matrix in kept:
        columns.append((block, start, start + int(matrix.shape[1])))
        start += int(matrix.shape[1])
    return _stack([m for _, m in kept]), tuple(columns)


def _matrix(name: str, block: str, value: Any) -> Any:
    """A block as a 2-D numeric numpy array or scipy sparse matrix."""
    import numpy as np

    if _is_sparse(value):
        matrix = value
    elif _module(value) == "pandas" or (_module(value) == "pyarrow" and hasattr(value, "schema")):
        matrix = _table(name, block, value)
    else:
        try:
            matrix = np.asarray(value)
        except Exception:  # an object numpy cannot read: report it as the block's type
            matrix = np.asarray(None)
    if matrix.ndim == 1:
        matrix = matrix.reshape(-1, 1)
    if matrix.ndim != 2:
        raise AssemblyError(
            f"@wf.features operator '{name}': block '{block}' is {_type(value)} with "
            f"{matrix.ndim} dimension(s); a block is 2-D (rows x columns)"
        )
    if matrix.dtype.kind not in "biuf":
        raise AssemblyError(
            f"@wf.features operator '{name}': block '{block}' is not numeric "
            f"({_type(value)} of dtype {matrix.dtype}); encode it as numbers first"
        )
    return matrix


def _table(name: str, block: str, value: Any) -> Any:
    """A pandas or Arrow table (or series) of numeric columns as a float array."""
    import numpy as np

    frame = value.to_pandas() if _module(value) == "pyarrow" else value
    if getattr(frame, "ndim", 2) == 1:
        frame = frame.to_frame()
    for column, dtype in frame.dtypes.items():
        if dtype.kind not in "biuf":
            raise AssemblyError(
                f"@wf.features operator '{name}': block '{block}' has non-numeric column "
                f"{column!r} ({dtype}); encode it as numbers first"
            )
    return np.asarray(frame.to_numpy(dtype=np.float64))


def _stack(matrices: list[Any]) -> Any:
    import numpy as np

    if any(_is_sparse(m) for m in matrices):
        import scipy.sparse

        return scipy.sparse.hstack(matrices, format="csr")
    dtype = np.result_type(*matrices, np.float32)
    return np.hstack([m.astype(dtype, copy=False) for m in matrices])


def weights(value: Any) -> Weights | None:
    """The non-zero pattern of a fitted estimator's weights, or None if it has none."""
    import numpy as np

    width = getattr(value, "n_features_in_", None)
    if not isinstance(width, int | np.integer) or isinstance(value, type):
        return None
    for attribute in ("coef_", "feature_importances_"):
        try:
            raw = getattr(value, attribute, None)
        except Exception:  # a property that raises (e.g. coef_ of a non-linear kernel)
            raw = None
        if raw is None:
            continue
        if _is_sparse(raw):
            raw = raw.toarray()
        array = np.atleast_2d(np.asarray(raw, dtype=np.float64))
        if array.shape[-1] != int(width):
            return None
        used = np.any(array.reshape(-1, array.shape[-1]) != 0, axis=0)
        return Weights(attribute, int(width), _ranges(used))
    return None


def _ranges(mask: Any) -> tuple[tuple[int, int], ...]:
    import numpy as np

    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return tuple((int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True))


def _is_sparse(value: Any) -> bool:
    if _module(value) != "scipy" or "scipy.sparse" not in sys.modules:
        return False
    import scipy.sparse

    return bool(scipy.sparse.issparse(value))


def _module(value: Any) -> str:
    return type(value).__module__.split(".")[0]


def _type(value: Any) -> str:
    return f"{type(value).__module__}.{type(value).__qualname__}".removeprefix("builtins.")
