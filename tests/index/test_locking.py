"""Lock timeouts, shared reads, threads of one process, and the no-nesting rule."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from helixvcs.index import BadQuery, Index, IndexBusy, RunExists, RunRecord
from helixvcs.index.locking import hold, lock_paths

MakeRun = Callable[..., RunRecord]


@contextmanager
def flocked(path: Path, mode: int) -> Iterator[None]:
    """Hold ``path`` locked as another process would (a separate open file description)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, mode)
        yield
    finally:
        os.close(fd)


def test_an_exclusive_holder_makes_reads_and_writes_time_out(
    index_path: Path, make_run: MakeRun
) -> None:
    index = Index(index_path, lock_timeout=0.3)
    index.ensure()
    lock, _ = lock_paths(index_path)

    with flocked(lock, fcntl.LOCK_EX):
        for attempt in (index.runs, lambda: index.begin_run(make_run(), [])):
            start = time.monotonic()
            with pytest.raises(
                IndexBusy, match=r"index\.lock locked past the lock timeout"
            ) as caught:
                attempt()
            assert 0.3 <= time.monotonic() - start < 2
            assert str(index_path) in str(caught.value)
            assert "\n" not in str(caught.value)

    index.begin_run(make_run(), [])  # and all is well once the holder is gone


def test_readers_share_and_writers_wait(index_path: Path, make_run: MakeRun) -> None:
    index = Index(index_path, lock_timeout=0.3)
    index.begin_run(make_run("r1"), [])
    lock, _ = lock_paths(index_path)

    with flocked(lock, fcntl.LOCK_SH):
        assert [r.run_id for r in index.runs()] == ["r1"]
        with pytest.raises(IndexBusy):
            index.begin_run(make_run("r2"), [])


def test_a_waiting_writer_holds_back_new_readers(index_path: Path, make_run: MakeRun) -> None:
    index = Index(index_path, lock_timeout=0.3)
    index.ensure()
    _, gate = lock_paths(index_path)

    # Holding the gate is what a writer does while the readers inside drain.
    with flocked(gate, fcntl.LOCK_EX), pytest.raises(IndexBusy, match=r"index\.gate"):
        index.runs()


def test_a_write_waits_for_the_lock_rather_than_failing(
    index_path: Path, make_run: MakeRun
) -> None:
    index = Index(index_path, lock_timeout=10)
    index.ensure()
    lock, _ = lock_paths(index_path)
    fd = os.open(lock, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    release = threading.Timer(0.3, os.close, [fd])
    release.start()
    start = time.monotonic()
    index.begin_run(make_run(), [])

    assert time.monotonic() - start >= 0.25
    release.join()


def test_threads_of_one_process_share_the_index(index: Index, make_run: MakeRun) -> None:
    errors: list[BaseException] = []

    def work(thread: int) -> None:
        own = Index(index.path) if thread % 2 else index  # shared and separate instances
        try:
            for i in range(6):
                run_id = f"t{thread}-{i}"
                own.begin_run(make_run(run_id, pid=os.getpid()), [])
                own.finish_run(
                    run_id,
                    status="ok",
                    finished=datetime.now(UTC),
                    wall_seconds=1.0,
                    saved_seconds=0.0,
                    nodes=[],
                    metrics={"i": float(i)},
                )
                ok = [r.run_id for r in own.runs(status="ok")]
                assert all(own.metrics_for(ok).values())
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(index.runs()) == 24


def test_index_operations_do_not_nest(index_path: Path) -> None:
    deadline = time.monotonic() + 1
    with (
        hold(index_path, exclusive=False, deadline=deadline),
        pytest.raises(RuntimeError, match="do not nest"),
        hold(index_path, exclusive=False, deadline=deadline),
    ):
        pass


def test_errors_release_the_locks(index: Index, make_run: MakeRun) -> None:
    index.begin_run(make_run("r1"), [])
    with pytest.raises(RunExists):
        index.begin_run(make_run("r1"), [])
    with pytest.raises(BadQuery):
        index.query("SELEC nonsense")

    quick = Index(index.path, lock_timeout=0.2)
    quick.begin_run(make_run("r2"), [])
    assert [r.run_id for r in quick.runs()] == ["r2", "r1"]
