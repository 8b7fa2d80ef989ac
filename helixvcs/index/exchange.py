"""Run records as Parquet segments: what travels to and from a remote.

A segment is one run: its ``runs`` row, its operator set, its node records and its
metrics, one Parquet file per table. Segments are immutable and named by the run id,
which is unique across clones, so merging one is idempotent: a run already in the index
is left as it is, and a segment is merged whole, in one transaction, or not at all.

Columns are matched by name, so a segment written by an older schema merges (missing
columns stay NULL) and one written by a newer schema loses only the columns this
version does not know.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

#: Tables of a segment, in the order they are merged.
SEGMENT_TABLES = ("runs", "run_operators", "node_runs", "metrics")


def export_run(con: DuckDBPyConnection, run_id: str, folder: Path) -> dict[str, Path]:
    """Write the records of ``run_id`` as ``folder/<table>.parquet``; ``{table: path}``."""
    files = {}
    for table in SEGMENT_TABLES:
        path = folder / f"{table}.parquet"
        quoted = str(path).replace("'", "''")
        con.execute(
            f"COPY (SELECT * FROM {table} WHERE run_id = $run) TO '{quoted}' (FORMAT parquet)",
            {"run": run_id},
        )
        files[table] = path
    return files


def merge_run(con: DuckDBPyConnection, run_id: str, files: Mapping[str, Path]) -> bool:
    """Merge one segment; False when the index has the run already (nothing changes)."""
    known = con.execute("SELECT count(*) FROM runs WHERE run_id = ?", [run_id]).fetchone()
    if known and known[0]:
        return False
    for table in SEGMENT_TABLES:
        path = str(files[table])
        columns = _shared_columns(con, table, path)
        names = ", ".join(f'"{c}"' for c in columns)
        con.execute(
            f"INSERT INTO {table} ({names}) SELECT {names} FROM read_parquet(?) WHERE run_id = ?",
            [path, run_id],
        )
    return True


def run_ids_present(con: DuckDBPyConnection, run_ids: Sequence[str]) -> set[str]:
    rows = con.execute(
        "SELECT run_id FROM runs WHERE list_contains(?, run_id)", [list(run_ids)]
    ).fetchall()
    return {str(r[0]) for r in rows}


def _shared_columns(con: DuckDBPyConnection, table: str, path: str) -> list[str]:
    local = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
    described = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [path]).fetchall()
    remote = {r[0] for r in described}
    return [c for c in local if c in remote]
