"""Runs whose process died are marked 'interrupted', and only those."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from helixvcs.index import Index, RunRecord
from helixvcs.liveness import process_alive

MakeRun = Callable[..., RunRecord]
HAS_PROC = Path("/proc/self/stat").exists()


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    yield child
    child.kill()
    child.wait()


def statuses(index: Index) -> dict[str, str]:
    return {run.run_id: run.status for run in index.runs()}


def test_a_run_whose_process_is_gone_is_interrupted(index: Index, make_run: MakeRun) -> None:
    started = datetime.now(UTC)
    index.begin_run(make_run("dead", pid=dead_pid(), started=started), [])
    index.begin_run(make_run("mine", pid=os.getpid(), started=started), [])
    index.begin_run(make_run("elsewhere", pid=dead_pid(), host="another-host"), [])

    assert index.mark_interrupted() == 1

    assert statuses(index) == {"dead": "interrupted", "mine": "running", "elsewhere": "running"}
    run = index.run("dead")
    assert (
        run is not None and run.error is not None and "ended before the run finished" in run.error
    )
    assert index.mark_interrupted() == 0


def test_finished_runs_are_left_alone(index: Index, make_run: MakeRun) -> None:
    index.begin_run(make_run("done", pid=dead_pid()), [])
    index.finish_run(
        "done",
        status="ok",
        finished=datetime.now(UTC),
        wall_seconds=1.0,
        saved_seconds=0.0,
        nodes=[],
        metrics={},
    )

    assert index.mark_interrupted() == 0
    assert statuses(index) == {"done": "ok"}


@pytest.mark.skipif(not HAS_PROC, reason="process start times come from /proc")
def test_a_reused_pid_does_not_keep_a_run_alive(
    index: Index, make_run: MakeRun, sleeper: subprocess.Popen[bytes]
) -> None:
    now = datetime.now(UTC)
    index.begin_run(make_run("long-ago", pid=sleeper.pid, started=now - timedelta(days=1)), [])
    index.begin_run(make_run("current", pid=sleeper.pid, started=now + timedelta(seconds=5)), [])

    assert index.mark_interrupted() == 1
    assert statuses(index) == {"long-ago": "interrupted", "current": "running"}


@pytest.mark.skipif(not HAS_PROC, reason="process states come from /proc")
def test_a_zombie_is_not_alive() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child.pid}/stat").read_text().split(")")[1].split()[0] != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.01)

    assert not process_alive(child.pid)
    child.wait()


def test_liveness_basics() -> None:
    assert process_alive(os.getpid())
    assert process_alive(os.getppid())
    assert not process_alive(0)
    assert not process_alive(dead_pid())
