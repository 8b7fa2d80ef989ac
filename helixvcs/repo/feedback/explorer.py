"""The one exploration of a work tree at a time, and how other commands stop it.

Background exploration is think time put to work: it must give the machine back the
moment the user wants it. State, in ``.helix/explore/``:

``lock``
    ``flock``-ed by the exploring process for as long as it explores. A second
    exploration that cannot take it does not start.
``pid``
    ``<pid> <mode>`` of that process (``background`` or ``foreground``), written once it
    holds the lock.

``stop_background`` (called by every ``helix run`` and by the post-commit hook when a
new commit arrives) finds a background explorer by trying the lock, sends it SIGTERM,
and waits for it to let go. The explorer turns SIGTERM into ``ExplorationStopped``: the
variant in progress is recorded as ``interrupted``, the variants that finished stay
recorded. Between variants the explorer also checks, itself, whether a commit is queued
or another run is in progress, and stops if so (``interrupting``).
"""

from __future__ import annotations

import fcntl
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING

from helixvcs.errors import UserInputError

if TYPE_CHECKING:
    from helixvcs.repo import Repo

BACKGROUND, FOREGROUND = "background", "foreground"
NICENESS = 10  # added to the hook's own `nice -n 10`: background exploration yields to all
_STOP_WAIT = 15.0  # seconds a stopper waits for the explorer to record and let go


class ExplorationBusy(UserInputError):
    def __init__(self, where: Path) -> None:
        super().__init__(
            f"another exploration of this work tree is going on (see {where / 'pid'}); "
            "wait for it to finish"
        )


class ExplorationStopped(BaseException):  # like KeyboardInterrupt: not an error
    """SIGTERM reached an exploring process: a new commit or a foreground run wants the CPU."""


def folder(repo: Repo) -> Path:
    return repo.layout.helix / "explore"


@contextmanager
def exploring(repo: Repo, mode: str) -> Iterator[bool]:
    """Hold the exploration lock while the body runs; yields False when another
    exploration holds it (then the body must not explore)."""
    where = folder(repo)
    where.mkdir(parents=True, exist_ok=True)
    previous = signal.getsignal(signal.SIGTERM)
    with open(where / "lock", "a+b") as lock:
        if not _try_lock(lock):
            yield False
            return
        signal.signal(signal.SIGTERM, _stop)
        try:
            (where / "pid").write_text(f"{os.getpid()} {mode}\n", encoding="ascii")
            yield True
        finally:
            signal.signal(signal.SIGTERM, previous)
            (where / "pid").unlink(missing_ok=True)
            fcntl.flock(lock, fcntl.LOCK_UN)


_stop_requested = False


def _stop(_signum: int, _frame: FrameType | None) -> None:
    global _stop_requested
    _stop_requested = True
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: let the interrupted run record itself
    raise ExplorationStopped


@contextmanager
def stoppable() -> Iterator[None]:
    """``ExplorationStopped`` for whatever the stop interrupted: a library that catches
    the signal's exception in its own code (DuckDB ends a query with "Query interrupted")
    must not turn a requested stop into an error."""
    try:
        yield
    except Exception as exc:
        if _stop_requested:
            raise ExplorationStopped from exc
        raise


def _try_lock(lock: IO[bytes]) -> bool:
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def stop_background(repo: Repo, wait: float = _STOP_WAIT) -> int | None:
    """Stop a background exploration of this work tree; its pid, or None if none ran."""
    path = folder(repo) / "lock"
    if not path.exists():
        return None
    with open(path, "a+b") as lock:
        if _try_lock(lock):
            return None  # nobody explores
        pid, mode = _holder(repo)
        if pid is None or mode != BACKGROUND:
            return None
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return None
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if _try_lock(lock):
                break
            time.sleep(0.05)
        return pid


def _holder(repo: Repo) -> tuple[int | None, str | None]:
    try:
        words = (folder(repo) / "pid").read_text(encoding="ascii").split()
        return int(words[0]), words[1] if len(words) > 1 else None
    except (OSError, ValueError, IndexError):
        return None, None


def interrupting(repo: Repo) -> Callable[[], str | None]:
    """For a background explorer: why it should stop now (a commit is queued, or another
    run is in progress), or None."""
    from helixvcs.repo.feedback.queue import RunQueue

    queue = RunQueue(repo.layout.queue)

    def why() -> str | None:
        if queue.items():
            return "a new commit is queued"
        running = repo.index.runs(status="running")
        if running:
            return f"run {running[0].run_id} started"
        return None

    return why


def lower_priority() -> None:
    """Background exploration runs below everything else the user does."""
    with suppress(OSError):  # already at the lowest priority, or not allowed
        os.nice(NICENESS)


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``5m``, ``1.5h`` -> seconds."""
    units = {"s": 1.0, "m": 60.0, "h": 3600.0}
    value = text.strip().lower()
    factor = units.get(value[-1:])
    number = value[:-1] if factor is not None else value
    try:
        seconds = float(number) * (factor or 1.0)
    except ValueError:
        seconds = -1.0
    if not seconds > 0 or seconds != seconds:
        raise UserInputError(
            f"bad time budget {text!r}; give seconds or a unit, e.g. 90s, 5m or 1h"
        )
    return seconds
