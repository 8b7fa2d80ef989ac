"""pandas DataFrames through Arrow, but only when Arrow gives them back unchanged.

Arrow IPC is faster and more compact than pickling a frame and readable from other
tools, but ``Table.from_pandas`` / ``to_pandas`` quietly changes some frames: an object
column of mixed types, NaN among strings, lists that come back as arrays, a
``DatetimeIndex`` that loses its ``freq``. A cache that hands back a *different* value
than the one computed is worse than a slow one, so a frame only goes through Arrow when
a sample round trip is exact and its object columns hold nothing but strings; otherwise
the codec layer pickles it.

Two details keep common frames on the fast path: ``preserve_index=None`` stores a
``RangeIndex`` as metadata (``True`` would turn it into an integer column and back into
a plain ``Index``), and a ``RangeIndex`` of column labels, which Arrow cannot express, is
recorded in the schema metadata and restored on the way back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

#: Rows of a frame round-tripped to check that nothing is lost.
SAMPLE_ROWS = 64
_RANGE_COLUMNS = b"helix.range_columns"


def to_table(frame: Any) -> Any | None:
    """The Arrow table for ``frame``, or ``None`` if the round trip would not be exact."""
    import pyarrow as pa

    if not _round_trips(frame):
        return None
    try:
        return _convert(frame)
    except (pa.ArrowException, ValueError, TypeError):  # rows beyond the sample
        return None


def to_frame(table: Any) -> Any:
    """Inverse of ``to_table``."""
    import pandas as pd

    frame = table.to_pandas()
    metadata = table.schema.metadata or {}
    if _RANGE_COLUMNS in metadata:
        start, stop, step = json.loads(metadata[_RANGE_COLUMNS])
        frame.columns = pd.RangeIndex(start, stop, step, name=frame.columns.name)
    return frame


def _convert(frame: Any) -> Any:
    import pandas as pd
    import pyarrow as pa

    table = pa.Table.from_pandas(frame, preserve_index=None)
    columns = frame.columns
    if type(columns) is pd.RangeIndex:
        bounds = json.dumps([columns.start, columns.stop, columns.step]).encode()
        metadata = {**(table.schema.metadata or {}), _RANGE_COLUMNS: bounds}
        table = table.replace_schema_metadata(metadata)
    return table


def _round_trips(frame: Any) -> bool:
    sample = frame.iloc[:SAMPLE_ROWS]
    try:
        same = _same_frame(sample, to_frame(_convert(sample)))
    except Exception:  # any failure to convert or compare just means: pickle it
        return False
    return same and _object_columns_are_strings(frame)


def _same_frame(a: Any, b: Any) -> bool:
    return bool(
        type(a) is type(b)
        and _same_index(a.columns, b.columns)
        and _same_index(a.index, b.index)
        and a.dtypes.equals(b.dtypes)
        and a.attrs == b.attrs
        and a.flags.allows_duplicate_labels == b.flags.allows_duplicate_labels
        and a.equals(b)
    )


def _same_index(a: Any, b: Any) -> bool:
    return bool(
        type(a) is type(b)
        and a.dtype == b.dtype
        and list(a.names) == list(b.names)
        and getattr(a, "freq", None) == getattr(b, "freq", None)
        and a.equals(b)
    )


def _object_columns_are_strings(frame: Any) -> bool:
    """Object columns and index levels must hold only str (or only bytes) and None.

    Checked over every row because the sample may not show a stray float NaN, list or
    dict further down, which Arrow would turn into None, an array or a padded struct.
    """
    index = frame.index
    levels = [index.get_level_values(i) for i in range(index.nlevels)]
    columns = [frame.iloc[:, i] for i, dtype in enumerate(frame.dtypes) if dtype == "O"]
    return all(_only_strings(values) for values in (*levels, *columns) if values.dtype == "O")


def _only_strings(values: Iterable[object]) -> bool:
    kinds = {type(v) for v in values} - {type(None)}
    return kinds <= {str} or kinds <= {bytes}
