"""Creating, migrating and refusing index files."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from helixvcs.errors import HelixError
from helixvcs.index import (
    Index,
    IndexCorrupt,
    IndexFailure,
    IndexTooNew,
    IndexUnavailable,
    RunRecord,
    schema,
)

TABLES = [
    "estimator_weights",
    "feature_blocks",
    "metrics",
    "node_runs",
    "objects",
    "run_operators",
    "runs",
    "schema_version",
    "store_totals",
]


def tables(index: Index) -> list[str]:
    rows = index.query(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "ORDER BY table_name"
    )
    return [name for (name,) in rows]


def version(index: Index) -> int:
    return int(index.query("SELECT max(version) FROM schema_version")[0][0])


def test_ensure_creates_the_file_and_the_latest_schema(index: Index, index_path: Path) -> None:
    index.ensure()

    assert index_path.is_file()
    assert tables(index) == TABLES
    assert version(index) == schema.latest_version() == len(schema.MIGRATIONS)


def test_a_new_index_file_is_made_of_64_kib_blocks(index: Index, index_path: Path) -> None:
    # the objects key's index lives in one buffer per block, read at every attach: at a
    # million objects 16 KiB blocks made each attach ~5 ms dearer (connection.BLOCK_SIZE)
    import duckdb

    from helixvcs.index.connection import BLOCK_SIZE

    index.ensure()
    with duckdb.connect(str(index_path), read_only=True) as con:
        (size,) = con.execute("SELECT block_size FROM pragma_database_size()").fetchone()
    assert size == BLOCK_SIZE == 65536


def test_ensure_is_idempotent(index: Index) -> None:
    index.ensure()
    index.ensure()

    assert index.query("SELECT version FROM schema_version") == [(v,) for v, _ in schema.MIGRATIONS]


def test_a_first_write_creates_and_migrates(
    index: Index, make_run: Callable[..., RunRecord]
) -> None:
    index.begin_run(make_run("r1"), [])

    assert version(index) == schema.latest_version()
    assert [r.run_id for r in index.runs()] == ["r1"]


def test_an_index_from_a_newer_helixvcs_is_refused(
    index: Index, make_run: Callable[..., RunRecord], monkeypatch: pytest.MonkeyPatch
) -> None:
    newer = schema.latest_version() + 1
    future = [*schema.MIGRATIONS, (newer, "CREATE TABLE future (x INTEGER)")]
    with monkeypatch.context() as patch:
        patch.setattr(schema, "MIGRATIONS", future)
        index.ensure()

    for attempt in (index.runs, index.ensure, lambda: index.begin_run(make_run(), [])):
        with pytest.raises(IndexTooNew, match="upgrade helixvcs") as caught:
            attempt()
        assert f"schema version {newer}" in str(caught.value)
        assert "\n" not in str(caught.value)


def test_a_reader_upgrades_an_older_schema_before_reading(
    index: Index, make_run: Callable[..., RunRecord], monkeypatch: pytest.MonkeyPatch
) -> None:
    index.begin_run(make_run("r1"), [])
    newer = schema.latest_version() + 1
    extra = (newer, "ALTER TABLE runs ADD COLUMN note VARCHAR")
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, extra])

    assert [r.run_id for r in index.runs()] == ["r1"]
    assert version(index) == newer
    assert index.query("SELECT note FROM runs") == [(None,)]


def test_a_failing_migration_changes_nothing(index: Index, monkeypatch: pytest.MonkeyPatch) -> None:
    index.ensure()
    broken = "CREATE TABLE half (x INTEGER); CREATE TABLE broken (x NO_SUCH_TYPE)"
    newer = schema.latest_version() + 1
    with monkeypatch.context() as patch:
        patch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, (newer, broken)])
        with pytest.raises(IndexFailure, match="NO_SUCH_TYPE"):
            index.ensure()

    assert version(index) == newer - 1
    assert "half" not in tables(index)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda path: path.write_bytes(b"not a database " * 500), id="garbage"),
        pytest.param(lambda path: os.truncate(path, 5000), id="truncated"),
    ],
)
def test_a_damaged_file_is_reported_as_corrupt(
    index: Index, index_path: Path, damage: Callable[[Path], object]
) -> None:
    index.ensure()
    damage(index_path)

    for attempt in (index.runs, index.ensure, lambda: index.metrics_for(["r1"])):
        with pytest.raises(IndexCorrupt, match="move it aside") as caught:
            attempt()
        assert str(index_path) in str(caught.value)
        assert "\n" not in str(caught.value)
    assert isinstance(caught.value, IndexUnavailable)
    assert isinstance(caught.value, HelixError)


def test_a_zero_byte_file_reads_as_empty_and_is_replaced_on_write(
    index: Index, index_path: Path, make_run: Callable[..., RunRecord]
) -> None:
    index_path.touch()  # a creation that died before DuckDB wrote anything

    assert index.runs() == []
    index.begin_run(make_run("r1"), [])
    assert [r.run_id for r in index.runs()] == ["r1"]


def test_writing_without_a_helix_folder_says_to_init(tmp_path: Path) -> None:
    index = Index(tmp_path / "nowhere" / "index.duckdb")

    with pytest.raises(IndexUnavailable, match="helix init"):
        index.ensure()
    assert not (tmp_path / "nowhere").exists()


def test_a_version_1_index_is_migrated_keeping_its_objects(
    index: Index, index_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:1])
        index.ensure()
        index.query("SELECT 1")
    import duckdb

    with duckdb.connect(str(index_path)) as con:
        con.execute(
            "INSERT INTO objects VALUES ('k' || repeat('0', 39), 'rows', 10, 20, 'arrow', 'c', "
            "1.5, NULL, now()::TIMESTAMP, now()::TIMESTAMP)"
        )
    index.ensure()
    assert version(index) == schema.latest_version()
    (obj,) = index.objects().values()
    assert obj.name == "rows" and obj.compute_seconds == 1.5 and obj.recompute_seconds is None


def test_a_version_2_index_is_migrated_and_its_runs_are_runs_of_their_version(
    index: Index, index_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:2])
        index.ensure()
    import duckdb

    with duckdb.connect(str(index_path)) as con:
        con.execute(
            "INSERT INTO runs VALUES ('old', now()::TIMESTAMP, now()::TIMESTAMP, 'ok', 'abc', "
            "NULL, NULL, NULL, NULL, NULL, 'census', NULL, 'helix', 'local', 1, 'h', 1.0, 0.0, "
            "NULL)"
        )
        con.execute("INSERT INTO metrics VALUES ('old', 'accuracy', 0.85)")
    index.ensure()
    assert version(index) == schema.latest_version() == len(schema.MIGRATIONS)
    (run,) = index.runs()
    assert (run.kind, run.seed, run.base_run, run.variant) == ("commit", None, None, None)
    assert (run.precision, run.pruned) == (None, None)
    assert index.last_run(status="ok") == run
    assert index.metrics("old") == {"accuracy": 0.85}
    assert index.intervals_for(["old"]) == {"old": {}}


def test_sampled_and_explored_runs_are_never_the_last_run_and_keep_their_intervals(
    index: Index, make_run: Callable[..., RunRecord]
) -> None:
    from datetime import datetime

    index.begin_run(make_run("full", minute=0, fingerprint=None), [])
    index.begin_run(make_run("quick", minute=1, kind="sampled", sample=0.1, seed=0), [])
    index.begin_run(
        make_run("variant", minute=2, kind="explored", base_run="full", variant='{"m": {"C": 1}}'),
        [],
    )
    for run_id in ("full", "quick", "variant"):
        index.finish_run(
            run_id,
            status="ok",
            finished=datetime.now(),
            wall_seconds=1.0,
            saved_seconds=0.0,
            nodes=[],
            metrics={"accuracy": 0.8, "f1": 0.6},
            intervals={"accuracy": (0.75, 0.85)} if run_id == "quick" else None,
        )
    last = index.last_run(status="ok")
    assert last is not None and last.run_id == "full"
    assert index.intervals_for(["quick", "full"]) == {
        "quick": {"accuracy": (0.75, 0.85)},
        "full": {},
    }
    kinds = {r.run_id: (r.kind, r.sample, r.seed, r.base_run) for r in index.runs()}
    assert kinds["quick"] == ("sampled", 0.1, 0, None)
    assert kinds["variant"] == ("explored", None, None, "full")
