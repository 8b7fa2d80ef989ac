"""Where the server lives, and the messages between client and server.

One ``SOCK_SEQPACKET`` Unix socket: message boundaries are kept, and file descriptors
travel with a message. The client sends one request (JSON, with its fds 0, 1 and 2); the
server answers with JSON messages: ``{"pid": N}`` when the child started, then
``{"exit": code}`` when it ended, or ``{"declined": reason}`` instead of both.
``{"ping": true}`` and ``{"stop": true}`` are the requests of ``helix server status`` and
``helix server stop``. Imports only the standard library, and ``json`` and ``socket``
only when a message is exchanged: every ``helix`` command asks for ``socket_path`` before
click loads, and most find no server.
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
    return root / SERVER_DIR


def socket_path(root: Path) -> Path:
    return server_dir(root) / SOCKET_NAME


def pid_path(root: Path) -> Path:
    return server_dir(root) / "pid"


def starting_path(root: Path) -> Path:
    """Held by the server being started for ``server = "auto"`` until it listens."""
    return server_dir(root) / "starting"


def log_path(root: Path) -> Path:
    return server_dir(root) / "log"


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
