"""Exclusion around every index operation: a process-wide RLock plus two ``flock`` files.

``index.lock`` is the lock proper: shared for reads, exclusive for writes. ``flock`` on
its own is not fair: a reader that loops (``watch helix log``), or two overlapping
readers, can keep a shared lock held continuously and starve a writer forever. So every
operation first passes ``index.gate``, taking it in the same mode it wants
``index.lock``, and lets go of the gate as soon as it holds the lock. A waiting writer
holds the gate exclusively, so no new reader can enter; the readers already inside finish
within milliseconds and the writer goes next.

A blocking ``flock`` cannot time out, so a contended lock is waited for by a helper
thread while the caller waits on an event with the deadline (see ``_flock``). ``flock``
locks belong to an open file description, so each operation opens its own descriptors,
and two threads of one process exclude each other just as two processes do; the RLock
makes threads queue in-process, and keeps the process's one in-memory DuckDB to one user
at a time.
"""

from __future__ import annotations

import errno
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

from helixvcs.index.errors import IndexBusy, IndexUnavailable

_PROCESS_LOCK = threading.RLock()
_held = threading.local()


def _after_fork_in_child() -> None:
    """A fork copies the RLock as it was; another thread may have held it. Start fresh."""
    global _PROCESS_LOCK, _held
    _PROCESS_LOCK = threading.RLock()
    _held = threading.local()


os.register_at_fork(after_in_child=_after_fork_in_child)


def remaining(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


def backoff(delay: float, deadline: float, *, cap: float) -> float:
    """Sleep ``delay`` (never past the deadline) and return the next, longer delay."""
    time.sleep(min(delay, remaining(deadline)))
    return min(delay * 2, cap)


@contextmanager
def hold(index_path: Path, *, exclusive: bool, deadline: float) -> Iterator[None]:
    """Hold the index for one operation: the RLock, then the gate, then ``index.lock``."""
    if getattr(_held, "active", False):
        raise RuntimeError("index operations do not nest: finish one before starting another")
    if not _PROCESS_LOCK.acquire(timeout=remaining(deadline)):
        raise IndexBusy(index_path, "another thread of this process kept it locked")
    _held.active = True
    try:
        with _file_locks(index_path, exclusive=exclusive, deadline=deadline):
            yield
    finally:
        _held.active = False
        _PROCESS_LOCK.release()


def lock_paths(index_path: Path) -> tuple[Path, Path]:
    """``(index.lock, index.gate)`` next to ``index.duckdb``."""
    return index_path.with_suffix(".lock"), index_path.with_suffix(".gate")


@contextmanager
def _file_locks(index_path: Path, *, exclusive: bool, deadline: float) -> Iterator[None]:
    lock_path, gate_path = lock_paths(index_path)
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    with ExitStack() as stack:
        gate = _open(gate_path, index_path, create=exclusive)
        if gate is None:  # a read-only .helix/ that no writer ever used: nothing to exclude
            yield
            return
        with _descriptor(gate):
            _flock(gate, mode, deadline, index_path, gate_path)
            lock = _open(lock_path, index_path, create=exclusive)
            if lock is not None:
                stack.enter_context(_descriptor(lock))
                _flock(lock, mode, deadline, index_path, lock_path)
        yield  # the gate is closed (released) here; the lock stays held until the end


def _open(path: Path, index_path: Path, *, create: bool) -> int | None:
    """A descriptor to lock, or None when a reader cannot create the lock file."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        if os.fstat(fd).st_mode & 0o077:  # made by the umask, or by an older helix
            with suppress(OSError):
                os.fchmod(fd, 0o600)
        return fd
    except OSError as error:
        if create or error.errno not in (errno.EACCES, errno.EROFS, errno.EPERM):
            raise IndexUnavailable(index_path, f"cannot open {path}: {error.strerror}") from error
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None


@contextmanager
def _descriptor(fd: int) -> Iterator[int]:
    try:
        yield fd
    finally:
        os.close(fd)  # closing the last descriptor of the description releases its flock


def _flock(fd: int, mode: int, deadline: float, index_path: Path, lock_path: Path) -> None:
    """Lock ``fd``, waiting at most until ``deadline``.

    Uncontended, this is one non-blocking call. Otherwise a helper thread makes the
    blocking call, so that the kernel wakes us the moment the lock is free (no polling
    delay, no CPU spent waiting) while this thread waits with a timeout. The helper locks
    through its own duplicate of ``fd`` (same open file description, hence the same lock)
    and closes it when its call returns: if we gave up and closed ``fd`` meanwhile, that
    close releases the lock it got too late; if not, ``fd`` keeps holding it.
    """
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        pass
    done = threading.Event()
    own = os.dup(fd)

    def wait() -> None:
        try:
            fcntl.flock(own, mode)
            done.set()
        finally:
            os.close(own)

    threading.Thread(target=wait, name="helix-index-flock", daemon=True).start()
    if not done.wait(remaining(deadline)):
        raise IndexBusy(
            index_path, f"another helix process kept {lock_path.name} locked past the lock timeout"
        )
