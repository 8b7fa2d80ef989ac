"""Exploration in think time: after the post-commit run, at low priority, stopped by a new
commit or by a foreground run. Real hooks, real background processes."""

from __future__ import annotations

import os
import time

import pytest

from helixvcs.repo import Repo
from helixvcs.repo.feedback.explorer import stop_background
from tests.integration.toy import FILES

GRID = '@wf.op(explore={"factor": [0.5, 1.0, 3.0, 4.0]})\ndef scaled(xs, factor=2.0):'
SLOW = (
    "    time.sleep(0.02)\n    return [scale(x, factor) for x in xs]",
    "    time.sleep(0.6)\n    return [scale(x, factor) for x in xs]",
)


@pytest.fixture
def toy(git_repo):
    workflow = FILES["workflow.py"].replace("@wf.op\ndef scaled(xs, factor=2.0):", GRID)
    git_repo.gen({**FILES, "workflow.py": workflow.replace(*SLOW)}, commit="toy")
    git_repo.helix("init")
    git_repo.commit("ignore .helix/")
    git_repo.helix("hooks", "install")
    yield git_repo
    stop_background(Repo(git_repo.path))


def wait(what, condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return found


def explored(repo, sha) -> list[dict]:
    return [e for e in repo.helix_json("log") if e["base_commit"] == sha]


def explorer_pid(repo) -> int | None:
    path = repo.path / ".helix" / "explore" / "pid"
    try:
        pid, mode = path.read_text().split()
    except (OSError, ValueError):
        return None
    return int(pid) if mode == "background" else None


def test_exploration_follows_the_hook_run_and_yields_to_commits_and_runs(toy):
    toy.gen({"README": "one\n"}, commit="readme")
    first = toy.git("rev-parse", "HEAD")
    pid = wait(
        "the exploration of the first commit", lambda: explored(toy, first) and explorer_pid(toy)
    )
    nice = os.getpriority(os.PRIO_PROCESS, pid) - os.getpriority(os.PRIO_PROCESS, 0)
    assert nice >= min(15, 19 - os.getpriority(os.PRIO_PROCESS, 0))  # below the hook's run

    toy.gen({"README": "two\n"}, commit="readme again")  # a new commit stops it
    second = toy.git("rev-parse", "HEAD")
    wait("the first explorer to end", lambda: not _alive(pid), timeout=30)
    variants = explored(toy, first)
    assert len([e for e in variants if e["status"] == "ok"]) < 4
    assert all(e["status"] in ("ok", "interrupted") for e in variants)
    log = (toy.path / ".helix" / "logs" / f"explore-{first}.log").read_text()
    assert "stopped" in log

    pid2 = wait(
        "the exploration of the second commit", lambda: explored(toy, second) and explorer_pid(toy)
    )
    assert pid2 != pid
    run = toy.helix_json("run", "--sample", "0.5")  # a foreground run stops it too
    assert run["status"] == "ok" and not _alive(pid2)
    assert explorer_pid(toy) is None
    assert len([e for e in explored(toy, second) if e["status"] == "ok"]) < 4
    assert "stopped" in (toy.path / ".helix" / "logs" / f"explore-{second}.log").read_text()
    assert toy.git("rev-parse", "HEAD") == second and toy.git("status", "--porcelain") == ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for our purposes
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except OSError:
        return True
