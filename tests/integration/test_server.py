"""``helix server``: real server processes, real clients, real signals.

Every command here is a real ``python -m helixvcs`` process, as a user's shell would
start it; ``HELIX_SERVER=explain`` makes the client say on stderr whether the server ran
the command, which is what these tests check besides the command's own output.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import GitRepo
from tests.integration.toy import TOTAL, computed

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="helix server is Linux-only")

SERVED = "helix: server: served by process"


def helix(
    repo: GitRepo,
    *args: str,
    env: dict[str, str] | None = None,
    code: int | None = 0,
    stdin: int | None = None,
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "helixvcs", "--repo", str(repo.path), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "HELIX_SERVER": "explain", **(env or {})},
        stdin=stdin,
        timeout=120,
    )
    if code is not None:
        assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    return result


def run_json(repo: GitRepo, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = helix(repo, "run", "--json", *args, env=env)
    return {"doc": json.loads(result.stdout), "stderr": result.stderr}


def server_state(repo: GitRepo) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(helix(repo, "server", "status", "--json").stdout)
    return doc


@contextmanager
def _serving(repo: GitRepo, workflow: str | None = None) -> Iterator[int]:
    """A server for ``repo`` (with ``workflow`` committed first), stopped afterwards;
    yields its pid."""
    if workflow is not None:
        repo.gen({"workflow.py": workflow}, commit="another workflow")
    assert "helix server ready" in helix(repo, "server", "start", "--idle", "5m").stdout
    pid = server_state(repo)["pid"]
    try:
        yield pid
    finally:
        helix(repo, "server", "stop", code=None)
        _wait_gone(pid)


@pytest.fixture
def served(toy: GitRepo) -> Iterator[GitRepo]:
    """The toy repository with a server running (stopped, or killed, afterwards)."""
    with _serving(toy):
        yield toy


def _sockets(repo: GitRepo) -> list[Path]:
    """The sockets of the repository's servers (one folder per environment)."""
    return sorted((repo.path / ".helix" / "server").glob("*/sock"))


