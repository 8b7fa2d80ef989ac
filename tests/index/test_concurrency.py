"""Real processes writing and reading one index at once (see worker.py)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from helixvcs.index import Index, schema

Worker = Callable[..., subprocess.Popen[str]]
WaitOk = Callable[..., dict[str, Any]]


def check_all_present(index: Index, prefixes: dict[str, int]) -> None:
    expected = {f"{prefix}-{i:04d}" for prefix, count in prefixes.items() for i in range(count)}
    runs = index.runs()
    assert {r.run_id for r in runs} == expected
    assert {r.status for r in runs} == {"ok"}
    metrics = index.metrics_for(sorted(expected))
    assert all(metrics[run_id]["i"] == float(run_id[-4:]) for run_id in expected)


def read_while_writing(
    index: Index, tmp_path: Path, worker: Worker, wait_ok: WaitOk, count: int
) -> dict[str, Any]:
    """One process writes ``count`` runs while another reads, pausing 5 ms between polls
    (as a person re-running ``helix log`` would, only much faster): a reader spinning
    flat out would mostly measure how the OS shares a busy CI machine's CPUs."""
    stop = tmp_path / "stop"
    reader = worker("read", index.path, stop, 0.005)
    try:
        wait_ok(worker("write", index.path, "w", count), timeout=120)
    finally:
        stop.touch()
    seen = wait_ok(reader, timeout=60)
    check_all_present(index, {"w": count})
    return seen


def test_a_reader_sees_consistent_runs_while_a_writer_works(
    index: Index, tmp_path: Path, worker: Worker, wait_ok: WaitOk
) -> None:
    seen = read_while_writing(index, tmp_path, worker, wait_ok, count=15)

    assert seen["polls"] > 0


def test_several_busy_readers_do_not_starve_a_writer(
    index: Index, tmp_path: Path, worker: Worker, wait_ok: WaitOk
) -> None:
    # Plain flock would let overlapping shared locks shut the writer out for good; the
    # gate makes it wait only for the reads already in progress.
    index.ensure()
    stop = tmp_path / "stop"
    readers = [worker("read", index.path, stop) for _ in range(3)]
    try:
        time.sleep(0.5)  # let the readers get going
        wait_ok(worker("write", index.path, "w", 10, lock_timeout=5), timeout=60)
    finally:
        stop.touch()
    for reader in readers:
        wait_ok(reader)
    check_all_present(index, {"w": 10})


@pytest.mark.slow
def test_200_runs_written_while_a_reader_polls(
    index: Index, tmp_path: Path, worker: Worker, wait_ok: WaitOk
) -> None:
    seen = read_while_writing(index, tmp_path, worker, wait_ok, count=200)

    # Neither side starved the other: the reader kept polling throughout.
    assert seen["polls"] >= 20
    assert seen["most_seen"] > 0


@pytest.mark.slow
def test_two_writers_at_once(index: Index, worker: Worker, wait_ok: WaitOk) -> None:
    writers = [worker("write", index.path, prefix, 100) for prefix in ("a", "b")]
    for writer in writers:
        wait_ok(writer, timeout=120)

    check_all_present(index, {"a": 100, "b": 100})


def test_two_writers_create_the_index_together(
    index: Index, worker: Worker, wait_ok: WaitOk
) -> None:
    writers = [worker("write", index.path, prefix, 5) for prefix in ("a", "b", "c")]
    for writer in writers:
        wait_ok(writer, timeout=60)

    check_all_present(index, {"a": 5, "b": 5, "c": 5})
    assert index.query("SELECT version FROM schema_version") == [(v,) for v, _ in schema.MIGRATIONS]
