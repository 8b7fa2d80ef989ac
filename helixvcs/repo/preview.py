"""Human previews and file exports of stored values, by type, without importing what is unused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from helixvcs.errors import UserInputError

ROWS = 10


def describe(value: Any) -> tuple[str, str]:
    """``(type label, preview text)`` for a value."""
    module = type(value).__module__
    if module.startswith("pyarrow"):
        return _arrow(value)
    if module.startswith("pandas") and hasattr(value, "head"):
        return f"pandas.DataFrame {value.shape[0]} x {value.shape[1]}", value.head(ROWS).to_string()
    if module.startswith("numpy") and hasattr(value, "shape"):
        import numpy as np

        head = np.array2string(value[:ROWS] if value.ndim else value, threshold=200, edgeitems=5)
        return f"numpy.ndarray {value.shape} {value.dtype}", head
    if module.startswith("scipy.sparse"):
        return f"scipy.sparse {value.format} {value.shape}, {value.nnz} stored values", repr(value)
    text = _repr(value)
    if len(text) > 4000:
        text = text[:4000] + " ..."
    return f"{module}.{type(value).__qualname__}", text


def _repr(value: Any) -> str:
    """``repr`` of any value: a deeply nested one is cut at a few levels, and one whose own
    ``__repr__`` fails is named instead of shown."""
    try:
        return repr(value)
    except RecursionError:
        import reprlib

        shallow = reprlib.Repr()
        shallow.maxlevel, shallow.maxother = 6, 200
        try:
            return shallow.repr(value) + "  (nested too deeply to show in full)"
        except Exception:  # a user type's repr at the top: nothing to show
            return f"<{type(value).__qualname__} nested too deeply to show>"
    except Exception as exc:
        return f"<{type(value).__qualname__}: its __repr__ raised {type(exc).__name__}>"


def _arrow(value: Any) -> tuple[str, str]:
    import pyarrow as pa

    if isinstance(value, pa.RecordBatch):
        value = pa.Table.from_batches([value])
    if not isinstance(value, pa.Table):
        return f"pyarrow.{type(value).__name__}", repr(value)[:4000]
    head = value.slice(0, ROWS).to_pylist()
    cols = value.column_names
    rows = [[_cell(r[c]) for c in cols] for r in head]
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    more = f"\n... {value.num_rows - ROWS} more rows" if value.num_rows > ROWS else ""
    return f"pyarrow.Table {value.num_rows} rows x {value.num_columns} columns", "\n".join(
        lines
    ) + more


def _cell(v: Any) -> str:
    text = "null" if v is None else str(v)
    return text if len(text) <= 24 else text[:21] + "..."


def export(value: Any, path: Path) -> None:
    """Write ``value`` to ``path`` in the format its suffix names."""
    suffix = path.suffix.lower()
    module = type(value).__module__
    if suffix in (".parquet", ".csv", ".arrow") and module.startswith(("pyarrow", "pandas")):
        _export_table(value, path, suffix)
    elif suffix == ".npy" and module.startswith("numpy"):
        import numpy as np

        np.save(path, value, allow_pickle=False)
    elif suffix in (".pkl", ".pickle"):
        import pickle

        path.write_bytes(pickle.dumps(value, protocol=5))
    else:
        raise UserInputError(
            f"cannot export {module}.{type(value).__qualname__} "
            f"as {suffix or 'a file without suffix'}; "
            "use .parquet/.csv/.arrow for tables, .npy for arrays, .pkl for anything"
        )


def _export_table(value: Any, path: Path, suffix: str) -> None:
    import pyarrow as pa

    table = value if isinstance(value, pa.Table) else pa.Table.from_pandas(value)
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, path)
    elif suffix == ".csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, path)
    else:
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
