"""The server: preload, then fork one child per command (see the package docstring).

The server itself stays single-threaded and never runs a command, opens the index or
imports the workflow: every child starts from the same clean, warm state. Its loop waits
on the listening socket and on one pidfd per running child; when a child ends, its exit
status goes to the client that asked. It exits after ``idle`` seconds without a command,
on ``helix server stop``, on SIGTERM, when a module it imported changed on disk, or when
its socket was removed or replaced (``helix server start`` of another server).

While no command runs, the server keeps one *spare*: a child forked ahead of time that
has done what every command does first whatever it is (its DuckDB engine), and waits for
a request on a socket pair. A request goes to the spare, so the fork and that preparation
are off the command's path (~40 ms of a 100 ms command); a request that finds no spare
(another command took it, or it is still being made) gets a child forked for it, as
before. A spare holds nothing of any command: the request brings the client's folder,
environment and descriptors, as to a freshly forked child.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import pkgutil
import select
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helixvcs import servers as registry
from helixvcs.cli.leave import exit_code, leave
from helixvcs.cli.warm.client import command_of, repo_root
from helixvcs.cli.warm.fingerprint import Twin
from helixvcs.cli.warm.process import describe_process, environment_id
from helixvcs.cli.warm.protocol import (
    pid_path,
    place,
    receive,
    send,
    socket_path,
    starting_path,
)
from helixvcs.hashing.files import write_atomically

# Imported lazily by helixvcs, eagerly here: the libraries every command needs.
# skops (when installed) writes fitted estimators to the store: ~0.8 s to import
_LIBRARIES = (
    "duckdb",
    "pyarrow",
    "numpy",
    "zstandard",
    "dulwich.repo",
    "dulwich.config",  # imported by ``dulwich.repo.Repo`` on first use
    "dulwich.worktree",
    "networkx",
    "rich",
    "skops.io",
)
# Never preloaded: what only `helix ui`, `helix demo` and the dask executor need.
_SKIPPED = ("helixvcs.ui", "helixvcs.demo", "helixvcs.exec.dask_executor", "helixvcs.__main__")


def log(text: str) -> None:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    print(f"{stamp} [{os.getpid()}] {text}", file=sys.stderr, flush=True)


# ---- preloading -------------------------------------------------------------------------


def preload(root: Path) -> list[str]:
    """Import helixvcs's commands, their libraries and the workflow's; the names imported."""
    before = set(sys.modules)
    for name in _LIBRARIES:
        _try_import(name)
    import helixvcs

    for info in pkgutil.walk_packages(helixvcs.__path__, "helixvcs."):
        if not info.name.startswith(_SKIPPED):
            _try_import(info.name)
    for name in _workflow_libraries(root):
        _try_import(name)
    remote_libraries = _remote_libraries(root)
    for name in remote_libraries:
        _try_import(name)
    if "botocore.session" in remote_libraries:
        _warm_s3()
    from helixvcs.graph.cache import warm_resolved
    from helixvcs.hashing.packages import warm_caches
    from helixvcs.hashing.source import warm_module_table

    warm_caches()
    warm_module_table()
    warm_resolved()
    return sorted(set(sys.modules) - before)


PRELOAD_NICENESS = 10
"""How much lower than the server's the priority of its preload is (Linux)."""


def _preload_yielding(root: Path) -> list[str]:
    """``preload`` on a thread of lower priority, so that the command that started the
    server by itself, which runs meanwhile in its own process, gets the CPU first: the
    preload imports what that command imports (2-5 s of CPU), and on two cores it would
    slow the command's operators. Linux keeps a priority per thread: the main thread,
    which forks every command's process, keeps the server's, and the commands theirs."""
    names: list[list[str]] = []
    failed: list[BaseException] = []

    def work() -> None:
        if sys.platform == "linux":  # elsewhere the id would name a process, not a thread
            with suppress(OSError):
                lower = min(19, os.nice(0) + PRELOAD_NICENESS)
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), lower)
        try:
            names.append(preload(root))
        except BaseException as error:  # raised again on the main thread
            failed.append(error)

    thread = threading.Thread(target=work, name="helix-preload")
    thread.start()
    thread.join()
    if failed:
        raise failed[0]
    return names[0]


