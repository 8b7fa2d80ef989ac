"""The statements behind each write; every function runs inside one transaction.

Rows go in with one statement per table: each column travels as one list parameter and
``unnest`` zips the lists back into rows, which is several times faster than
``executemany`` and keeps a 100-operator run to a handful of statements.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from helixvcs.index.errors import RunExists, UnknownRun
from helixvcs.index.records import (
    FINISHED_STATUSES,
    NODE_COLUMNS,
    NODE_STATES,
    NODE_STATUSES,
    OBJECT_COLUMNS,
    OPERATOR_COLUMNS,
    RUN_COLUMNS,
    RUN_STATUSES,
    NodeRecord,
    ObjectRecord,
    OperatorRecord,
    RunRecord,
    from_db_time,
    node_to_row,
    object_to_row,
    operator_to_row,
    run_to_row,
    to_db_time,
)
from helixvcs.liveness import process_alive

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

# SQL types of each record's columns, in the records' field order.
_OPERATOR_TYPES = dict(
    zip(
        OPERATOR_COLUMNS,
        ["VARCHAR"] * 4 + ["VARCHAR[]", "INTEGER", "VARCHAR", "INTEGER", "VARCHAR", "JSON"],
        strict=True,
    )
)
_NODE_TYPES = dict(
    zip(
        NODE_COLUMNS,
        ["VARCHAR", "VARCHAR", "VARCHAR", "DOUBLE", "DOUBLE", "BIGINT", "BOOLEAN", "VARCHAR"],
        strict=True,
    )
)
_OBJECT_TYPES = dict(
    zip(
        OBJECT_COLUMNS,
        ["VARCHAR"] * 2
        + ["BIGINT"] * 2
        + ["VARCHAR"] * 2
        + ["DOUBLE"] * 2
        + ["TIMESTAMP"] * 2
        + ["DOUBLE"],
        strict=True,
    )
)


def _insert_rows(
    con: DuckDBPyConnection,
    table: str,
    types: Mapping[str, str],
    rows: Sequence[Sequence[Any]],
    *,
    replace: bool = False,
) -> None:
    """Insert many rows with one statement (``replace``: upsert on the primary key)."""
    if not rows:
        return
    names = ", ".join(types)
    values = ", ".join(f"unnest(?::{sql_type}[])" for sql_type in types.values())
    verb = "INSERT OR REPLACE INTO" if replace else "INSERT INTO"
    by_column = [list(column) for column in zip(*rows, strict=True)]
    con.execute(f"{verb} {table} ({names}) SELECT {values}", by_column)


def _check(value: str, allowed: Sequence[str], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(allowed)}, not {value!r}")


def begin_run(con: DuckDBPyConnection, run: RunRecord, operators: Sequence[OperatorRecord]) -> None:
    _check(run.status, RUN_STATUSES, "run status")
    if con.execute("SELECT 1 FROM runs WHERE run_id = ?", [run.run_id]).fetchone():
        raise RunExists(run.run_id)
    placeholders = ", ".join("?" * len(RUN_COLUMNS))
    columns = ", ".join(RUN_COLUMNS)
    con.execute(f"INSERT INTO runs ({columns}) VALUES ({placeholders})", run_to_row(run))
    rows = [[run.run_id, *operator_to_row(op)] for op in operators]
    _insert_rows(con, "run_operators", {"run_id": "VARCHAR", **_OPERATOR_TYPES}, rows)


def finish_run(
    con: DuckDBPyConnection,
    run_id: str,
    *,
    status: str,
    finished: datetime,
    wall_seconds: float,
    saved_seconds: float,
    nodes: Sequence[NodeRecord],
    metrics: Mapping[str, float],
    error: str | None,
    intervals: Mapping[str, tuple[float, float]] | None = None,
) -> None:
    """Close a run. Idempotent: finishing twice replaces the first outcome.

    ``intervals``: confidence intervals ``(lo, hi)`` of some of the metrics (schema v3)."""
    _check(status, FINISHED_STATUSES, "a finished run's status")
    for node in nodes:
        _check(node.state, NODE_STATES, f"state of node {node.name}")
        _check(node.status, NODE_STATUSES, f"status of node {node.name}")
    previous = con.execute("SELECT finished FROM runs WHERE run_id = ?", [run_id]).fetchone()
    if previous is None:
        raise UnknownRun(run_id)
    con.execute(
        "UPDATE runs SET status = ?, finished = ?, wall_seconds = ?, saved_seconds = ?, "
        "error = ? WHERE run_id = ?",
        [status, to_db_time(finished), wall_seconds, saved_seconds, error, run_id],
    )
    if previous[0] is not None:  # finished before: replace that outcome
        con.execute("DELETE FROM node_runs WHERE run_id = ?", [run_id])
        con.execute("DELETE FROM metrics WHERE run_id = ?", [run_id])
    rows = [[run_id, *node_to_row(node)] for node in nodes]
    _insert_rows(con, "node_runs", {"run_id": "VARCHAR", **_NODE_TYPES}, rows)
    ci = intervals or {}
    metric_rows = [
        [run_id, name, float(value), *ci.get(name, (None, None))] for name, value in metrics.items()
    ]
    metric_types = {
        "run_id": "VARCHAR",
        "name": "VARCHAR",
        "value": "DOUBLE",
        "lo": "DOUBLE",
        "hi": "DOUBLE",
    }
    _insert_rows(con, "metrics", metric_types, metric_rows)


def record_objects(con: DuckDBPyConnection, objects: Sequence[ObjectRecord]) -> None:
    # One statement may not upsert a key twice; the last record of a key wins.
    latest = {obj.key: obj for obj in objects}
    rows = [object_to_row(obj) for obj in latest.values()]
    count, size = _recorded(con, list(latest))
    _insert_rows(con, "objects", _OBJECT_TYPES, rows, replace=True)
    _add_to_totals(con, len(latest) - count, sum(obj.bytes for obj in latest.values()) - size)


def touch_objects(con: DuckDBPyConnection, keys: Sequence[str], when: datetime) -> None:
    con.execute(
        "UPDATE objects SET last_used = ? WHERE key = ANY(?::VARCHAR[])",
        [to_db_time(when), list(keys)],
    )


def record_load(con: DuckDBPyConnection, key: str, load_seconds: float) -> None:
    con.execute("UPDATE objects SET load_seconds = ? WHERE key = ?", [load_seconds, key])


def resize_objects(con: DuckDBPyConnection, sizes: Mapping[str, int]) -> None:
    keys = list(sizes)
    _, before = _recorded(con, keys)
    con.execute(
        "UPDATE objects SET bytes = moved.bytes FROM (SELECT unnest(?::VARCHAR[]) AS key, "
        "unnest(?::BIGINT[]) AS bytes) AS moved WHERE objects.key = moved.key",
        [keys, [sizes[key] for key in keys]],
    )
    _, after = _recorded(con, keys)
    _add_to_totals(con, 0, after - before)


def forget_objects(con: DuckDBPyConnection, keys: Sequence[str]) -> None:
    count, size = _recorded(con, keys)
    con.execute("DELETE FROM objects WHERE key = ANY(?::VARCHAR[])", [list(keys)])
    _add_to_totals(con, -count, -size)


def _recorded(con: DuckDBPyConnection, keys: Sequence[str]) -> tuple[int, int]:
    """How many of ``keys`` the objects table holds, and their bytes."""
    row = con.execute(
        "SELECT count(*), coalesce(sum(bytes), 0) FROM objects WHERE key = ANY(?::VARCHAR[])",
        [list(keys)],
    ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def _add_to_totals(con: DuckDBPyConnection, objects: int, nbytes: int) -> None:
    if objects or nbytes:
        con.execute(
            "UPDATE store_totals SET objects = objects + ?, bytes = bytes + ?", [objects, nbytes]
        )


def mark_store_unreconciled(con: DuckDBPyConnection) -> None:
    """A run ended without recording what it wrote: the next one counts the store again."""
    con.execute("UPDATE store_totals SET stale = true")


def reconcile_store(
    con: DuckDBPyConnection, missing: Sequence[str], unrecorded: Mapping[str, int]
) -> tuple[int, int, int]:
    """Forget the records of objects gone from the store and set the totals from what the
    store holds (``unrecorded``: objects found without a record, with their bytes; one
    recorded since it was found counts once). Returns objects, bytes, unrecorded bytes."""
    if missing:
        con.execute("DELETE FROM objects WHERE key = ANY(?::VARCHAR[])", [list(missing)])
    since = con.execute(
        "SELECT key FROM objects WHERE key = ANY(?::VARCHAR[])", [list(unrecorded)]
    ).fetchall()
    recorded_since = {row[0] for row in since}
    loose = sum(n for key, n in unrecorded.items() if key not in recorded_since)
    row = con.execute("SELECT count(*), coalesce(sum(bytes), 0) FROM objects").fetchone()
    count, size = (int(row[0]), int(row[1])) if row else (0, 0)
    con.execute(
        "UPDATE store_totals SET objects = ?, bytes = ?, unrecorded_bytes = ?, stale = false",
        [count, size, loose],
    )
    return count, size, loose


def dead_runs(con: DuckDBPyConnection) -> list[str]:
    """Runs this host started, still 'running', whose process is gone (a read)."""
    host = socket.gethostname()
    running = con.execute(
        "SELECT run_id, pid, started FROM runs WHERE status = 'running' AND host = ?", [host]
    ).fetchall()
    return [
        run_id
        for run_id, pid, started in running
        if not process_alive(pid, since=from_db_time(started))
    ]


def mark_interrupted(con: DuckDBPyConnection) -> int:
    """Runs this host started whose process is gone become 'interrupted'."""
    dead = dead_runs(con)
    if dead:
        con.execute(
            "UPDATE runs SET status = 'interrupted', error = coalesce(error, "
            "'process ' || pid || ' on ' || host || ' ended before the run finished') "
            "WHERE run_id = ANY(?::VARCHAR[])",
            [dead],
        )
        mark_store_unreconciled(con)  # what they wrote and never recorded
    return len(dead)


def record_loads(con: DuckDBPyConnection, loads: Mapping[str, float], when: datetime) -> None:
    for key, seconds in loads.items():
        con.execute(
            "UPDATE objects SET load_seconds = ?, last_used = ? WHERE key = ?",
            [seconds, to_db_time(when), key],
        )
