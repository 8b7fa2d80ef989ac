"""Is a process still there? (Shared by the index, for runs, and the store, for writers.)

``kill(pid, 0)`` alone is not enough: pids are reused, and in containers the same small
pid comes back on every start. On Linux the process's start time (from ``/proc``) tells a
reused pid apart: a process that started after the run did cannot be the run's process.
Zombies (exited, not yet reaped) count as gone.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

# /proc gives boot time in whole seconds and start time in clock ticks; allow for both.
_START_SLACK_SECONDS = 2.0


def process_alive(pid: int, *, since: datetime | None = None) -> bool:
    """True if ``pid`` is a live process that could have started a run at ``since``."""
    if pid == os.getpid():
        return True
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user
    except (OverflowError, ValueError):
        return False  # not a pid any process could have
    stat = _proc_stat(pid)
    if stat is None:
        return True  # no /proc (macOS): trust kill()
    state, started = stat
    if state == "Z":
        return False
    return since is None or started <= since.timestamp() + _START_SLACK_SECONDS


def _proc_stat(pid: int) -> tuple[str, float] | None:
    """(state letter, start time as a Unix timestamp) from /proc, or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
        boot = _boot_time()
    except (OSError, ValueError):
        return None
    # The command name (field 2) may contain spaces and parentheses; split after it.
    after_name = text[text.rindex(")") + 2 :].split()
    state, start_ticks = after_name[0], int(after_name[19])
    return state, boot + start_ticks / os.sysconf("SC_CLK_TCK")


def _boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise ValueError("no btime in /proc/stat")