def _try_import(name: str) -> None:
    try:
        importlib.import_module(name)
    except Exception as error:  # a module that needs what is missing here; skip it
        log(f"not preloaded: {name} ({type(error).__name__}: {error})")


def _remote_libraries(root: Path) -> list[str]:
    """The file system libraries of the repository's remotes (``.helixremotes``: s3fs for
    ``s3://``, and fsspec; botocore's client, which pushes and pulls to S3 use), so that
    a served push, pull, or run that loads from a remote does not import them first
    (~0.1-0.25 s). Read as every
    command reads them (``read_remotes``); remotes that do not read, or no fsspec,
    preload nothing: the command that uses them reports it."""
    from helixvcs.errors import UserInputError
    from helixvcs.repo.layout import Layout
    from helixvcs.repo.remotes import read_remotes

    try:
        urls = [spec.url for spec in read_remotes(Layout(root)).specs]
    except UserInputError:
        return []
    protocols = {url.partition("://")[0] for url in urls if "://" in url} - {"file"}
    if not protocols:  # folders: nothing to import (fsspec only when it is used)
        return []
    try:
        from fsspec.registry import known_implementations
    except ImportError:  # without the remote extra
        return []
    classes = [known_implementations.get(p, {}).get("class", "") for p in sorted(protocols)]
    s3 = ["botocore.session", "botocore.config"] if protocols & {"s3", "s3a"} else []
    return ["fsspec", *(c.rpartition(".")[0] for c in classes if c), *s3]


def _warm_s3() -> None:
    """Read S3's service model now (``store.s3.warm``), not in each command's client."""
    try:
        from helixvcs.store.s3 import warm

        warm()
    except Exception as error:  # the command that connects reports what is wrong
        log(f"S3 client not warmed ({type(error).__name__}: {error})")


def _workflow_libraries(root: Path) -> list[str]:
    """Modules the workflow imports, in import order, found in a throwaway fork.

    The workflow runs its module code in the fork only; the server imports what it
    imported from outside the repository (or from a library folder inside it, such as a
    ``.venv/``), never a module of the repository itself. Each is watched for changes.
    """
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the probe
        os.close(read)
        code = 0
        try:
            names = _probe(root)
            os.write(write, json.dumps(names).encode())
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 1 << 16):
        chunks.append(chunk)
    os.close(read)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        log("the workflow could not be imported; preloaded helixvcs only")
        return []
    names = json.loads(b"".join(chunks) or b"[]")
    return [n for n in names if isinstance(n, str)]


def _probe(root: Path) -> list[str]:
    from helixvcs.graph.compile import find_workflow_file
    from helixvcs.graph.loader import load_workflow_module
    from helixvcs.runtime import library_prefixes

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # the module may print; the log is not its place
    before = list(sys.modules)
    load_workflow_module(find_workflow_file(root), root)
    places = library_prefixes()
    inside = os.path.join(os.path.realpath(root), "")
    names = []
    for name in [n for n in sys.modules if n not in set(before)]:
        file = getattr(sys.modules.get(name), "__file__", None)
        if not isinstance(file, str):
            continue
        real = os.path.realpath(file)
        if real.startswith(places) or not real.startswith(inside):  # a .venv/ may be inside
            names.append(name)
    return names


# ---- the loop ---------------------------------------------------------------------------


@dataclass
class Spare:
    """A child forked ahead of a request, waiting on its end of ``sock``."""

    pid: int
    sock: socket.socket

    def discard(self) -> None:
        """Closing our end ends it (it reads end of stream and exits); reap it."""
        self.sock.close()
        with suppress(ChildProcessError, OSError):
            os.waitpid(self.pid, 0)


@dataclass
class Child:
    conn: socket.socket
    pidfd: int
    argv: list[str]
    started: float = field(default_factory=time.monotonic)
    abandoned: bool = False  # its client went away


