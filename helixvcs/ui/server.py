"""Serving the application: which address, the socket, uvicorn, and opening a browser.

The UI is for the person at this machine, so it listens on the loopback interface
(127.0.0.1) unless ``--host`` names another address on the command line, where it is
visible; that prints a warning, and every request then needs the server's token (see
``app``). It answers only to the ``Host`` names of the address it serves on, and to those
given with ``--allow-host``. ``HELIX_UI_HOST`` may pick another loopback
address (``::1``, ``localhost``) but never anything else: a setting inherited from the
environment must not expose the repository by surprise.

The socket is bound here, before uvicorn starts, so that a port in use or an address that
does not exist is one line and exit 2, like every other bad input.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

from helixvcs.errors import UserInputError

if TYPE_CHECKING:
    from helixvcs.repo import Repo

LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 8421
HOST_VARIABLE = "HELIX_UI_HOST"
_LOCALHOST = "localhost"


@dataclass(frozen=True)
class Address:
    host: str  # as bound
    port: int
    loopback: bool

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"


def choose_host(explicit: str | None) -> tuple[str, bool]:
    """The host to bind and whether it is a loopback address; refuses a non-loopback host
    that did not come from ``--host``."""
    if explicit:
        return _literal(explicit), is_loopback(explicit)
    wanted = os.environ.get(HOST_VARIABLE, "").strip() or LOOPBACK
    if not is_loopback(wanted):
        raise UserInputError(
            f"{HOST_VARIABLE}={wanted} is not a loopback address; helix ui serves another "
            f"interface only when asked on the command line: helix ui --host {wanted}"
        )
    return _literal(wanted), True


def is_loopback(host: str) -> bool:
    if host == _LOCALHOST:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> tuple[socket.socket, Address]:
    """A listening socket on ``host:port`` (port 0: any free port)."""
    if not 0 <= port <= 65535:
        raise UserInputError(f"--port {port} is not a port number; give 1-65535 (or 0: any)")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(64)
    except OSError as exc:
        sock.close()
        why = exc.strerror or str(exc)
        raise UserInputError(
            f"cannot serve on {host}:{port}: {why}; pick another port with --port"
        ) from None
    except BaseException:
        sock.close()
        raise
    return sock, Address(host, sock.getsockname()[1], is_loopback(host))


def serve(
    repo: Repo,
    sock: socket.socket,
    address: Address,
    *,
    allowed_hosts: Collection[str] = (),
    open_browser: bool = False,
    say: Callable[[str], None] = print,
) -> None:
    """Serve ``repo`` on the bound ``sock`` until interrupted.

    ``allowed_hosts``: more ``Host`` names to answer to (``--allow-host``), beside the
    bound address (and, on loopback, the names of this machine)."""
    import uvicorn

    from helixvcs.ui.app import Guard, create_app

    hosts = _names(address) if address.loopback else {address.host}
    hosts |= {_literal(h) for h in allowed_hosts}
    token = secrets.token_urlsafe(24)
    app = create_app(repo, Guard(token, frozenset(hosts), everywhere=not address.loopback))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    url = f"{address.url}?token={token}"
    say(
        f"helix ui: {url} (Compare and Explain import the workflow code of the versions "
        "they compare; Ctrl-C to stop)"
    )
    if open_browser:
        import webbrowser

        threading.Timer(0.5, webbrowser.open, [url]).start()
    server.run(sockets=[sock])


def _literal(host: str) -> str:
    host = host.strip("[]")
    return LOOPBACK if host == _LOCALHOST else host


def _names(address: Address) -> set[str]:
    """The ``Host`` names a browser on this machine uses for a loopback address."""
    return {address.host, _LOCALHOST, LOOPBACK, "::1"}
