"""``Index.reading()``: several reads under one shared lock and one attach.

What it must keep: the same answers as reads on their own; a write inside the block still
works (the block ends first); an error of a read leaves nothing held; another process's
write waits for the block and goes through once it ends.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from helixvcs.index import Index, IndexFailure
from tests.index.conftest import WORKER


def _record(index: Index, make_run, operators, make_nodes, make_object, run_id: str) -> None:
    index.begin_run(make_run(run_id), operators)
    index.record_objects([make_object(f"k-rows-{run_id}")])
    index.finish_run(
        run_id,
        status="ok",
        finished=make_run(run_id).started,
        wall_seconds=1.0,
        saved_seconds=0.0,
        nodes=make_nodes(suffix=f"-{run_id}"),
        metrics={"accuracy": 0.5},
    )


def _answers(index: Index) -> tuple[object, ...]:
    return (
        [r.run_id for r in index.runs()],
        index.last_run(),
        index.objects(),
        index.compute_seconds(["k-rows-r1"], ["rows", "model"]),
        index.key_history("census"),
        index.running_keys(),
    )


def test_reads_in_a_block_give_the_answers_of_reads_on_their_own(
    index, make_run, operators, make_nodes, make_object
):
    for run_id in ("r1", "r2"):
        _record(index, make_run, operators, make_nodes, make_object, run_id)
    alone = _answers(index)
    with index.reading():
        shared = _answers(index)
        assert index._shared is not None  # one attach, held for the block
    assert shared == alone
    assert index._shared is None


def test_a_write_inside_a_block_ends_it_and_is_seen_after(
    index, make_run, operators, make_nodes, make_object
):
    _record(index, make_run, operators, make_nodes, make_object, "r1")
    with index.reading():
        assert [r.run_id for r in index.runs()] == ["r1"]
        _record(index, make_run, operators, make_nodes, make_object, "r2")
        assert index._shared is None
        assert {r.run_id for r in index.runs()} == {"r1", "r2"}


def test_an_error_in_a_block_releases_everything(
    index, make_run, operators, make_nodes, make_object
):
    _record(index, make_run, operators, make_nodes, make_object, "r1")

    def broken(con):
        con.execute("SELECT * FROM no_such_table")

    with pytest.raises(IndexFailure), index.reading():
        index._read(broken, None)
    assert index._shared is None
    index.begin_run(make_run("r2"), operators)  # nothing left holding the lock


def test_another_process_writes_once_the_block_ends(
    index, index_path: Path, make_run, operators, make_nodes, make_object
):
    _record(index, make_run, operators, make_nodes, make_object, "r1")
    env = {**os.environ, "INDEX_LOCK_TIMEOUT": "0.5"}
    command = [sys.executable, str(WORKER), "write", str(index_path), "w", "1"]
    root = str(Path(__file__).resolve().parents[2])
    with index.reading():
        index.runs()
        blocked = subprocess.run(command, env=env, cwd=root, capture_output=True, text=True)
        assert blocked.returncode != 0 and "IndexBusy" in blocked.stderr, blocked.stderr
    done = subprocess.run(command, env=env, cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "w-0000" in {r.run_id for r in index.runs()}


def test_other_threads_wait_for_the_block_and_do_not_share_it(
    index, make_run, operators, make_nodes, make_object
):
    _record(index, make_run, operators, make_nodes, make_object, "r1")
    seen: list[list[str]] = []
    with index.reading():
        thread = threading.Thread(target=lambda: seen.append([r.run_id for r in index.runs()]))
        thread.start()
        thread.join(0.3)
        assert thread.is_alive() and not seen  # waiting for this thread's block
        index.runs()
    thread.join(10)
    assert seen == [["r1"]]