class Server:
    def __init__(
        self, root: Path, env: str, idle: float, twin: Twin, listener: socket.socket
    ) -> None:
        self.root, self.env, self.idle, self.twin = root, env, idle, twin
        self.listener = listener
        self.children: dict[int, Child] = {}
        self.last_active = time.monotonic()
        self.stopping: str | None = None
        self.served = self.declined = 0
        self.last_declined: str | None = None
        self.started = time.time()
        self.socket_id = _inode(socket_path(root, env))
        self.spare: Spare | None = None

    def loop(self) -> None:
        while True:
            if self.stopping is None:
                self._check_still_ours()
            if self.stopping is not None and not self.children:
                log(f"stopped: {self.stopping}")
                return
            if self.spare is None and self.stopping is None and not self.children:
                self._make_spare()  # idle: made while nobody waits
            if not self.children and time.monotonic() - self.last_active > self.idle:
                self.stop(f"idle for {self.idle:g} s")
                continue
            waits: list[Any] = [c.pidfd for c in self.children.values()]
            waits += [c.conn for c in self.children.values() if not c.abandoned]
            if self.stopping is None:
                waits.append(self.listener)
            try:
                ready, _, _ = select.select(waits, [], [], 1.0)
            except InterruptedError:
                continue
            for item in ready:
                if item is self.listener:
                    self._accept()
                elif isinstance(item, socket.socket):
                    self._abandoned(item)
                else:
                    self._reap(item)

    def stop(self, why: str) -> None:
        if self.stopping is None:
            self.stopping = why
            self.listener.close()
            if self.spare is not None:
                self.spare.discard()
                self.spare = None
            registry.unregister(os.getpid())
            if not registry.running():  # tmpfs is memory: the tier goes with the last server
                from helixvcs.store.hot import clear

                clear()
            if _inode(socket_path(self.root, self.env)) == self.socket_id:
                socket_path(self.root, self.env).unlink(missing_ok=True)
                pid_path(self.root, self.env).unlink(missing_ok=True)

    def _check_still_ours(self) -> None:
        if _inode(socket_path(self.root, self.env)) != self.socket_id:
            self.stop("the socket was removed or replaced")

    def _accept(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        self.last_active = time.monotonic()
        keep = False
        try:
            conn.settimeout(5.0)
            if not _same_user(conn):
                send(conn, {"declined": "another user"})
                return
            request, fds = receive(conn, max_fds=3)
            if request is None:
                return
            keep = self._answer(conn, request, fds)
        except OSError as error:
            log(f"a request failed: {error}")
        finally:
            if not keep:
                conn.close()

    def _answer(self, conn: socket.socket, request: dict[str, Any], fds: list[int]) -> bool:
        """Serve, decline or answer ``request``; True when ``conn`` now belongs to a child."""
        try:
            if request.get("ping"):
                send(conn, self.status())
                return False
            if request.get("stop"):
                self.stop("asked to stop")
                send(conn, {"stopping": True, "commands_running": len(self.children)})
                return False
            why = self.twin.differs(request) if len(fds) == 3 else "no stdin/stdout/stderr"
            why = why or other_repository(request, self.root)
            if why is None and (stale := self.twin.stale()) is not None:
                why = stale
                self.stop(f"{stale}; a new server would import it afresh")
            if why is not None:
                self.declined += 1
                self.last_declined = why
                log(f"declined {request.get('argv')}: {why}")
                send(conn, {"declined": why})
                return False
            self._fork(conn, request, fds)
            return True
        finally:
            for fd in fds:
                os.close(fd)

    def _fork(self, conn: socket.socket, request: dict[str, Any], fds: list[int]) -> None:
        request["env"] = self.twin.environment_for(request["env"])
        pid = self._hand_to_spare(request, fds)
        if pid is None:
            pid = os.fork()
            if pid == 0:
                conn.close()  # the server's, to tell the client how the command ended
                self._close_inherited()
                run_child(self.listener, request, fds)  # never returns
        self.served += 1
        registry.touch(os.getpid())
        self.children[pid] = Child(conn, os.pidfd_open(pid), list(request.get("argv", [])))
        send(conn, {"pid": pid})

    def _hand_to_spare(self, request: dict[str, Any], fds: list[int]) -> int | None:
        """The spare's process id once it has the request; None when there is no spare
        (or it is gone: the request is forked for, nothing is lost)."""
        spare, self.spare = self.spare, None
        if spare is None:
            return None
        try:
            send(spare.sock, request, fds)
        except OSError as error:
            log(f"the spare {spare.pid} did not take a request ({error}); forking one")
            spare.discard()
            return None
        spare.sock.close()
        return spare.pid

    def _make_spare(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            pid = os.fork()
        except OSError as error:
            ours.close()
            theirs.close()
            log(f"no spare: {error}")
            return
        if pid == 0:
            ours.close()
            self._close_inherited()
            run_spare(self.listener, theirs)  # never returns
        theirs.close()
        self.spare = Spare(pid, ours)

    def _close_inherited(self) -> None:
        """In a new child: other clients' connections, and the spare's, are not its own."""
        for other in self.children.values():
            other.conn.close()
            os.close(other.pidfd)
        if self.spare is not None:
            self.spare.sock.close()

    def _abandoned(self, conn: socket.socket) -> None:
        """The client closed its end before the child ended: it was killed, so the child
        is interrupted as the client's own process would have been (SIGINT: the run is
        recorded as interrupted)."""
        pid, child = next((p, c) for p, c in self.children.items() if c.conn is conn)
        child.abandoned = True
        log(f"the client of process {pid} went away; interrupting it")
        with suppress(OSError):
            os.kill(pid, signal.SIGINT)

    def _reap(self, pidfd: int) -> None:
        pid = next(p for p, c in self.children.items() if c.pidfd == pidfd)
        child = self.children.pop(pid)
        os.close(child.pidfd)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        code = 128 - code if code < 0 else code  # killed by a signal: 128 + its number
        seconds = time.monotonic() - child.started
        log(f"served {child.argv} in process {pid}: exit {code} after {seconds:.2f} s")
        with suppress(OSError):  # the client is gone (killed): nobody waits for the code
            send(child.conn, {"exit": code})
        child.conn.close()
        self.last_active = time.monotonic()

    def status(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "root": str(self.root),
            "environment": self.env,
            "started_at": self.started,
            "idle_timeout": self.idle,
            "served": self.served,
            "declined": self.declined,
            "last_declined": self.last_declined,
            "commands_running": len(self.children),
            "spare": self.spare.pid if self.spare is not None else None,
            "modules": len(sys.modules),
            "stopping": self.stopping,
        }


def other_repository(request: dict[str, Any], root: Path) -> str | None:
    """Why ``request`` is not for this server's repository (``--repo``, else the client's
    folder), or None: a server runs commands of its own repository only."""
    try:
        _, repo = command_of([str(a) for a in request.get("argv", [])])
        start = os.path.join(str(request.get("cwd", "")), repo)
    except (TypeError, ValueError):
        return "a request without a repository"
    found = repo_root(start) if os.path.isabs(start) else None
    if found != root:
        return f"a command for another repository ({start}); this server serves {root}"
    return None


def _inode(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _same_user(conn: socket.socket) -> bool:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid == os.getuid()


# ---- the child --------------------------------------------------------------------------


def run_child(listener: socket.socket, request: dict[str, Any], fds: list[int]) -> None:
    """Become the client's twin and run its command; ends the process, never returns."""
    code = 1
    try:
        listener.close()
        _become(request, fds)
        code = _run_command(request)
    except BaseException:  # the command's own errors were reported inside; this is ours
        traceback.print_exc()
    finally:
        leave(code)  # unwinding would run the server's ``finally`` blocks in the child


def run_spare(listener: socket.socket, sock: socket.socket) -> None:
    """A spare: prepare, wait for one request on ``sock``, then be that request's child.

    It leaves quietly when the server closes its end (a stop, a stale server) or dies. It
    ignores the signals the server handles (SIGTERM stops the server, not its spare) until
    it has a command; ``_become`` then sets the defaults a command runs with."""
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    try:
        listener.close()
        with suppress(Exception):  # a command would create it anyway, and report why not
            from helixvcs.index import prepare_engine

            prepare_engine()
        request, fds = receive(sock, max_fds=3)
        sock.close()
    except BaseException:
        os._exit(0)
    if request is None or len(fds) != 3:
        os._exit(0)
    run_child(listener, request, fds)


def _become(request: dict[str, Any], fds: list[int]) -> None:
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD, signal.SIGQUIT):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    settings = request["settings"]
    os.umask(int(settings["umask"]))
    os.nice(int(settings["nice"]) - os.nice(0))  # never negative: the twin check saw to it
    if settings["affinity"] and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, settings["affinity"])
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in request["env"].items()})
    sys.path[:] = [str(p) for p in request["path"]]
    sys.executable = str(request["executable"])
    sys.argv = ["helix", *[str(a) for a in request["argv"]]]
    unbuffered = bool(os.environ.get("PYTHONUNBUFFERED"))
    for stream in (sys.stdout, sys.stderr):
        with suppress(AttributeError, ValueError, OSError):
            stream.reconfigure(  # type: ignore[union-attr]
                line_buffering=stream.isatty() or stream is sys.stderr, write_through=unbuffered
            )
    numpy = sys.modules.get("numpy")
    if numpy is not None:  # a fresh process would have drawn a fresh seed
        numpy.random.seed()


