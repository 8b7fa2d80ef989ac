"""Where the server lives, and the messages between client and server.

One ``SOCK_SEQPACKET`` Unix socket: message boundaries are kept, and file descriptors
travel with a message. The client sends one request (JSON, with its fds 0, 1 and 2); the
server answers with JSON messages: ``{"pid": N}`` when the child started, then
``{"exit": code}`` when it ended, or ``{"declined": reason}`` instead of both.
``{"ping": true}`` and ``{"stop": true}`` are the requests of ``helix server status`` and
``helix server stop``. Imports only the standard library, and ``json`` and ``socket``
only when a message is exchanged: every ``helix`` command asks for ``socket_path`` before
click loads, and most find no server.

A repository has one server per *environment* (``fingerprint.environment_id``: the
interpreter, ``sys.path``, environment variables, limits and priority that a served
command must share with the server), each in its own folder ``.helix/server/<id>/``: a
shell, a script run with other variables and a git hook each get a server whose
process is their twin, and none declines the others' commands.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import socket

SERVER_DIR = Path(".helix") / "server"
SOCKET_NAME = "sock"
MAX_MESSAGE = 1 << 20
# sockaddr_un holds 108 bytes with the terminating NUL; longer paths cannot be bound.
MAX_SOCKET_PATH = 107


def server_dir(root: Path) -> Path:
    """The repository's folder of servers, one sub-folder per environment."""
    return root / SERVER_DIR


def place(root: Path, env: str) -> Path:
    """The folder of the server of environment ``env``."""
    return server_dir(root) / env


def places(root: Path) -> list[tuple[str, Path]]:
    """``(environment, folder)`` of every server folder the repository has."""
    try:
        found = sorted(p for p in server_dir(root).iterdir() if p.is_dir())
    except OSError:
        return []
    return [(p.name, p) for p in found]


def socket_path(root: Path, env: str) -> Path:
    return place(root, env) / SOCKET_NAME


def pid_path(root: Path, env: str) -> Path:
    return place(root, env) / "pid"


def starting_path(root: Path, env: str) -> Path:
    """Held by the server being started for ``server = "auto"`` until it listens."""
    return place(root, env) / "starting"


def log_path(root: Path, env: str) -> Path:
    return place(root, env) / "log"


def connect(path: Path, timeout: float) -> socket.socket:
    """A connection to the server at ``path``; ``OSError`` when none answers there."""
    import socket

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        sock.settimeout(timeout)
        sock.connect(str(path))
    except BaseException:
        sock.close()
        raise
    return sock


def send(sock: socket.socket, message: dict[str, Any], fds: list[int] | None = None) -> None:
    import json
    import socket

    data = json.dumps(message).encode()
    if len(data) > MAX_MESSAGE:
        raise OSError(f"message of {len(data)} bytes is too large for the helix server")
    if fds:
        socket.send_fds(sock, [data], fds)
    else:
        sock.sendall(data)


def receive(sock: socket.socket, max_fds: int = 0) -> tuple[dict[str, Any] | None, list[int]]:
    """The next message and the fds that came with it; ``(None, [])`` at end of stream."""
    import json
    import socket

    if max_fds:
        data, fds, _flags, _addr = socket.recv_fds(sock, MAX_MESSAGE, max_fds)
    else:
        data, fds = sock.recv(MAX_MESSAGE), []
    if not data:
        for fd in fds:
            os.close(fd)
        return None, []
    try:
        message = json.loads(data)
    except ValueError:
        message = None
    if not isinstance(message, dict):
        for fd in fds:
            os.close(fd)
        raise OSError("a malformed message reached the helix server connection")
    return message, list(fds)
