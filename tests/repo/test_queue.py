"""RunQueue: one runner at a time, nothing queued is ever lost, pushes from many processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from helixvcs.repo.feedback.queue import RunQueue


def test_push_dedupes_and_drain_runs_everything_in_order(tmp_path: Path) -> None:
    queue = RunQueue(tmp_path / "queue")
    assert queue.items() == [] and not (tmp_path / "queue").exists()  # reading creates nothing
    assert queue.push("a") and queue.push("b") and not queue.push("a")
    ran: list[str] = []
    assert queue.drain(ran.append)
    assert ran == ["a", "b"] and queue.items() == []


def test_pick_chooses_the_next_and_a_failed_run_still_leaves_the_queue(tmp_path: Path) -> None:
    queue = RunQueue(tmp_path)
    for sha in ("c", "a", "b"):
        queue.push(sha)
    ran: list[str] = []
    assert queue.drain(ran.append, pick=min)
    assert ran == ["a", "b", "c"]

    def boom(sha: str) -> None:
        raise RuntimeError(sha)

    queue.push("x")
    with pytest.raises(RuntimeError):
        queue.drain(boom)
    assert queue.items() == []


def test_a_second_runner_leaves_and_the_first_runs_what_it_queued(tmp_path: Path) -> None:
    queue = RunQueue(tmp_path)
    queue.push("first")
    ran: list[str] = []
    others: list[bool] = []

    def run(sha: str) -> None:
        ran.append(sha)
        if sha == "first":  # a commit made while this run is going
            queue.push("second")
            others.append(RunQueue(tmp_path).drain(ran.append))

    assert queue.drain(run)
    assert others == [False]
    assert ran == ["first", "second"]
    assert RunQueue(tmp_path).drain(ran.append)  # the runner lock was let go


def test_pushes_from_many_processes_all_land(tmp_path: Path) -> None:
    code = (
        "import sys; from helixvcs.repo.feedback.queue import RunQueue; "
        "RunQueue(sys.argv[1]).push(sys.argv[2])"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(tmp_path), f"sha{i}"]) for i in range(8)
    ]
    assert all(p.wait(timeout=60) == 0 for p in procs)
    assert sorted(RunQueue(tmp_path).items()) == sorted(f"sha{i}" for i in range(8))