def _run_command(request: dict[str, Any]) -> int:
    from helixvcs.cli.main import main

    try:
        main()
    except SystemExit as done:
        return exit_code(done.code)
    return 0


# ---- start-up ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helixvcs.cli.warm_server")
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--idle", type=float, default=1800.0)
    parser.add_argument("--env", required=True)
    args = parser.parse_args(argv)
    root = args.root.resolve()
    ours = environment_id(describe_process())  # the clients this process is the twin of
    if ours != args.env:  # never serve commands this process is not the twin of
        why = "a server process cannot reproduce this environment (interpreter options)"
        log(f"not starting: {why}")
        write_atomically(place(root, args.env) / "unservable", f"{why}\n".encode())
        starting_path(root, args.env).unlink(missing_ok=True)
        return 3
    path = sys.path[1:]  # sys.path[0] is where `-m` started: not a client's
    sys.path[:] = path
    os.chdir(root)
    began, env = time.monotonic(), dict(os.environ)
    names = _preload_yielding(root)
    twin = Twin.take(path, env)
    _freeze_preloaded()
    listener = _listen(root, ours)
    log(
        f"ready in {time.monotonic() - began:.2f} s: {len(names)} modules preloaded, "
        f"{len(twin.files)} files watched"
    )
    server = Server(root, ours, args.idle, twin, listener)
    # SIGTERM: stop taking commands, let the running ones finish and report their codes.
    signal.signal(signal.SIGTERM, lambda *_: server.stop("terminated"))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the terminal's Ctrl-C is the client's
    server.loop()
    return 0


def _freeze_preloaded() -> None:
    """Put what the preload made out of the cyclic collector's reach (``gc.freeze``) before
    the first fork. A full collection over it takes ~0.17 s (some 200,000 objects), which a
    command's process would otherwise pay whenever one triggers, and in walking it would
    write to every object's header: each child would copy the pages of the whole heap."""
    from helixvcs.exec.driver import host_froze_heap

    gc.collect()
    gc.freeze()
    host_froze_heap()


def _listen(root: Path, env: str) -> socket.socket:
    """Bind under a temporary name and rename into place: a client never finds a socket
    that does not accept yet, and a second server replaces the first atomically."""
    folder = place(root, env)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    staging = folder / f"sock.{os.getpid()}"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(str(staging))
    os.chmod(staging, 0o600)  # owner-only whatever the umask (peers are checked too)
    listener.listen(16)
    os.replace(staging, socket_path(root, env))
    write_atomically(pid_path(root, env), f"{os.getpid()}\n".encode())
    registry.register(os.getpid(), root, env)
    starting_path(root, env).unlink(missing_ok=True)  # commands may start another one now
    return listener


if __name__ == "__main__":
    if sys.platform != "linux":
        print("helix server needs Linux", file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit(main())
