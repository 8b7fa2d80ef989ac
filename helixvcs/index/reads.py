"""The queries behind each read; each takes a connection to an up-to-date index.

Lookups over several runs (``metrics_for``, ``counts_for``) are one query each, because
``helix log`` asks them for every run it prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from helixvcs.index.errors import AmbiguousRun
from helixvcs.index.records import (
    NODE_COLUMNS,
    NODE_STATES,
    OBJECT_COLUMNS,
    OPERATOR_COLUMNS,
    RUN_COLUMNS,
    NodeRecord,
    ObjectRecord,
    OperatorIdentity,
    OperatorRecord,
    RunRecord,
    StoreTotals,
    identity_from_row,
    node_from_row,
    object_from_row,
    operator_from_row,
    run_from_row,
)

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

_RUNS = f"SELECT {', '.join(RUN_COLUMNS)} FROM runs"
_NEWEST_FIRST = " ORDER BY started DESC, run_id DESC"
_AMBIGUITY_SHOWN = 6


def runs(con: DuckDBPyConnection, limit: int | None, status: str | None) -> list[RunRecord]:
    sql, params = _RUNS, list[object]()
    if status is not None:
        sql, params = sql + " WHERE status = ?", [status]
    sql += _NEWEST_FIRST
    if limit is not None:
        sql, params = sql + " LIMIT ?", [*params, max(0, limit)]
    return [run_from_row(row) for row in con.execute(sql, params).fetchall()]


def run(con: DuckDBPyConnection, prefix: str) -> RunRecord | None:
    """The run whose id is ``prefix``, else the only one whose id starts with it."""
    exact = con.execute(_RUNS + " WHERE run_id = ?", [prefix]).fetchone()
    if exact is not None:
        return run_from_row(exact)
    rows = con.execute(
        _RUNS + " WHERE starts_with(run_id, ?)" + _NEWEST_FIRST + " LIMIT ?",
        [prefix, _AMBIGUITY_SHOWN],
    ).fetchall()
    if len(rows) > 1:
        raise AmbiguousRun(prefix, [row[0] for row in rows])
    return run_from_row(rows[0]) if rows else None


def last_run(con: DuckDBPyConnection, status: str, workflow: str | None) -> RunRecord | None:
    """The newest run of a version itself: sampled runs and explored variants never are
    the run that status and plan compare with."""
    sql, params = _RUNS + " WHERE status = ? AND kind = 'commit'", [status]
    if workflow is not None:
        sql, params = sql + " AND workflow = ?", [status, workflow]
    row = con.execute(sql + _NEWEST_FIRST + " LIMIT 1", params).fetchone()
    return run_from_row(row) if row else None


def operators(con: DuckDBPyConnection, run_id: str) -> list[OperatorRecord]:
    rows = con.execute(
        f"SELECT {', '.join(OPERATOR_COLUMNS)} FROM run_operators "
        "WHERE run_id = ? ORDER BY position, name",
        [run_id],
    ).fetchall()
    return [operator_from_row(row) for row in rows]


def operators_for(
    con: DuckDBPyConnection, run_ids: Sequence[str], with_source: bool
) -> dict[str, list[OperatorRecord]]:
    """``operators`` of several runs. A version's operators mostly repeat the previous
    version's: each distinct row is read and parsed once, and each run lists which."""
    columns = [f"o.{c}" if with_source or c != "source" else "''" for c in OPERATOR_COLUMNS]
    hashed = [f"{c}::VARCHAR" for c in OPERATOR_COLUMNS if with_source or c != "source"]
    con.execute(
        "CREATE OR REPLACE TEMP TABLE asked AS SELECT run_id, "
        f"md5(concat_ws(chr(31), {', '.join(hashed)})) AS row_hash, position, name "
        "FROM run_operators "
        "WHERE run_id = ANY(?::VARCHAR[])",
        [list(run_ids)],
    )
    distinct = con.execute(
        f"SELECT DISTINCT ON (row_hash) row_hash, {', '.join(columns)} "
        "FROM asked a JOIN run_operators o ON a.run_id = o.run_id AND a.name = o.name"
    ).fetchall()
    by_hash = {row[0]: operator_from_row(row[1:]) for row in distinct}
    listing = con.execute(
        "SELECT run_id, list(row_hash ORDER BY position, name) FROM asked GROUP BY run_id"
    ).fetchall()
    con.execute("DROP TABLE asked")
    result: dict[str, list[OperatorRecord]] = {run_id: [] for run_id in run_ids}
    for run_id, hashes in listing:
        result[run_id] = [by_hash[h] for h in hashes]
    return result


