"""Low-precision runs (``--precision float32``): casting values where operators return.

A value an operator returns is cast before anything else sees it (its children, the
store): float64 numpy arrays, scipy sparse matrices, pandas frames and series and Arrow
tables (their float64 columns), also inside lists, tuples and dicts. Everything else (a
fitted model, a string, an integer array) passes unchanged. Which nodes are cast, and
the key space they live in, is ``graph.variants.with_precision``'s.
"""

from __future__ import annotations

from typing import Any


def cast(value: Any, precision: str) -> Any:
    """``value`` with its float64 data as ``precision`` (``float32``)."""
    import numpy as np

    target = np.dtype(precision)
    if isinstance(value, list | tuple):
        items = [cast(v, precision) for v in value]
        if isinstance(value, list):
            return items
        return type(value)(*items) if _named(value) else tuple(items)
    if isinstance(value, dict):
        return {k: cast(v, precision) for k, v in value.items()}
    module = type(value).__module__.split(".")[0]
    if module == "numpy" and isinstance(value, np.ndarray):
        return value.astype(target) if value.dtype == np.float64 else value
    if module == "scipy" and getattr(value, "dtype", None) == np.float64:
        return value.astype(target)
    if module == "pandas":
        return _pandas(value, target)
    if module == "pyarrow" and hasattr(value, "schema"):
        return _arrow(value, precision)
    return value


def _named(value: Any) -> bool:
    return hasattr(type(value), "_fields")


def _pandas(value: Any, target: Any) -> Any:
    import numpy as np

    if getattr(value, "ndim", 0) == 1:
        return value.astype(target) if value.dtype == np.float64 else value
    wide = [c for c, d in value.dtypes.items() if d == np.float64]
    return value.astype(dict.fromkeys(wide, target)) if wide else value


def _arrow(value: Any, precision: str) -> Any:
    import pyarrow as pa

    narrow = pa.float32() if precision == "float32" else pa.float64()
    fields = [f.with_type(narrow) if pa.types.is_float64(f.type) else f for f in value.schema]
    if all(f.type == g.type for f, g in zip(fields, value.schema, strict=True)):
        return value
    return value.cast(pa.schema(fields, metadata=value.schema.metadata))
