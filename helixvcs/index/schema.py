"""The index schema as an ordered list of migrations, and the code that applies them.

Policy: a migration is never edited once released; a schema change is a new
``(version, sql)`` pair appended to ``MIGRATIONS``. Each migration runs in its own
transaction together with the ``schema_version`` row that records it, so a crash leaves
the file at the previous version, never half-way. A file whose version is higher than the
last migration this code knows was written by a newer helixvcs: it is refused
(``IndexTooNew``) rather than misread, because older code cannot know what a newer column
means. Migrations only add (tables, columns, indexes); readers of an older file are upgraded
in place under the write lock before they read.

There are no secondary indexes, on purpose. The primary keys (``run_id``; ``(run_id,
name)`` for the per-run tables; ``key`` for objects) keep the data honest. Extra ART
indexes on ``run_id`` and ``key`` were measured: they save under 1 ms on a per-run lookup
at 1,000 runs x 30 operators, where a vectorized scan takes 1-3 ms, but every write pays
for them again when the file is checkpointed (about 3 ms of a 10 ms write), and the
IN-list lookups ``log`` makes do not use them at all.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from helixvcs.index.connection import in_transaction
from helixvcs.index.errors import IndexCorrupt, IndexTooNew

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    applied TIMESTAMP NOT NULL
)
"""

V1 = """
CREATE TABLE runs (
    run_id VARCHAR PRIMARY KEY,
    started TIMESTAMP NOT NULL,
    finished TIMESTAMP,
    status VARCHAR NOT NULL,
    revision VARCHAR NOT NULL,
    commit VARCHAR,
    fingerprint VARCHAR,
    branch VARCHAR,
    subject VARCHAR,
    author VARCHAR,
    workflow VARCHAR NOT NULL,
    sample DOUBLE,
    materialize VARCHAR NOT NULL,
    executor VARCHAR NOT NULL,
    pid INTEGER NOT NULL,
    host VARCHAR NOT NULL,
    wall_seconds DOUBLE,
    saved_seconds DOUBLE,
    error VARCHAR
);

CREATE TABLE run_operators (
    run_id VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    key VARCHAR NOT NULL,
    code_hash VARCHAR NOT NULL,
    parents VARCHAR[] NOT NULL,
    position INTEGER NOT NULL,
    file VARCHAR NOT NULL,
    line INTEGER NOT NULL,
    source VARCHAR NOT NULL,
    parts JSON NOT NULL,
    PRIMARY KEY (run_id, name)
);

CREATE TABLE node_runs (
    run_id VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    key VARCHAR NOT NULL,
    state VARCHAR NOT NULL,
    seconds DOUBLE NOT NULL,
    load_seconds DOUBLE,
    bytes BIGINT,
    materialized BOOLEAN NOT NULL,
    status VARCHAR NOT NULL,
    PRIMARY KEY (run_id, name)
);

CREATE TABLE metrics (
    run_id VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    value DOUBLE,
    PRIMARY KEY (run_id, name)
);

CREATE TABLE objects (
    key VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    bytes BIGINT NOT NULL,
    raw_bytes BIGINT NOT NULL,
    codec VARCHAR NOT NULL,
    checksum VARCHAR NOT NULL,
    compute_seconds DOUBLE NOT NULL,
    load_seconds DOUBLE,
    created TIMESTAMP NOT NULL,
    last_used TIMESTAMP NOT NULL
);
"""

# v2: what it would cost to recompute an object without it (its own compute seconds plus
# every ancestor that would have to be recomputed too): the benefit of keeping it.
V2 = """
ALTER TABLE objects ADD COLUMN recompute_seconds DOUBLE;
"""

# v3: quick feedback and think time. What kind of run it was: a run of a version
# ('commit'; also a working tree), the same on a sample of the rows of every source
# ('sampled', with the fraction in ``sample`` and its seed), or a variant that
# exploration derived from a version by setting constants ('explored': the base run it
# came from and the constants it set, as JSON). Metrics of per-row scores carry a
# bootstrap confidence interval.
V3 = """
ALTER TABLE runs ADD COLUMN kind VARCHAR DEFAULT 'commit';
ALTER TABLE runs ADD COLUMN seed INTEGER;
ALTER TABLE runs ADD COLUMN base_run VARCHAR;
ALTER TABLE runs ADD COLUMN variant JSON;
ALTER TABLE metrics ADD COLUMN lo DOUBLE;
ALTER TABLE metrics ADD COLUMN hi DOUBLE;
"""