def operator_sets(
    con: DuckDBPyConnection, run_ids: Sequence[str]
) -> tuple[list[OperatorIdentity], dict[str, list[int]]]:
    """The operators of several runs as comparing versions needs them: each distinct
    (name, kind, key, parents, parts) once, and for each run the indexes of its operators
    in that list, in the run's order. Versions mostly repeat their neighbours' operators,
    so a few distinct rows stand for many: DuckDB finds them by comparing the columns
    themselves, and only they become Python objects."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE asked AS SELECT run_id, position, name, kind, key, "
        "parents, parts FROM run_operators WHERE run_id = ANY(?::VARCHAR[])",
        [list(run_ids)],
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE distinct_operators AS "
        "SELECT row_number() OVER () - 1 AS i, * FROM "
        "(SELECT DISTINCT name, kind, key, parents, parts FROM asked)"
    )
    rows = con.execute(
        "SELECT name, kind, key, parents, parts FROM distinct_operators ORDER BY i"
    ).fetchall()
    listing = con.execute(
        "SELECT run_id, list(i ORDER BY position, name) FROM asked "
        "JOIN distinct_operators USING (name, kind, key, parents, parts) GROUP BY run_id"
    ).fetchall()
    con.execute("DROP TABLE asked")
    con.execute("DROP TABLE distinct_operators")
    result: dict[str, list[int]] = {run_id: [] for run_id in run_ids}
    result.update(listing)
    return [identity_from_row(row) for row in rows], result


def nodes(con: DuckDBPyConnection, run_id: str) -> list[NodeRecord]:
    """A run's node records, in the order of the run's operators."""
    columns = ", ".join(f"n.{c}" for c in NODE_COLUMNS)
    rows = con.execute(
        f"SELECT {columns} FROM node_runs n "
        "LEFT JOIN run_operators o ON o.run_id = n.run_id AND o.name = n.name "
        "WHERE n.run_id = ? ORDER BY o.position NULLS LAST, n.name",
        [run_id],
    ).fetchall()
    return [node_from_row(row) for row in rows]


def metrics(con: DuckDBPyConnection, run_id: str) -> dict[str, float]:
    rows = con.execute(
        "SELECT name, value FROM metrics WHERE run_id = ? ORDER BY name", [run_id]
    ).fetchall()
    return dict(rows)


def metrics_for(con: DuckDBPyConnection, run_ids: Sequence[str]) -> dict[str, dict[str, float]]:
    """Metrics of several runs; every asked-for run is a key, ``{}`` if it has none."""
    result: dict[str, dict[str, float]] = {run_id: {} for run_id in run_ids}
    rows = con.execute(
        "SELECT run_id, name, value FROM metrics WHERE run_id = ANY(?::VARCHAR[]) "
        "ORDER BY run_id, name",
        [list(run_ids)],
    ).fetchall()
    for run_id, name, value in rows:
        result[run_id][name] = value
    return result


def intervals_for(
    con: DuckDBPyConnection, run_ids: Sequence[str]
) -> dict[str, dict[str, tuple[float, float]]]:
    """Confidence intervals of the metrics of several runs that have one."""
    result: dict[str, dict[str, tuple[float, float]]] = {run_id: {} for run_id in run_ids}
    rows = con.execute(
        "SELECT run_id, name, lo, hi FROM metrics WHERE run_id = ANY(?::VARCHAR[]) "
        "AND lo IS NOT NULL AND hi IS NOT NULL ORDER BY run_id, name",
        [list(run_ids)],
    ).fetchall()
    for run_id, name, lo, hi in rows:
        result[run_id][name] = (lo, hi)
    return result


def counts_for(con: DuckDBPyConnection, run_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    """How many nodes each run computed, loaded and pruned (zeros for a run not finished)."""
    result = {run_id: dict.fromkeys(NODE_STATES, 0) for run_id in run_ids}
    rows = con.execute(
        "SELECT run_id, state, count(*) FROM node_runs WHERE run_id = ANY(?::VARCHAR[]) "
        "GROUP BY run_id, state",
        [list(run_ids)],
    ).fetchall()
    for run_id, state, count in rows:
        result[run_id][state] = count
    return result


def objects(con: DuckDBPyConnection, keys: Sequence[str] | None) -> dict[str, ObjectRecord]:
    sql, params = f"SELECT {', '.join(OBJECT_COLUMNS)} FROM objects", list[object]()
    if keys is not None:
        sql, params = sql + " WHERE key = ANY(?::VARCHAR[])", [list(keys)]
    records = (object_from_row(row) for row in con.execute(sql, params).fetchall())
    return {record.key: record for record in records}


def object_sizes(con: DuckDBPyConnection) -> dict[str, int]:
    """Bytes of every recorded object, by key."""
    return dict(con.execute("SELECT key, bytes FROM objects").fetchall())


def object_values(con: DuckDBPyConnection) -> dict[str, tuple[str, int, float]]:
    """``(name, bytes, recompute seconds)`` of every recorded object, by key: what the
    eviction policy weighs (the compute seconds where no recompute cost was recorded)."""
    rows = con.execute(
        "SELECT key, name, bytes, coalesce(recompute_seconds, compute_seconds) FROM objects"
    ).fetchall()
    return {key: (name, size, seconds) for key, name, size, seconds in rows}


def store_totals(con: DuckDBPyConnection) -> StoreTotals:
    row = con.execute("SELECT objects, bytes, unrecorded_bytes, stale FROM store_totals").fetchone()
    if row is None:
        return StoreTotals(0, 0, 0, True)
    return StoreTotals(int(row[0]), int(row[1]), int(row[2]), bool(row[3]))


def compute_seconds(
    con: DuckDBPyConnection, keys: Sequence[str], names: Sequence[str]
) -> tuple[dict[str, float], dict[str, float]]:
    """The latest successful compute time of each key, and of each operator name.

    By key is exact (the same code on the same data); by name is the cost model's fallback
    for a changed operator, whose previous versions are the best guess of its cost.
    """
    return _latest_compute(con, "key", keys), _latest_compute(con, "name", names)


def computed_by_ok_runs(con: DuckDBPyConnection, keys: Sequence[str]) -> dict[str, float]:
    """The latest compute seconds of each key that a run which ended ``ok`` computed: the
    work a reuse saves, counting none of what failed or interrupted runs did."""
    return _latest_compute(con, "key", keys, ok_runs=True)


def _latest_compute(
    con: DuckDBPyConnection, column: str, values: Sequence[str], ok_runs: bool = False
) -> dict[str, float]:
    if not values:
        return {}
    runs = "AND r.status = 'ok' " if ok_runs else ""
    rows = con.execute(
        f"SELECT n.{column}, arg_max(n.seconds, r.started) FROM node_runs n "
        "JOIN runs r ON r.run_id = n.run_id "
        f"WHERE n.state = 'compute' AND n.status = 'ok' AND n.{column} = ANY(?::VARCHAR[]) "
        f"{runs}GROUP BY n.{column}",
        [list(values)],
    ).fetchall()
    return dict(rows)


def key_history(con: DuckDBPyConnection, workflow: str, limit: int) -> list[dict[str, str]]:
    """Operator keys of the last ``limit`` ok runs of ``workflow``, oldest first."""
    rows = con.execute(
        """
        WITH recent AS (
            SELECT run_id, started FROM runs WHERE status = 'ok' AND workflow = ?
            ORDER BY started DESC, run_id DESC LIMIT ?
        )
        SELECT r.run_id, o.name, o.key FROM recent r JOIN run_operators o USING (run_id)
        ORDER BY r.started, r.run_id, o.position
        """,
        [workflow, limit],
    ).fetchall()
    history: dict[str, dict[str, str]] = {}
    for run_id, name, key in rows:
        history.setdefault(run_id, {})[name] = key
    return list(history.values())


def running_keys(con: DuckDBPyConnection) -> set[str]:
    """Keys of every operator of the runs still in progress: never evict these."""
    rows = con.execute(
        "SELECT DISTINCT o.key FROM runs r JOIN run_operators o USING (run_id) "
        "WHERE r.status = 'running'"
    ).fetchall()
    return {row[0] for row in rows}


RAW_MINIMUM = 2**20


def load_throughput(con: DuckDBPyConnection, minimum: int, raw: bool = False) -> float | None:
    """Bytes per second over every measured load, when there are at least ``minimum``:
    stored (compressed) bytes, or with ``raw`` the bytes of the decoded values, over loads
    of at least a MiB (smaller ones measure the per-object overhead, not the bandwidth)."""
    column = "raw_bytes" if raw else "bytes"
    large = f"AND raw_bytes >= {RAW_MINIMUM}" if raw else ""
    row = con.execute(
        f"SELECT count(*), sum({column}), sum(load_seconds) FROM objects "
        f"WHERE load_seconds IS NOT NULL AND load_seconds > 0 {large}"
    ).fetchone()
    if row is None or row[0] < minimum or not row[2]:
        return None
    return float(row[1]) / float(row[2])
