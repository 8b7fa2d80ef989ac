"""The pure parts of ``helix server``: which command a client offers, and twin checks."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from helixvcs.cli.warm.client import command_of, repo_root
from helixvcs.cli.warm.fingerprint import Twin
from helixvcs.cli.warm.process import describe_process


@pytest.mark.parametrize(
    ("argv", "command", "repo"),
    [
        (["run"], "run", "."),
        (["--repo", "/r", "run", "--json"], "run", "/r"),
        (["--repo=/r", "-q", "status"], "status", "/r"),
        (["--sample", "0.1", "--seed", "3", "plan"], "plan", "."),
        (["--json", "--debug", "log"], "log", "."),
        (["--help"], None, "."),
        (["--version"], None, "."),
        ([], None, "."),
        (["--repo", "/r"], None, "/r"),
    ],
)
def test_command_of(argv: list[str], command: str | None, repo: str) -> None:
    assert command_of(argv) == (command, repo)


def test_repo_root_walks_up_to_git(tmp_path: Path) -> None:
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "repo" / "src" / "deep").mkdir(parents=True)
    assert repo_root(str(tmp_path / "repo" / "src" / "deep")) == (tmp_path / "repo").resolve()
    assert repo_root(str(tmp_path)) != (tmp_path / "repo").resolve()


def _twin() -> Twin:
    return Twin.take(sys.path[1:], dict(os.environ))


def test_the_same_process_is_a_twin() -> None:
    assert _twin().differs(describe_process()) is None


def test_differences_are_named(tmp_path: Path) -> None:
    twin = _twin()
    me = describe_process()
    assert "HELIX_X" in str(twin.differs({**me, "env": {**me["env"], "HELIX_X": "1"}}))
    assert twin.differs({**me, "env": {**me["env"], "PWD": "/", "HELIX_SERVER": "0"}}) is None
    assert "sys.path" in str(twin.differs({**me, "path": [*me["path"], str(tmp_path)]}))
    assert "interpreter" in str(twin.differs({**me, "executable": "/usr/bin/false"}))
    assert "installation" in str(twin.differs({**me, "version": "2.7"}))
    assert "options" in str(twin.differs({**me, "options": [[2], [], []]}))
    settings = me["settings"]
    limits = {**settings["limits"], "RLIMIT_FSIZE": [1024, 1024]}
    assert "ulimit" in str(twin.differs({**me, "settings": {**settings, "limits": limits}}))
    nicer = {**settings, "nice": settings["nice"] + 5, "umask": 0o77}
    assert twin.differs({**me, "settings": nicer}) is None
    greedier = {**settings, "nice": settings["nice"] - 1}
    assert "priority" in str(twin.differs({**me, "settings": greedier}))
    cpus = {**settings, "affinity": [*settings["affinity"], 10_000]}
    assert "CPUs" in str(twin.differs({**me, "settings": cpus}))
    # a module in the client's first path entry that would hide a preloaded one
    (tmp_path / "json.py").write_text("")
    assert "json.py" in str(twin.differs({**me, "path": [str(tmp_path), *me["path"][1:]]}))
    # `python -c`: "" is the caller's working folder, not the server's
    here = {**me, "path": ["", *me["path"][1:]]}
    assert "json.py" in str(twin.differs({**here, "cwd": str(tmp_path)}))


def test_stale_names_a_changed_module(tmp_path: Path) -> None:
    module = tmp_path / "warm_probe_module.py"
    module.write_text("X = 1\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import warm_probe_module  # noqa: F401

        twin = _twin()
        assert twin.stale() is None
        stat = module.stat()
        os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
        assert str(module) in str(twin.stale())
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("warm_probe_module", None)


def test_environment_for_replays_what_imports_set() -> None:
    twin = _twin()
    twin.env_set, twin.env_unset = {"KMP_DUPLICATE_LIB_OK": "True"}, ["GONE"]
    env = twin.environment_for({"A": "1", "GONE": "x"})
    assert env == {"A": "1", "KMP_DUPLICATE_LIB_OK": "True"}


def test_a_server_declines_commands_for_another_repository(tmp_path: Path) -> None:
    from helixvcs.cli.warm_server import other_repository

    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    for repo in (ours, theirs):
        (repo / ".git").mkdir(parents=True)
    (ours / "src").mkdir()
    root = ours.resolve()
    assert other_repository({"argv": ["run"], "cwd": str(ours / "src")}, root) is None
    assert other_repository({"argv": ["--repo", str(ours), "log"], "cwd": "/"}, root) is None
    relative = {"argv": ["--repo", "../ours", "log"], "cwd": str(theirs)}
    assert other_repository(relative, root) is None
    for request in (
        {"argv": ["run"], "cwd": str(theirs)},
        {"argv": ["--repo", str(theirs), "run"], "cwd": str(ours)},
        {"argv": [f"--repo={theirs}", "run"], "cwd": str(ours)},
        {"argv": ["run"], "cwd": "relative/path"},
        {"argv": ["run"]},
        {"argv": ["run"], "cwd": str(tmp_path)},
    ):
        why = other_repository(request, root)
        assert why is not None and "another repository" in why, request
