"""The history questions other layers ask: ordering, lookups, aggregates, ad-hoc SQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helixvcs.errors import UserInputError
from helixvcs.index import (
    AmbiguousRun,
    BadQuery,
    Index,
    NodeRecord,
    OperatorRecord,
    RunRecord,
)

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

MakeRun = Callable[..., RunRecord]
MakeNodes = Callable[..., list[NodeRecord]]


def add(index: Index, run: RunRecord, nodes: list[NodeRecord], **metrics: float) -> None:
    """Record a finished run (status from ``run.status``, 'ok' if it says 'running')."""
    status = "ok" if run.status == "running" else run.status
    index.begin_run(run, [])
    index.finish_run(
        run.run_id,
        status=status,
        finished=datetime.now(UTC),
        wall_seconds=1.0,
        saved_seconds=0.0,
        nodes=nodes,
        metrics=metrics,
    )


def test_runs_are_newest_first(index: Index, make_run: MakeRun) -> None:
    for run_id, minute in [("b", 2), ("a", 1), ("d", 4), ("c", 3)]:
        index.begin_run(make_run(run_id, minute=minute), [])

    assert [r.run_id for r in index.runs()] == ["d", "c", "b", "a"]
    assert [r.run_id for r in index.runs(limit=2)] == ["d", "c"]
    assert index.runs(limit=0) == []


def test_runs_filter_by_status(index: Index, make_run: MakeRun, make_nodes: MakeNodes) -> None:
    add(index, make_run("ok1", minute=1), make_nodes())
    add(index, make_run("bad", minute=2, status="failed"), [])
    index.begin_run(make_run("live", minute=3), [])

    assert [r.run_id for r in index.runs(status="ok")] == ["ok1"]
    assert [r.run_id for r in index.runs(status="failed")] == ["bad"]
    assert [r.run_id for r in index.runs(status="running")] == ["live"]


def test_a_run_is_found_by_a_unique_prefix(index: Index, make_run: MakeRun) -> None:
    for run_id in ["3f2a91", "3f2b07", "a0"]:
        index.begin_run(make_run(run_id), [])

    assert (found := index.run("3f2a")) is not None and found.run_id == "3f2a91"
    assert (found := index.run("a0")) is not None and found.run_id == "a0"
    assert index.run("ffff") is None
    assert index.run("") is None


def test_an_ambiguous_prefix_names_the_candidates(index: Index, make_run: MakeRun) -> None:
    for run_id in ["3f2a91", "3f2b07"]:
        index.begin_run(make_run(run_id), [])

    with pytest.raises(AmbiguousRun, match="3f2a91") as caught:
        index.run("3f2")
    assert isinstance(caught.value, UserInputError)
    assert "3f2b07" in str(caught.value)


def test_an_exact_id_wins_over_longer_ids_it_prefixes(index: Index, make_run: MakeRun) -> None:
    for run_id in ["abc", "abcd", "abce"]:
        index.begin_run(make_run(run_id), [])

    assert (found := index.run("abc")) is not None and found.run_id == "abc"


def test_last_run_by_status_and_workflow(
    index: Index, make_run: MakeRun, make_nodes: MakeNodes
) -> None:
    add(index, make_run("old", minute=1), make_nodes())
    add(index, make_run("other", minute=2, workflow="titanic"), make_nodes())
    add(index, make_run("failed", minute=3, status="failed"), [])

    assert (last := index.last_run()) is not None and last.run_id == "other"
    assert (last := index.last_run(workflow="census")) is not None and last.run_id == "old"
    assert (last := index.last_run(status="failed")) is not None and last.run_id == "failed"
    assert index.last_run(status="interrupted") is None


def test_metrics_and_counts_for_many_runs(
    index: Index, make_run: MakeRun, make_nodes: MakeNodes
) -> None:
    add(index, make_run("r1", minute=1), make_nodes(), accuracy=0.8)
    add(index, make_run("r2", minute=2), make_nodes()[:2], accuracy=0.9, f1=0.5)
    index.begin_run(make_run("r3", minute=3), [])

    assert index.metrics_for(["r1", "r2", "r3", "nope"]) == {
        "r1": {"accuracy": 0.8},
        "r2": {"accuracy": 0.9, "f1": 0.5},
        "r3": {},
        "nope": {},
    }
    assert index.counts_for(["r1", "r2", "r3"]) == {
        "r1": {"compute": 2, "load": 1, "prune": 1},
        "r2": {"compute": 1, "load": 1, "prune": 0},
        "r3": {"compute": 0, "load": 0, "prune": 0},
    }
    assert index.metrics_for([]) == {}
    assert index.counts_for([]) == {}


def test_compute_seconds_are_the_latest_successful_measurements(
    index: Index, make_run: MakeRun, make_nodes: MakeNodes
) -> None:
    add(index, make_run("r1", minute=1), make_nodes(seconds=1.0))
    add(index, make_run("r3", minute=3), make_nodes(seconds=3.0, suffix="-v2"))
    # Recorded later but started earlier: not the latest measurement.
    add(index, make_run("r2", minute=2), make_nodes(seconds=2.0))
    failed = NodeRecord("model", "k-model-v2", "compute", 99.0, None, None, False, "failed")
    add(index, make_run("r4", minute=4, status="failed"), [failed])

    by_key, by_name = index.compute_seconds(
        ["k-rows", "k-model", "k-model-v2", "k-raw", "k-unknown"], ["rows", "model", "raw", "x"]
    )

    # k-raw was only ever loaded; pruned and failed nodes measure nothing.
    assert by_key == {"k-rows": 4.0, "k-model": 6.0, "k-model-v2": 9.0}
    assert by_name == {"rows": 6.0, "model": 9.0}
    assert index.compute_seconds([], []) == ({}, {})


def test_query_runs_read_only_sql(index: Index, make_run: MakeRun, make_nodes: MakeNodes) -> None:
    add(index, make_run("r1"), make_nodes(), accuracy=0.8)

    assert index.query("SELECT run_id, value FROM metrics WHERE name = ?", ["accuracy"]) == [
        ("r1", 0.8)
    ]
    with pytest.raises(BadQuery, match="read-only"):
        index.query("DELETE FROM runs")
    with pytest.raises(BadQuery, match="no_such_table"):
        index.query("SELECT * FROM no_such_table")
    assert len(index.runs()) == 1


def test_query_cannot_leave_other_files_locked(
    index: Index,
    make_run: MakeRun,
    tmp_path: Path,
    worker: Callable[..., object],
    wait_ok: Callable[..., object],
) -> None:
    index.begin_run(make_run("r1"), [])
    other = tmp_path / "other.duckdb"
    index.query(f"ATTACH '{other}' AS other")

    wait_ok(worker("write", other, "x", 1))  # would fail if this process still held it


def test_reads_of_a_missing_index_are_empty_and_create_nothing(tmp_path: Path) -> None:
    index = Index(tmp_path / ".helix" / "index.duckdb")

    assert index.runs() == []
    assert index.run("abc") is None
    assert index.last_run() is None
    assert index.operators("r1") == []
    assert index.nodes("r1") == []
    assert index.metrics("r1") == {}
    assert index.metrics_for(["r1"]) == {"r1": {}}
    assert index.counts_for(["r1"]) == {"r1": {"compute": 0, "load": 0, "prune": 0}}
    assert index.objects() == {}
    assert index.compute_seconds(["k"], ["n"]) == ({}, {})
    assert index.query("SELECT 1") == []
    assert index.mark_interrupted() == 0
    index.touch_objects(["k"], datetime.now(UTC))
    index.record_load("k", 1.0)
    index.forget_objects(["k"])
    assert list(tmp_path.iterdir()) == []


def test_reads_in_an_existing_helix_folder_create_no_files(index: Index, index_path: Path) -> None:
    assert index.runs() == []
    assert list(index_path.parent.iterdir()) == []


def test_operators_of_an_unknown_run_are_empty(
    index: Index, make_run: MakeRun, operators: list[OperatorRecord]
) -> None:
    index.begin_run(make_run("r1"), operators)

    assert index.operators("r2") == []
    assert index.nodes("r1") == []


def test_load_throughput_in_stored_and_in_decoded_bytes(index: Index) -> None:
    from helixvcs.index import ObjectRecord

    now = datetime.now(UTC)
    mib = 2**20
    objects = [
        ObjectRecord(f"k{i}", "rows", mib, 5 * mib, "arrow", "c", 1.0, None, now, now)
        for i in range(3)
    ]
    small = ObjectRecord("tiny", "metric", 50, 50, "pickle", "c", 1.0, None, now, now)
    index.record_objects([*objects, small])
    assert index.load_throughput() is None  # nothing loaded yet
    index.record_loads({f"k{i}": 0.5 for i in range(3)})
    assert index.load_throughput() == pytest.approx(2 * mib)  # 3 MiB stored in 1.5 s
    assert index.load_throughput(raw=True) == pytest.approx(10 * mib)  # 15 MiB decoded
    index.record_loads({"tiny": 0.5})  # its time is per-object overhead, not bandwidth
    assert index.load_throughput(raw=True) == pytest.approx(10 * mib)


OPERATOR_ROWS = st.lists(
    st.tuples(
        st.sampled_from(["raw", "rows", "model"]),
        st.sampled_from(["op", "metric"]),
        st.sampled_from(["k1", "k2"]),
        st.sampled_from([(), ("raw",), ("raw", "rows")]),
        st.sampled_from([{}, {"body": "b1"}, {"body": "b2", "data:\udc80.csv": "1"}]),
        st.sampled_from(["wf.py", "lib.py"]),  # not compared: one identity either way
    ),
    max_size=4,
    unique_by=lambda row: row[0],
)


@given(runs=st.lists(OPERATOR_ROWS, min_size=1, max_size=5))
@settings(max_examples=40, deadline=None)
def test_operator_sets_list_each_runs_operators_as_operators_for(
    tmp_path_factory: pytest.TempPathFactory, runs: list[list[tuple[Any, ...]]]
) -> None:
    """Each distinct identity once, and every run's operators in its order, as the plain
    read of every row gives them."""
    index = Index(tmp_path_factory.mktemp("sets") / "index.duckdb", lock_timeout=10)
    run_ids = []
    for i, rows in enumerate(runs):
        run = RunRecord(
            run_id=f"r{i}", started=T0 + timedelta(minutes=i), finished=None, status="running",
            revision="HEAD", commit="c" * 40, fingerprint=None, branch="main", subject="s",
            author="a", workflow="w", sample=None, materialize="helix", executor="local",
            pid=1, host="h",
        )  # fmt: skip
        ops = [
            OperatorRecord(name, kind, key, "h", parents, j, file, j + 1, "src", parts)
            for j, (name, kind, key, parents, parts, file) in enumerate(reversed(rows))
        ]
        index.begin_run(run, ops)
        run_ids.append(run.run_id)
    asked = [*run_ids, "never"]
    distinct, listing = index.operator_sets(asked)
    plain = index.operators_for(asked, with_source=False)
    assert set(listing) == set(asked)
    seen = [(o.name, o.kind, o.key, o.parents, dict(o.parts)) for o in distinct]
    assert len(seen) == len({repr(s) for s in seen})  # each identity once
    for run_id in asked:
        got = [distinct[i] for i in listing[run_id]]
        want = plain[run_id]
        assert [(o.name, o.kind, o.key, o.parents, dict(o.parts)) for o in got] == [
            (o.name, o.kind, o.key, o.parents, dict(o.parts)) for o in want
        ]