# v4: end-to-end pruning and low precision. A run may use low precision ('precision'
# kind, ``precision`` = 'float32') or leave zero-weight feature blocks out ('pruned' kind,
# ``pruned`` = JSON {assembly: [block, ...]}, ``base_run`` = the run whose weights it
# used). Column provenance of every feature assembly (``@wf.features``) a run computed
# or loaded, and the non-zero weights of every estimator trained on one.
V4 = """
ALTER TABLE runs ADD COLUMN precision VARCHAR;
ALTER TABLE runs ADD COLUMN pruned JSON;

CREATE TABLE feature_blocks (
    run_id VARCHAR NOT NULL,
    assembly VARCHAR NOT NULL,
    assembly_key VARCHAR NOT NULL,
    position INTEGER NOT NULL,
    block VARCHAR NOT NULL,
    start INTEGER NOT NULL,
    stop INTEGER NOT NULL,
    PRIMARY KEY (run_id, assembly, position)
);

CREATE TABLE estimator_weights (
    run_id VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    key VARCHAR NOT NULL,
    assembly VARCHAR NOT NULL,
    assembly_key VARCHAR NOT NULL,
    attribute VARCHAR NOT NULL,
    width INTEGER NOT NULL,
    nonzero JSON NOT NULL,
    PRIMARY KEY (run_id, name)
);
"""

# v5: the store's size, kept where objects are recorded, so that a run never stats every
# object to learn it: the recorded objects and their bytes (kept up to date by every write
# of the objects table), the bytes in the store that no record covers (left by a run that
# died before recording what it wrote, counted by the last reconciliation), and whether a
# run ended since without recording its objects (then the next run reconciles first).
V5 = """
CREATE TABLE store_totals (
    objects BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    unrecorded_bytes BIGINT NOT NULL,
    stale BOOLEAN NOT NULL
);
INSERT INTO store_totals SELECT count(*), coalesce(sum(bytes), 0), 0, true FROM objects;
"""

MIGRATIONS: list[tuple[int, str]] = [(1, V1), (2, V2), (3, V3), (4, V4), (5, V5)]


def latest_version() -> int:
    """The schema version this code writes (the last migration it knows)."""
    return MIGRATIONS[-1][0]


def current_version(con: DuckDBPyConnection) -> int:
    """The version recorded in the attached file; 0 for a file without our schema."""
    import duckdb

    try:
        row = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
    except duckdb.CatalogException:
        return 0
    return int(row[0]) if row else 0


def check_not_too_new(version: int, path: Path) -> None:
    if version > latest_version():
        raise IndexTooNew(path, version, latest_version())


def check_not_foreign(con: DuckDBPyConnection, path: Path) -> None:
    """A database without our ``schema_version`` but with tables of its own was not made
    by helix: never write into it."""
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "ORDER BY table_name"
    ).fetchall()
    if rows:
        tables = ", ".join(str(r[0]) for r in rows[:5]) + (", ..." if len(rows) > 5 else "")
        raise IndexCorrupt(path, f"a DuckDB database helix did not make, with tables {tables}")


def migrate(con: DuckDBPyConnection, path: Path) -> None:
    """Bring the attached file up to ``latest_version()``; a no-op when it already is.

    The caller holds the exclusive lock, so reading the version and applying the missing
    migrations cannot race with another process doing the same.
    """
    found = current_version(con)
    check_not_too_new(found, path)
    if found == 0:
        check_not_foreign(con, path)
    for version, sql in MIGRATIONS:
        if version > found:
            _apply(con, version, sql)


def _apply(con: DuckDBPyConnection, version: int, sql: str) -> None:
    applied = datetime.now(UTC).replace(tzinfo=None)

    def step(con: DuckDBPyConnection) -> None:
        con.execute(VERSION_TABLE)
        con.execute(sql)
        con.execute("INSERT INTO schema_version VALUES (?, ?)", [version, applied])

    in_transaction(con, step)
