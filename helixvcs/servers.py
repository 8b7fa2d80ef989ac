"""Every warm server of one user, so that their number stays bounded.

Servers start by themselves (``server = "auto"``), one per repository and environment:
someone who works in many repositories, or a test suite that makes hundreds, would
otherwise collect idle servers of a few hundred MB each until their idle timeouts. Each
server keeps a file in a private per-user folder (``$XDG_RUNTIME_DIR/helixvcs/servers``,
else ``~/.cache/helixvcs/servers``, mode 0700) and touches it whenever it serves a
command; before a new server starts, the least recently used ones beyond
``HELIX_MAX_SERVERS`` (default 3) are asked to stop, as ``helix server stop`` would ask.
Files of servers that died (SIGKILL) are removed when found.

Imports only the standard library.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from helixvcs.liveness import process_alive

DEFAULT_MAX_SERVERS = 3

_coming = False  # this process started a server, or found one starting


def expect_one() -> None:
    """Note that a server of this user is starting (this command started it, or found it
    starting): until it is up, the store keeps what would go to the hot tier
    (``store/disk.py``), and hands it over once the tier is there."""
    global _coming
    _coming = True


def expected() -> bool:
    """Whether this process saw a server starting (``expect_one``)."""
    return _coming


@dataclass(frozen=True)
class Entry:
    pid: int
    root: Path
    env: str
    last_used: float  # the file's mtime: when it last served (or started)


def user_folder() -> Path:
    """The user's private ``helixvcs`` folder for warm state (servers, the hot tier)."""
    base = os.environ.get("XDG_RUNTIME_DIR") or os.path.join(Path.home(), ".cache")
    return Path(base) / "helixvcs"


def folder() -> Path:
    path = user_folder() / "servers"
    private_folder(path)
    return path


def private_folder(path: Path) -> bool:
    """Make ``path`` and its parent (mode 0700 when this call creates them); whether both
    are the user's own, private and not links (else warm state must not go there)."""
    try:
        for level in (path.parent, path):
            created = not level.exists()
            level.mkdir(mode=0o700, parents=True, exist_ok=True)
            if created:
                os.chmod(level, 0o700)  # mkdir's mode is masked by the umask
    except OSError:
        return False
    return owned(path.parent) and owned(path)


def owned(path: Path) -> bool:
    """``path`` is the user's, open to nobody else, and not a link."""
    try:
        st = path.lstat()
    except OSError:
        return False
    return st.st_uid == os.getuid() and st.st_mode & 0o077 == 0 and not os.path.islink(path)


def max_servers() -> int:
    try:
        return max(int(os.environ.get("HELIX_MAX_SERVERS", DEFAULT_MAX_SERVERS)), 1)
    except ValueError:
        return DEFAULT_MAX_SERVERS


def register(pid: int, root: Path, env: str) -> None:
    path = folder() / f"{pid}.json"
    tmp = path.with_name(f".{pid}.tmp")
    tmp.write_text(json.dumps({"pid": pid, "root": str(root), "env": env}), encoding="utf-8")
    os.replace(tmp, path)


def touch(pid: int) -> None:
    with contextlib.suppress(OSError):
        os.utime(folder() / f"{pid}.json")


def unregister(pid: int) -> None:
    with contextlib.suppress(OSError):
        (folder() / f"{pid}.json").unlink(missing_ok=True)


def running() -> list[Entry]:
    """The registered servers that are alive, least recently used first."""
    found = []
    try:
        files = list(folder().glob("*.json"))
    except OSError:
        return []
    for path in files:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            entry = Entry(int(data["pid"]), Path(data["root"]), str(data["env"]), 0.0)
            entry = Entry(entry.pid, entry.root, entry.env, path.stat().st_mtime)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if process_alive(entry.pid):
            found.append(entry)
        else:
            path.unlink(missing_ok=True)
    return sorted(found, key=lambda e: e.last_used)


def over_limit(starting: int = 1) -> list[Entry]:
    """The servers to stop so that ``starting`` more stay within the limit."""
    alive = running()
    excess = len(alive) + starting - max_servers()
    return alive[: max(excess, 0)]
