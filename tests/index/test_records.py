"""Every record type survives a write and a read unchanged."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest

from helixvcs.index import (
    Index,
    NodeRecord,
    ObjectRecord,
    OperatorRecord,
    RunExists,
    RunRecord,
    UnknownRun,
)

T1 = datetime(2024, 5, 1, 13, 30, 15, 123456, tzinfo=UTC)


def finish(index: Index, run_id: str, **fields: object) -> None:
    values: dict[str, object] = {
        "status": "ok",
        "finished": T1,
        "wall_seconds": 12.5,
        "saved_seconds": 40.0,
        "nodes": [],
        "metrics": {"accuracy": 0.85, "f1": 0.7},
    }
    index.finish_run(run_id, **{**values, **fields})  # type: ignore[arg-type]


def test_a_run_round_trips(index: Index, make_run: Callable[..., RunRecord]) -> None:
    run = make_run("r1", sample=0.1, fingerprint=None, commit=None, subject="sub ject ✓")

    index.begin_run(run, [])

    assert index.run("r1") == run
    assert index.runs() == [run]


def test_finishing_a_run_records_outcome_nodes_and_metrics(
    index: Index,
    make_run: Callable[..., RunRecord],
    operators: list[OperatorRecord],
    make_nodes: Callable[..., list[NodeRecord]],
) -> None:
    index.begin_run(make_run("r1"), operators)
    finish(index, "r1", nodes=make_nodes(), error=None)

    run = index.run("r1")
    assert run is not None
    assert (run.status, run.finished, run.wall_seconds, run.saved_seconds, run.error) == (
        "ok",
        T1,
        12.5,
        40.0,
        None,
    )
    assert index.operators("r1") == operators
    assert index.nodes("r1") == make_nodes()
    assert index.metrics("r1") == {"accuracy": 0.85, "f1": 0.7}


def test_operators_keep_parents_parts_and_order(
    index: Index, make_run: Callable[..., RunRecord], operators: list[OperatorRecord]
) -> None:
    index.begin_run(make_run("r1"), list(reversed(operators)))

    stored = index.operators("r1")

    assert [op.name for op in stored] == ["raw", "rows", "model", "accuracy"]
    assert stored[3].parents == ("model", "rows")
    assert dict(stored[1].parts) == {"body": "b1", "helper:clean": "c1"}
    assert stored[1].source == "def rows(raw):\n    return clean(raw)\n"


def test_a_failed_run_keeps_its_error(
    index: Index, make_run: Callable[..., RunRecord], make_nodes: Callable[..., list[NodeRecord]]
) -> None:
    index.begin_run(make_run("r1"), [])
    nodes = [
        *make_nodes()[:1],
        NodeRecord("rows", "k", "compute", 1.0, None, None, False, "failed"),
    ]
    finish(index, "r1", nodes=nodes, status="failed", metrics={}, error="ValueError: bad row 17")

    run = index.run("r1")
    assert run is not None
    assert (run.status, run.error) == ("failed", "ValueError: bad row 17")
    assert index.metrics("r1") == {}
    assert [n.status for n in index.nodes("r1")] == ["ok", "failed"]


def test_finishing_twice_replaces_the_first_outcome(
    index: Index,
    make_run: Callable[..., RunRecord],
    operators: list[OperatorRecord],
    make_nodes: Callable[..., list[NodeRecord]],
) -> None:
    index.begin_run(make_run("r1"), operators)
    finish(index, "r1", nodes=make_nodes())
    finish(index, "r1", nodes=make_nodes(seconds=2.0), metrics={"accuracy": 0.9})

    assert index.metrics("r1") == {"accuracy": 0.9}
    assert index.nodes("r1") == make_nodes(seconds=2.0)


def test_finishing_an_unknown_run_is_an_error(index: Index) -> None:
    with pytest.raises(UnknownRun, match="r404"):
        finish(index, "r404")


def test_beginning_a_run_twice_is_an_error(
    index: Index, make_run: Callable[..., RunRecord]
) -> None:
    index.begin_run(make_run("r1"), [])
    with pytest.raises(RunExists, match="r1"):
        index.begin_run(make_run("r1"), [])


@pytest.mark.parametrize(
    "bad",
    [
        {"status": "done"},
        {"nodes": [NodeRecord("n", "k", "reuse", 1.0, None, None, False, "ok")]},
        {"nodes": [NodeRecord("n", "k", "compute", 1.0, None, None, False, "fine")]},
    ],
)
def test_unknown_statuses_and_states_are_refused(
    index: Index, make_run: Callable[..., RunRecord], bad: dict[str, object]
) -> None:
    index.begin_run(make_run("r1"), [])
    with pytest.raises(ValueError, match="must be one of"):
        finish(index, "r1", **bad)
    run = index.run("r1")
    assert run is not None and run.status == "running"


def test_times_are_aware_utc_whatever_was_passed(
    index: Index, make_run: Callable[..., RunRecord]
) -> None:
    plus_two = timezone(timedelta(hours=2))
    local_naive = datetime(2024, 5, 1, 12, 0)
    index.begin_run(make_run("aware", started=datetime(2024, 5, 1, 14, 0, tzinfo=plus_two)), [])
    index.begin_run(make_run("naive", started=local_naive), [])

    aware, naive = index.run("aware"), index.run("naive")
    assert aware is not None and naive is not None
    assert aware.started == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert aware.started.tzinfo is UTC
    assert naive.started == local_naive.astimezone(UTC)
    assert index.query("SELECT started FROM runs WHERE run_id = 'aware'") == [
        (datetime(2024, 5, 1, 12, 0),)
    ]


def test_objects_round_trip_and_upsert(
    index: Index, make_object: Callable[..., ObjectRecord]
) -> None:
    a, b = make_object("ka"), make_object("kb", load_seconds=0.3, name="model", codec="pickle+zstd")
    index.record_objects([a, b])
    assert index.objects() == {"ka": a, "kb": b}

    replaced = make_object("ka", bytes=99, checksum="sha256:1")
    index.record_objects([make_object("ka", bytes=1), replaced])

    assert index.objects(["ka"]) == {"ka": replaced}
    assert index.objects(["kb", "missing"]) == {"kb": b}
    assert index.objects([]) == {}


def test_touching_loading_and_forgetting_objects(
    index: Index, make_object: Callable[..., ObjectRecord]
) -> None:
    index.record_objects([make_object("ka"), make_object("kb")])

    index.touch_objects(["ka", "nope"], T1)
    index.record_load("kb", 0.42)
    stored = index.objects()
    assert stored["ka"].last_used == T1
    assert stored["kb"].last_used == stored["kb"].created
    assert stored["kb"].load_seconds == 0.42

    index.forget_objects(["ka"])
    assert list(index.objects()) == ["kb"]


def test_a_run_ends_with_its_objects_loads_and_evictions_in_one_transaction(
    index: Index, make_run: Callable[..., RunRecord], make_object: Callable[..., ObjectRecord]
) -> None:
    index.record_objects([make_object("old"), make_object("loaded")])
    index.begin_run(make_run("r1"), [])
    finish(index, "r1", objects=[make_object("new")], loads={"loaded": 0.25}, forget=["old"])
    stored = index.objects()
    assert sorted(stored) == ["loaded", "new"] and stored["loaded"].load_seconds == 0.25
    assert index.run("r1").status == "ok"  # type: ignore[union-attr]

    index.begin_run(make_run("r2", minute=1), [])
    with pytest.raises(UnknownRun):  # the run's end fails: none of it is recorded
        finish(index, "nope", objects=[make_object("other")], forget=["new"])
    assert sorted(index.objects()) == ["loaded", "new"]
