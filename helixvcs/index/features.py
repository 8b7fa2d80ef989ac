"""Column provenance of feature assemblies and the weights of estimators trained on them.

``feature_blocks`` says, per run, which columns of each ``@wf.features`` assembly came
from which block; ``estimator_weights`` which of those columns an estimator gave a
non-zero weight. Both are read back by key: an assembly's provenance does not change
for as long as its key does, and an estimator's weights are those of its key.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from helixvcs.index.records import BlockRecord, WeightsRecord

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection


def record(
    con: DuckDBPyConnection,
    run_id: str,
    blocks: Sequence[BlockRecord],
    weights: Sequence[WeightsRecord],
) -> None:
    for b in blocks:
        con.execute(
            "INSERT OR REPLACE INTO feature_blocks VALUES (?, ?, ?, ?, ?, ?, ?)",
            [run_id, b.assembly, b.assembly_key, b.position, b.block, b.start, b.stop],
        )
    for w in weights:
        con.execute(
            "INSERT OR REPLACE INTO estimator_weights VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                w.name,
                w.key,
                w.assembly,
                w.assembly_key,
                w.attribute,
                w.width,
                json.dumps([list(r) for r in w.nonzero]),
            ],
        )


def blocks_of(con: DuckDBPyConnection, assembly_key: str) -> list[BlockRecord]:
    """The provenance recorded last for an assembly's key, in column order."""
    row = con.execute(
        "SELECT b.run_id FROM feature_blocks b JOIN runs r USING (run_id) "
        "WHERE b.assembly_key = ? ORDER BY r.started DESC, r.run_id DESC LIMIT 1",
        [assembly_key],
    ).fetchone()
    if row is None:
        return []
    rows = con.execute(
        "SELECT assembly, assembly_key, position, block, start, stop FROM feature_blocks "
        "WHERE run_id = ? AND assembly_key = ? ORDER BY position",
        [row[0], assembly_key],
    ).fetchall()
    return [BlockRecord(*r) for r in rows]


def weights_on(con: DuckDBPyConnection, assembly_key: str) -> list[WeightsRecord]:
    """Weights recorded by successful runs for estimators trained on ``assembly_key``,
    newest first."""
    rows = con.execute(
        "SELECT w.name, w.key, w.assembly, w.assembly_key, w.attribute, w.width, w.nonzero, "
        "w.run_id FROM estimator_weights w JOIN runs r USING (run_id) "
        "WHERE w.assembly_key = ? AND r.status = 'ok' ORDER BY r.started DESC, r.run_id DESC",
        [assembly_key],
    ).fetchall()
    return [
        WeightsRecord(n, k, a, ak, attr, width, tuple(tuple(x) for x in json.loads(nz)), run)
        for n, k, a, ak, attr, width, nz, run in rows
    ]
