"""The ``helix`` process's side: hand the command to the repository's server, if any.

Runs before click is imported and imports only the standard library, so a command that
the server takes costs the caller an interpreter start and a few milliseconds. Any
failure to reach the server means "run it here": nothing is lost by not being served.
"""

from __future__ import annotations

import os
import signal
import sys
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from helixvcs.cli.warm.protocol import connect, receive, send, socket_path

if TYPE_CHECKING:
    import socket
    from types import FrameType

# Commands that manage the server, serve for a long time, or set up the repository.
NOT_SERVED = frozenset({"server", "ui", "init", "hooks", "demo"})
# Options of the ``helix`` group that take a value (``--repo PATH``).
_GROUP_VALUES = frozenset({"--repo", "--sample", "--seed", "--precision"})
_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


def command_of(argv: list[str]) -> tuple[str | None, str]:
    """The subcommand's name (None for ``helix --help`` and the like) and ``--repo``."""
    repo, i = ".", 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return (argv[i + 1] if i + 1 < len(argv) else None), repo
        if arg in _GROUP_VALUES:
            if arg == "--repo" and i + 1 < len(argv):
                repo = argv[i + 1]
            i += 2
            continue
        if arg.startswith("--repo="):
            repo = arg.partition("=")[2]
        elif not arg.startswith("-"):
            return arg, repo
        i += 1
    return None, repo


def repo_root(start: str) -> Path | None:
    """The nearest folder at or above ``start`` holding ``.git`` (as ``find_root``)."""
    try:
        folder = Path(start).expanduser().resolve()
    except OSError:
        return None
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def serve(argv: list[str]) -> int | None:
    """The exit code of ``argv`` run by the repository's server; None to run it here.

    The server is the one of this process's environment (``environment_id``). With
    ``server = "auto"`` (the default) a command that finds none starts one in the
    background, whoever runs it (a shell, a script, a git hook), and runs here."""
    mode = os.environ.get("HELIX_SERVER", "")
    if mode == "0" or sys.platform != "linux":
        return None
    command, repo = command_of(argv)
    if command is None or command in NOT_SERVED:
        return None
    root = repo_root(repo)
    if root is None:
        return None
    from helixvcs.cli.warm.process import describe_process, environment_id

    process = describe_process()
    env = environment_id(process)
    path = socket_path(root, env)
    if not path.exists():
        _start(root, env, explain=mode == "explain")
        return None
    return _request(root, env, argv, process, explain=mode == "explain")


def _start(root: Path, env: str, explain: bool) -> None:
    """``server = "auto"``: start this environment's server in the background."""
    if not _auto(root):
        _say(explain, "none running; running here")
        return
    from helixvcs.cli.warm.control import AUTO_IDLE, socket_too_long, spawn_once, unservable

    why = unservable(root, env) or socket_too_long(root, env)
    if why is not None:  # and no server is expected: its hot tier is not coming
        _say(explain, f"none for this environment ({why}); running here")
        return
    started = spawn_once(root, env, AUTO_IDLE)
    from helixvcs import servers

    servers.expect_one()  # started, or starting: its hot tier will be there soon
    _say(explain, "starting one (server = \"auto\"); running here" if started
         else "none running yet; running here")  # fmt: skip


def _auto(root: Path) -> bool:
    """``server = "auto"`` (the default) in an initialized repository; a config that does
    not parse is reported by the command itself."""
    config = root / ".helix" / "config.toml"
    try:
        text = config.read_text(encoding="utf-8")
    except OSError:
        return False
    if "server" not in text:
        return True
    import tomllib

    try:
        return tomllib.loads(text).get("server", "auto") == "auto"
    except (tomllib.TOMLDecodeError, ValueError):
        return False


def _request(
    root: Path, env: str, argv: list[str], process: dict[str, Any], explain: bool
) -> int | None:
    try:
        sock = connect(socket_path(root, env), timeout=5.0)
    except OSError:
        _say(explain, "not running (a stale socket)")
        _start(root, env, explain)
        return None
    with sock:
        try:
            send(sock, {"argv": argv, "cwd": os.getcwd(), **process}, _stdio())
            reply, _ = receive(sock)
        except OSError as error:
            _say(True, f"no answer ({error}); running here")
            return None
        if reply is None or "pid" not in reply:
            why = reply.get("declined", "no answer") if reply else "no answer"
            _say(True, f"declined: {why}; running here")  # never silently
            return None
        child = int(reply["pid"])
        _say(explain, f"served by process {child}")
        return _wait(sock, child)


def _wait(sock: socket.socket, child: int) -> int:
    """Forward signals to the child until the server reports how it ended."""

    def forward(signum: int, _frame: FrameType | None) -> None:
        with suppress(OSError):  # it has just ended; the exit message is on its way
            os.kill(child, signum)

    for signum in _FORWARDED:
        signal.signal(signum, forward)
    sock.settimeout(None)
    while True:
        try:
            reply, _ = receive(sock)
        except InterruptedError:
            continue
        except OSError as error:
            reply = None
            print(f"helix: lost the helix server ({error})", file=sys.stderr)
        if reply is None:
            print(
                f"helix: the helix server stopped while process {child} ran the command; "
                "its outcome is unknown (see `helix log`)",
                file=sys.stderr,
            )
            return 1
        if "exit" in reply:
            return int(reply["exit"])


def _stdio() -> list[int]:
    """Our fds 0, 1 and 2 for the child; ``/dev/null`` in place of a closed one."""
    fds = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
            fds.append(fd)
        except OSError:
            fds.append(os.open(os.devnull, os.O_RDWR))
    return fds


def _say(explain: bool, text: str) -> None:
    if explain:
        print(f"helix: server: {text}", file=sys.stderr)