def _wait_for_socket(repo: GitRepo, count: int = 1, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while len(_sockets(repo)) < count:
        assert time.monotonic() < deadline, "the server never started"
        time.sleep(0.1)


def _wait_gone(pid: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    raise AssertionError(f"process {pid} still running after {timeout} s")


def test_served_runs_see_every_edit_and_agree_with_a_fresh_process(served: GitRepo) -> None:
    first = run_json(served)
    assert SERVED in first["stderr"]
    assert first["doc"]["metrics"]["total"] == TOTAL
    assert computed(first["doc"]) >= {"raw", "xs", "ys", "scaled", "shifted", "total"}

    # a repository module is imported afresh by every child: the edit is seen
    served.edit("toylib.py", "SHIFT = 1.0", "SHIFT = 2.0")
    second = run_json(served)
    assert SERVED in second["stderr"]
    assert computed(second["doc"]) == {"shifted", "total"}
    assert second["doc"]["metrics"]["total"] == TOTAL + 3

    # a process of its own agrees: nothing left to compute, same metric
    fresh = run_json(served, env={"HELIX_SERVER": "0"})
    assert SERVED not in fresh["stderr"]
    assert computed(fresh["doc"]) == set()
    assert fresh["doc"]["metrics"] == second["doc"]["metrics"]
    state = server_state(served)
    assert state["running"] is True and state["commands_running"] == 0
    assert state["served"] == 2 and state["declined"] == 0
    assert state["pid"] != os.getpid()


def test_exit_codes_and_messages_are_those_of_a_fresh_process(served: GitRepo) -> None:
    bad = helix(served, "show", "no_such_operator", code=2)
    assert SERVED in bad.stderr
    errors = [line for line in bad.stderr.splitlines() if not line.startswith("helix: server")]
    assert len(errors) == 1 and "no_such_operator" in errors[0]

    served.edit("workflow.py", "return [r[1] for r in raw]", "raise ValueError('bad row')")
    failed = helix(served, "run", code=1)
    assert SERVED in failed.stderr
    assert "ValueError: bad row" in failed.stderr and "Traceback" in failed.stderr
    fresh = helix(served, "run", env={"HELIX_SERVER": "0"}, code=1)
    assert "ValueError: bad row" in fresh.stderr


def test_another_environment_gets_a_server_of_its_own(served: GitRepo) -> None:
    first = server_state(served)["pid"]
    other = {"HELIX_TEST_SETTING": "1"}
    result = run_json(served, env=other)
    assert 'starting one (server = "auto"); running here' in result["stderr"]
    assert result["doc"]["metrics"]["total"] == TOTAL
    _wait_for_socket(served, count=2)
    assert SERVED in helix(served, "status", env=other).stderr
    second = json.loads(helix(served, "server", "status", "--json", env=other).stdout)
    assert second["pid"] != first and server_state(served)["declined"] == 0
    assert [o["pid"] for o in server_state(served)["others"]] == [second["pid"]]
    # ignored variables (read at run time only) do not matter
    assert SERVED in helix(served, "status", env={"PWD": "/elsewhere", "SHLVL": "7"}).stderr
    stopped = json.loads(helix(served, "server", "stop", "--json").stdout)
    assert stopped["servers"] == 2
    _wait_gone(second["pid"])


def test_a_changed_module_makes_the_server_stop(served: GitRepo) -> None:
    import helixvcs.cli.warm.protocol as preloaded

    file = Path(preloaded.__file__)
    before = file.stat()
    try:
        os.utime(file, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
    except OSError:
        pytest.skip("the installed helixvcs is read-only here")
    try:
        pid = server_state(served)["pid"]
        result = run_json(served)
        assert f"declined: {file} changed" in result["stderr"]
        assert result["doc"]["metrics"]["total"] == TOTAL
        # said without HELIX_SERVER=explain too: a decline is never silent
        _wait_gone(pid)
        assert not _sockets(served)
        assert "no helix server is running" in helix(served, "server", "status").stdout
    finally:
        os.utime(file, ns=(before.st_atime_ns, before.st_mtime_ns))


def _slow_workflow(repo: GitRepo, marker: Path) -> None:
    repo.edit(
        "workflow.py",
        "    return [r[0] for r in raw]",
        f"    open({str(marker)!r}, 'w').close()\n"
        "    time.sleep(60)\n"
        "    return [r[0] for r in raw]",
    )


def _start_run(repo: GitRepo, marker: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "helixvcs", "--repo", str(repo.path), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HELIX_SERVER": "explain"},
    )
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the operator never started"
        time.sleep(0.05)
    return process


def _last_run_status(repo: GitRepo) -> str:
    runs = json.loads(helix(repo, "log", "--json", env={"HELIX_SERVER": "0"}).stdout)
    return str(runs[0]["status"])


def test_ctrl_c_reaches_the_command(served: GitRepo, tmp_path: Path) -> None:
    marker = tmp_path / "started"
    _slow_workflow(served, marker)
    process = _start_run(served, marker)
    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert SERVED in err and "interrupted" in err
    assert _last_run_status(served) == "interrupted"


def test_a_killed_client_interrupts_its_command(served: GitRepo, tmp_path: Path) -> None:
    marker = tmp_path / "started"
    _slow_workflow(served, marker)
    process = _start_run(served, marker)
    process.kill()
    process.communicate(timeout=10)
    deadline = time.monotonic() + 60
    while server_state(served)["commands_running"]:
        assert time.monotonic() < deadline, "the command outlived its client"
        time.sleep(0.1)
    assert _last_run_status(served) == "interrupted"


DRAWS = """\
import numpy as np

from helixvcs import Workflow

wf = Workflow("draws")


@wf.metric
def draw(salt=0):
    return float(np.random.random())
"""


def test_numpy_draws_fresh_random_numbers_in_every_child(toy: GitRepo) -> None:
    with _serving(toy, DRAWS):
        draws = []
        for salt in (1, 2, 3):
            toy.edit("workflow.py", f"salt={salt - 1}", f"salt={salt}")
            result = run_json(toy)
            assert SERVED in result["stderr"]
            draws.append(result["doc"]["metrics"]["draw"])
        assert len(set(draws)) == 3, draws


@pytest.mark.slow
def test_idle_timeout_stale_socket_and_restart(toy: GitRepo) -> None:
    config = toy.path / ".helix" / "config.toml"
    config.write_text(config.read_text().replace('server = "auto"', 'server = "off"'))
    helix(toy, "server", "start", "--idle", "1s")
    pid = server_state(toy)["pid"]
    _wait_gone(pid)
    assert not _sockets(toy)

    helix(toy, "server", "start")
    pid = server_state(toy)["pid"]
    os.kill(pid, signal.SIGKILL)  # leaves its socket behind
    _wait_gone(pid)
    result = run_json(toy, env={"HELIX_SERVER": "explain"})
    assert "not running (a stale socket)" in result["stderr"]
    assert "none running; running here" in result["stderr"]
    assert result["doc"]["metrics"]["total"] == TOTAL
    assert "no helix server is running" in helix(toy, "server", "status").stdout

    again = json.loads(helix(toy, "server", "start", "--json").stdout)
    assert again["started"] is True and again["pid"] != pid
    assert "already running" in helix(toy, "server", "start").stdout
    assert SERVED in helix(toy, "status").stderr
    stopped = json.loads(helix(toy, "server", "stop", "--json").stdout)
    assert stopped["stopped"] is True and stopped["served"] == 1
    _wait_gone(again["pid"])
    assert "no helix server is running" in helix(toy, "server", "stop").stdout


def test_server_start_needs_an_initialized_repository(git_repo: GitRepo) -> None:
    result = helix(git_repo, "server", "start", code=2)
    assert "run `helix init` first" in result.stderr
    assert "Traceback" not in result.stderr
    bad = helix(git_repo, "server", "start", "--idle", "soon", code=2)
    assert "bad time budget 'soon'" in bad.stderr


SETTINGS = """\
import os

from helixvcs import Workflow

wf = Workflow("settings")


@wf.metric
def niceness():
    return float(os.nice(0))


@wf.metric
def umask():
    mask = os.umask(0)
    os.umask(mask)
    return float(mask)
"""


def test_a_served_command_takes_on_the_callers_umask(toy: GitRepo) -> None:
    command = [sys.executable, "-m", "helixvcs", "--repo", str(toy.path), "run", "--json"]
    with _serving(toy, SETTINGS):

        def shell(*prefix: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [*prefix, *command],
                capture_output=True,
                text=True,
                env={**os.environ, "HELIX_SERVER": "explain"},
                timeout=120,
            )

        done = shell("sh", "-c", 'umask 027 && exec "$@"', "sh")
        assert done.returncode == 0, done.stderr
        assert SERVED in done.stderr
        metrics = json.loads(done.stdout)["metrics"]
        assert metrics == {"niceness": float(os.nice(0)), "umask": float(0o027)}
        # another priority is another environment: it gets a server started at it
        nicer = shell("nice", "-n", "7")
        assert SERVED not in nicer.stderr and "starting one" in nicer.stderr
        assert nicer.returncode == 0, nicer.stderr
        _wait_for_socket(toy, count=2)
        again = shell("nice", "-n", "7")
        assert SERVED in again.stderr
        others = server_state(toy)["others"]
        assert [os.getpriority(os.PRIO_PROCESS, o["pid"]) for o in others] == [os.nice(0) + 7]


def test_concurrent_served_commands_each_run_in_a_child(served: GitRepo) -> None:
    command = [sys.executable, "-m", "helixvcs", "--repo", str(served.path), "run", "--json"]
    env = {**os.environ, "HELIX_SERVER": "explain"}
    processes = [
        subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        for _ in range(3)
    ]
    docs, children = [], set()
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        assert SERVED in err
        children.add(err.split(SERVED)[1].split()[0])
        docs.append(json.loads(out))
    assert len(children) == 3
    assert {d["metrics"]["total"] for d in docs} == {TOTAL}
    assert len({d["run_id"] for d in docs}) == 3
    assert server_state(served)["served"] == 3


def _spare(repo: GitRepo, other_than: int | None = None, timeout: float = 30.0) -> int:
    """The server's spare child, once there is one (``other_than``: a new one)."""
    deadline = time.monotonic() + timeout
    while True:
        spare = server_state(repo)["spare"]
        if spare is not None and spare != other_than:
            return int(spare)
        assert time.monotonic() < deadline, "the server made no spare"
        time.sleep(0.05)


def _parent(pid: int) -> int:
    """The parent's process id; 0 for a process that has ended."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat.rsplit(")", 1)[1].split()[1])


def test_a_spare_forked_ahead_runs_the_next_command_then_another_is_made(
    served: GitRepo,
) -> None:
    server = server_state(served)["pid"]
    spare = _spare(served)
    assert _parent(spare) == server  # forked by the server before any command came

    first = run_json(served)
    assert f"{SERVED} {spare}" in first["stderr"]  # the spare ran it: no fork on its path
    assert first["doc"]["metrics"]["total"] == TOTAL
    _wait_gone(spare)  # a spare runs one command, then ends like any child

    second_spare = _spare(served, other_than=spare)
    served.edit("toylib.py", "SHIFT = 1.0", "SHIFT = 2.0")  # the spare imported no repo code
    second = run_json(served)
    assert f"{SERVED} {second_spare}" in second["stderr"]
    assert computed(second["doc"]) == {"shifted", "total"}
    assert second["doc"]["metrics"]["total"] == TOTAL + 3

    last = _spare(served, other_than=second_spare)
    helix(served, "server", "stop")
    _wait_gone(last)  # stopping the server ends its spare: nothing is left running
    _wait_gone(server)


def test_a_killed_server_leaves_no_spare_behind(toy: GitRepo) -> None:
    with _serving(toy) as server:
        spare = _spare(toy)
        os.kill(server, signal.SIGKILL)
        _wait_gone(server)
        _wait_gone(spare, timeout=10.0)  # it saw its socket's end of stream and left
        done = helix(toy, "run", "--json", env={"HELIX_SERVER": "0"})
        assert json.loads(done.stdout)["metrics"]["total"] == TOTAL


def _servers_of(root: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"helixvcs.cli.warm_server" in argv and str(root).encode() in argv:
            found.append(int(entry.name))
    # a server's children (its spare, commands it runs) share its command line
    return [pid for pid in found if _parent(pid) not in found]


def test_server_auto_starts_one_in_the_background(toy: GitRepo) -> None:
    config = toy.path / ".helix" / "config.toml"
    text = config.read_text()
    assert 'server = "auto"' in text  # what `helix init` writes
    config.write_text(text.replace('server = "auto"', 'server = "always"'))
    bad = helix(toy, "run", code=2)
    assert "server = 'always'" in bad.stderr and "Traceback" not in bad.stderr
    config.write_text(text.replace('server = "auto"', 'server = "off"'))
    assert "none running; running here" in helix(toy, "status").stderr
    assert not _sockets(toy)

    config.write_text(text)  # auto, from a script as well as from a terminal
    first = helix(toy, "status")
    assert 'starting one (server = "auto"); running here' in first.stderr
    second = helix(toy, "status")  # while it preloads, or served by it
    assert "starting one" not in second.stderr
    _wait_for_socket(toy)
    try:
        assert SERVED in helix(toy, "status").stderr
        assert len(_servers_of(toy.path)) == 1
        assert not list((toy.path / ".helix" / "server").glob("*/starting"))
        quiet = helix(toy, "status", env={"HELIX_SERVER": ""})
        assert "helix: server" not in quiet.stderr  # served silently
    finally:
        pid = server_state(toy)["pid"]
        helix(toy, "server", "stop")
        _wait_gone(pid)


def test_a_repository_too_deep_for_a_socket_says_why_and_starts_nothing(
    tmp_path: Path,
) -> None:
    """A Unix socket's path has at most 107 bytes: deeper, no server can listen, so the
    command says why (when asked) and runs here, and none is started or expected."""
    from tests.integration.toy import FILES

    deep = GitRepo(tmp_path / ("d" * 60) / ("e" * 60))
    deep.path.mkdir(parents=True)
    deep.git("init", "-q", "-b", "main")
    deep.gen({**FILES, ".gitignore": ".helix/\n"}, commit="toy")
    helix(deep, "init")
    for _ in range(2):
        done = helix(deep, "status")
        assert "is longer than a Unix socket path may be" in done.stderr
        assert "running here" in done.stderr and "starting one" not in done.stderr
    assert not list((deep.path / ".helix").glob("server/*/starting"))
    assert not _servers_of(deep.path)
    refused = helix(deep, "server", "start", code=2)
    assert "move the repository to a shorter path" in refused.stderr


def test_servers_are_bounded_per_user_least_recently_used_first(
    git_repo: GitRepo, tmp_path: Path
) -> None:
    from tests.integration.toy import FILES

    repos = []
    for name in ("one", "two"):
        repo = GitRepo(tmp_path / name)
        repo.path.mkdir()
        repo.git("init", "-q", "-b", "main")
        repo.gen({**FILES, ".gitignore": ".helix/\n"}, commit="toy")
        helix(repo, "init")
        repos.append(repo)
    bound = {"HELIX_MAX_SERVERS": "1"}
    one, two = repos
    helix(one, "server", "start", env=bound)
    first = server_state(one)["pid"]
    helix(two, "status", env=bound)  # starts one for `two`: `one`'s is asked to stop
    _wait_gone(first)
    _wait_for_socket(two)
    try:
        assert SERVED in helix(two, "status", env=bound).stderr
        assert "no helix server is running" in helix(one, "server", "status").stdout
    finally:
        helix(two, "server", "stop")


def test_the_socket_and_its_folder_are_owner_only_whatever_the_umask(toy: GitRepo) -> None:
    import stat

    started = subprocess.run(
        [sys.executable, "-m", "helixvcs", "--repo", str(toy.path), "server", "start"],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=lambda: os.umask(0),
    )
    assert started.returncode == 0, started.stderr
    pid = server_state(toy)["pid"]
    try:
        (sock,) = _sockets(toy)
        assert stat.S_IMODE(sock.stat().st_mode) == 0o600
        for folder in (sock.parent, toy.path / ".helix" / "server"):
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
        assert stat.S_IMODE((sock.parent / "pid").stat().st_mode) == 0o600
    finally:
        helix(toy, "server", "stop")
        _wait_gone(pid)


PRELOADED = """\
import sys
from pathlib import Path
from helixvcs.cli.warm_server import preload
preload(Path(sys.argv[1]))
s3 = sys.modules.get("helixvcs.store.s3")
warmed = ["s3-model"] if s3 is not None and s3._loaders else []  # S3's service model read
print(" ".join(sorted(n for n in ("fsspec", "s3fs") if n in sys.modules) + warmed))
"""


def test_a_repository_with_an_s3_remote_gets_s3fs_preloaded(toy: GitRepo) -> None:
    """A served push or pull then skips importing s3fs and botocore (~0.25 s), and reading
    S3's service model (~0.1 s)."""

    def preloaded() -> str:
        done = subprocess.run(
            [sys.executable, "-c", PRELOADED, str(toy.path)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return done.stdout.strip()

    assert preloaded() == ""  # no remote: neither
    (toy.path / ".helixremotes").write_text('[remote.origin]\nurl = "/tmp/elsewhere"\n')
    assert preloaded() == ""  # a folder needs neither
    (toy.path / ".helixremotes").write_text('[remote.origin]\nurl = "s3://bucket/helix"\n')
    assert preloaded() == "fsspec s3fs s3-model"


NICE_LIBRARY = """\
import os
from pathlib import Path

Path(os.environ["NICE_RECORD"]).write_text(str(os.nice(0)))
"""

NICE_WORKFLOW = """\
import os

import nicelib  # noqa: F401  (outside the repository: preloaded by the server)
from helixvcs import Workflow

wf = Workflow("nice")


@wf.metric
def niceness():
    return float(os.nice(0))
"""


def test_the_preload_yields_to_commands_and_served_commands_keep_the_callers_priority(
    toy: GitRepo, tmp_path: Path
) -> None:
    """The server preloads on a thread of lower priority (the command that started it runs
    meanwhile); the processes it forks for commands have the caller's."""
    library = tmp_path / "lib"
    library.mkdir()
    (library / "nicelib.py").write_text(NICE_LIBRARY)
    record = tmp_path / "preloaded-at"
    env = {"PYTHONPATH": str(library), "NICE_RECORD": str(record)}
    toy.gen({"workflow.py": NICE_WORKFLOW}, commit="a workflow with a library")
    assert "helix server ready" in helix(toy, "server", "start", "--idle", "5m", env=env).stdout
    pid = json.loads(helix(toy, "server", "status", "--json", env=env).stdout)["pid"]
    try:
        assert int(record.read_text()) == min(19, os.nice(0) + 10)
        assert os.getpriority(os.PRIO_PROCESS, pid) == os.nice(0)  # the forking thread
        done = run_json(toy, env=env)
        assert SERVED in done["stderr"]
        assert done["doc"]["metrics"] == {"niceness": float(os.nice(0))}
    finally:
        helix(toy, "server", "stop", env=env, code=None)
        _wait_gone(pid)
