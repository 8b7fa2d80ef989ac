"""Starting, asking and stopping a repository's servers (``helix server ...``).

A server is found by its repository and its environment (``environment_id``): the
commands of a process reach the server that is that process's twin. ``here()`` is the
environment of the calling process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from helixvcs import servers as registry
from helixvcs.cli.warm.protocol import (
    MAX_SOCKET_PATH,
    connect,
    log_path,
    place,
    places,
    receive,
    send,
    socket_path,
    starting_path,
)
from helixvcs.errors import UserInputError
from helixvcs.liveness import process_alive

START_TIMEOUT = 300.0  # preloading a large workflow's libraries from a cold disk
AUTO_IDLE = 1800.0  # server = "auto": the default of `helix server start --idle`
UNSERVABLE = "unservable"  # written by a server whose own environment is not the one asked


class ServerError(UserInputError):
    """The server could not be started or reached."""


def here() -> str:
    """The environment of this process: which server its commands go to."""
    from helixvcs.cli.warm.process import describe_process, environment_id

    return environment_id(describe_process())


def ask(
    root: Path, env: str, request: dict[str, Any], timeout: float = 5.0
) -> dict[str, Any] | None:
    """The server's answer to ``request``; None when no server answers."""
    path = socket_path(root, env)
    if not path.exists():
        return None
    try:
        with connect(path, timeout) as sock:
            send(sock, request)
            reply, _ = receive(sock)
            return reply
    except OSError:
        return None


def status(root: Path, env: str) -> dict[str, Any] | None:
    """What the running server says of itself, or None."""
    return ask(root, env, {"ping": True})


def others(root: Path, env: str) -> list[dict[str, Any]]:
    """The statuses of the repository's servers of other environments."""
    found = [status(root, other) for other, _ in places(root) if other != env]
    return [s for s in found if s is not None]


def start(root: Path, env: str, idle: float) -> tuple[dict[str, Any], bool]:
    """Start a server for ``root`` unless one runs; ``(its status, started now)``."""
    running = status(root, env)
    if running is not None and not running.get("stopping"):
        return running, False
    return _wait_ready(root, env, spawn(root, env, idle)), True


def spawn(root: Path, env: str, idle: float) -> subprocess.Popen[bytes]:
    """Start a server process for ``root`` and return at once (it preloads, then listens).

    The least recently used servers of this user beyond ``HELIX_MAX_SERVERS`` are asked
    to stop first (``registry``)."""
    if sys.platform != "linux":
        raise ServerError("helix server needs Linux (fork and Unix sockets); commands run as usual")
    if not (root / ".helix").is_dir():
        raise ServerError(f"{root} has no .helix/; run `helix init` first")
    too_long = socket_too_long(root, env)
    if too_long is not None:
        raise ServerError(too_long)
    folder = place(root, env)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder.parent, 0o700)
    os.chmod(folder, 0o700)
    for old in registry.over_limit():
        ask(old.root, old.env, {"stop": True}, timeout=1.0)
    _rotate(log_path(root, env))
    with open(log_path(root, env), "ab") as log:
        return subprocess.Popen(
            [sys.executable, *_interpreter_options(), "-m", "helixvcs.cli.warm_server",
             "--root", str(root), "--env", env, "--idle", str(idle)],
            cwd=root, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
        )  # fmt: skip


def _interpreter_options() -> list[str]:
    """This interpreter's options (-X, -W, -O, ...), for a server that is its twin."""
    options: list[str] = subprocess._args_from_interpreter_flags()  # type: ignore[attr-defined]
    return options


def socket_too_long(root: Path, env: str) -> str | None:
    """Why no server can listen for ``root`` (its socket's path would be too long), or None."""
    path = socket_path(root, env)
    if len(os.fsencode(str(path))) <= MAX_SOCKET_PATH:
        return None
    return (
        f"{path} is longer than a Unix socket path may be ({MAX_SOCKET_PATH} bytes); "
        "move the repository to a shorter path to use a server"
    )


def unservable(root: Path, env: str) -> str | None:
    """Why no server can be started for ``env`` (its options could not be reproduced)."""
    try:
        return (place(root, env) / UNSERVABLE).read_text(encoding="utf-8").strip() or "?"
    except OSError:
        return None


def spawn_once(root: Path, env: str, idle: float) -> bool:
    """``server = "auto"``: start a server in the background unless one is starting;
    True if this call started it. Never raises: the command runs here either way."""
    marker = starting_path(root, env)
    try:
        place(root, env).mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        _clear_if_stale(marker)
        return False
    except OSError:
        return False
    try:
        process = spawn(root, env, idle)
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


def _wait_ready(root: Path, env: str, process: subprocess.Popen[bytes]) -> dict[str, Any]:
    log = log_path(root, env)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(
                f"the helix server exited (code {process.returncode}) while starting: "
                f"{_last_line(log)}; see {log}"
            )
        answer = status(root, env)
        if answer is not None and answer.get("pid") == process.pid:
            return answer
        time.sleep(0.05)
    process.terminate()
    raise ServerError(f"the helix server did not start in {START_TIMEOUT:g} s; see {log}")


def stop_all(root: Path, timeout: float = 60.0) -> list[dict[str, Any]]:
    """Stop every server of the repository (each environment's); their last statuses."""
    stopped = [stop(root, env, timeout) for env, _ in places(root)]
    return [s for s in stopped if s is not None]


def stop(root: Path, env: str, timeout: float = 60.0) -> dict[str, Any] | None:
    """Ask the server to stop and wait until it has; its last status, or None if none ran.

    Commands it is running finish first (up to ``timeout``; then it is terminated)."""
    running = status(root, env)
    if running is None:
        return None
    ask(root, env, {"stop": True})
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
