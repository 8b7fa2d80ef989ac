"""Starting, asking and stopping a repository's server (``helix server ...``)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from helixvcs.cli.warm.protocol import (
    MAX_SOCKET_PATH,
    connect,
    log_path,
    receive,
    send,
    server_dir,
    socket_path,
    starting_path,
)
from helixvcs.errors import UserInputError
from helixvcs.liveness import process_alive

START_TIMEOUT = 300.0  # preloading a large workflow's libraries from a cold disk
AUTO_IDLE = 1800.0  # server = "auto": the default of `helix server start --idle`


class ServerError(UserInputError):
    """The server could not be started or reached."""


def ask(root: Path, request: dict[str, Any], timeout: float = 5.0) -> dict[str, Any] | None:
    """The server's answer to ``request``; None when no server answers."""
    path = socket_path(root)
    if not path.exists():
        return None
    try:
        with connect(path, timeout) as sock:
            send(sock, request)
            reply, _ = receive(sock)
            return reply
    except OSError:
        return None


def status(root: Path) -> dict[str, Any] | None:
    """What the running server says of itself, or None."""
    return ask(root, {"ping": True})


def start(root: Path, idle: float) -> tuple[dict[str, Any], bool]:
    """Start a server for ``root`` unless one runs; ``(its status, started now)``."""
    running = status(root)
    if running is not None and not running.get("stopping"):
        return running, False
    return _wait_ready(root, spawn(root, idle)), True


def spawn(root: Path, idle: float) -> subprocess.Popen[bytes]:
    """Start a server process for ``root`` and return at once (it preloads, then listens)."""
    if sys.platform != "linux":
        raise ServerError("helix server needs Linux (fork and Unix sockets); commands run as usual")
    if not (root / ".helix").is_dir():
        raise ServerError(f"{root} has no .helix/; run `helix init` first")
    path = socket_path(root)
    if len(os.fsencode(str(path))) > MAX_SOCKET_PATH:
        raise ServerError(
            f"{path} is longer than a Unix socket path may be ({MAX_SOCKET_PATH} bytes); "
            "move the repository to a shorter path to use a server"
        )
    folder = server_dir(root)
    folder.mkdir(mode=0o700, exist_ok=True)
    os.chmod(folder, 0o700)
    _rotate(log_path(root))
    with open(log_path(root), "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "helixvcs.cli.warm.server", "--root", str(root),
             "--idle", str(idle)],
            cwd=root, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
        )  # fmt: skip


def spawn_once(root: Path, idle: float) -> bool:
    """``server = "auto"``: start a server in the background unless one is starting;
    True if this call started it. Never raises: the command runs here either way."""
    marker = starting_path(root)
    try:
        server_dir(root).mkdir(mode=0o700, exist_ok=True)
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        _clear_if_stale(marker)
        return False
    except OSError:
        return False
    try:
        process = spawn(root, idle)
        os.write(fd, f"{process.pid}\n".encode())
    except (OSError, ServerError):
        marker.unlink(missing_ok=True)
        return False
    finally:
        os.close(fd)
    return True


def _clear_if_stale(marker: Path) -> None:
    """A start that died or hangs leaves its marker: the next command may try again."""
    try:
        age = time.time() - marker.stat().st_mtime
        text = marker.read_text().strip()
    except OSError:
        return
    dead = text.isdigit() and not process_alive(int(text))
    if age > START_TIMEOUT or dead or (not text and age > 5):
        marker.unlink(missing_ok=True)


def _wait_ready(root: Path, process: subprocess.Popen[bytes]) -> dict[str, Any]:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(
                f"the helix server exited (code {process.returncode}) while starting: "
                f"{_last_line(log_path(root))}; see {log_path(root)}"
            )
        answer = status(root)
        if answer is not None and answer.get("pid") == process.pid:
            return answer
        time.sleep(0.05)
    process.terminate()
    raise ServerError(
        f"the helix server did not start in {START_TIMEOUT:g} s; see {log_path(root)}"
    )


def stop(root: Path, timeout: float = 60.0) -> dict[str, Any] | None:
    """Ask the server to stop and wait until it has; its last status, or None if none ran.

    Commands it is running finish first (up to ``timeout``; then it is terminated)."""
    running = status(root)
    if running is None:
        return None
    ask(root, {"stop": True})
    pid = int(running["pid"])
    deadline = time.monotonic() + timeout
    while process_alive(pid):
        if time.monotonic() > deadline:
            os.kill(pid, 15)
            break
        time.sleep(0.05)
    return running


def _rotate(log: Path, limit: int = 1 << 20) -> None:
    """Keep the log and one predecessor, each about ``limit`` bytes at most."""
    try:
        if log.stat().st_size > limit:
            os.replace(log, log.with_name(log.name + ".1"))
    except OSError:
        pass  # no log yet


def _last_line(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    return lines[-1] if lines else "no log"
