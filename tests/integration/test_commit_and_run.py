"""``helix commit-and-run``: git's own commit, then a run of it next to the parent's metrics."""

from __future__ import annotations

import time

import pytest

from tests.conftest import GIT_ENV
from tests.integration.toy import FILES, TOTAL


@pytest.fixture
def identity(git_repo, monkeypatch):
    """The in-process CLI runs the git binary with this process's environment."""
    for name, value in GIT_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HOME", str(git_repo.path.parent))
    return git_repo


@pytest.fixture
def toy(identity):
    identity.gen(FILES, commit="toy")
    identity.helix("init")
    identity.commit("ignore .helix/")
    return identity


def test_commit_all_runs_the_new_commit_next_to_its_parent(toy):
    toy.helix("run")
    parent = toy.git("rev-parse", "HEAD")
    toy.edit("toylib.py", "SHIFT = 1.0", "SHIFT = 2.0")
    out = toy.helix("commit-and-run", "-a", "-m", "shift 2").stdout
    sha = toy.git("rev-parse", "HEAD")
    assert toy.git("log", "-1", "--format=%s|%an <%ae>") == "shift 2|Ada Tester <ada@example.com>"
    assert toy.git("rev-parse", "HEAD~1") == parent
    assert toy.git("status", "--porcelain") == ""
    lines = out.splitlines()
    assert lines[0].startswith(f"[main {sha[:7]}] shift 2")
    assert any(line.startswith("run ") and f"of {sha[:7]}: ok" in line for line in lines)
    assert ["metric", sha[:7], "parent", parent[:7]] in [line.split() for line in lines]
    assert ["total", str(int(TOTAL + 3)), str(int(TOTAL))] in [line.split() for line in lines]

    toy.edit("workflow.py", "factor=2.0", "factor=3.0")
    doc = toy.helix_json("commit-and-run", "-a", "-m", "factor 3")
    assert doc["commit"] == toy.git("rev-parse", "HEAD") == doc["run"]["commit"]
    assert doc["run"]["metrics"]["total"] == TOTAL + 3 + 6
    assert doc["parent"]["commit"] == sha
    assert doc["parent"]["metrics"] == {"total": TOTAL + 3, "count": 3.0}


def test_paths_commit_only_those_files_and_the_run_is_of_the_commit(toy):
    toy.edit("toylib.py", "SHIFT = 1.0", "SHIFT = 2.0")
    toy.edit("workflow.py", "factor=2.0", "factor=3.0")  # stays uncommitted
    doc = toy.helix_json("commit-and-run", "-m", "only toylib", "toylib.py")
    assert toy.git("show", "--name-only", "--format=", "HEAD") == "toylib.py"
    assert toy.git("status", "--porcelain") == "M workflow.py"
    assert doc["run"]["metrics"]["total"] == TOTAL + 3  # not + 6: the commit has factor 2
    assert doc["parent"] == {
        "commit": toy.git("rev-parse", "HEAD~1"),
        "run_id": None,
        "metrics": {},
    }


def test_the_index_is_committed_as_staged(toy):
    toy.edit("toylib.py", "SHIFT = 1.0", "SHIFT = 2.0")
    toy.git("add", "toylib.py")
    toy.edit("toylib.py", "SHIFT = 2.0", "SHIFT = 5.0")  # unstaged on top
    doc = toy.helix_json("commit-and-run", "-m", "staged shift")
    assert doc["run"]["metrics"]["total"] == TOTAL + 3
    assert toy.git("status", "--porcelain") == "M toylib.py"


def test_git_refusing_is_one_line_and_exit_2(toy):
    result = toy.helix("commit-and-run", "-m", "nothing", code=2)
    assert result.stderr == "error: git commit failed: nothing to commit, working tree clean\n"
    both = toy.helix("commit-and-run", "-a", "-m", "x", "toylib.py", code=2)
    assert both.stderr.startswith("error: git commit failed: ") and both.stderr.count("\n") == 1
    assert toy.git("log", "--format=%s") == "ignore .helix/\ntoy"


def test_refuses_before_committing_when_helix_is_not_initialized(identity):
    identity.gen(FILES, commit="toy")
    identity.edit("toylib.py", "SHIFT = 1.0", "SHIFT = 2.0")
    result = identity.helix("commit-and-run", "-a", "-m", "shift", code=2)
    assert "helix init" in result.stderr
    assert identity.git("rev-list", "--count", "HEAD") == "1"


def test_first_commit_of_a_new_repository(identity):
    identity.write(FILES)
    identity.helix("init")
    identity.git("add", "-A")
    doc = identity.helix_json("commit-and-run", "-m", "first")
    assert doc["parent"] == {"commit": None, "run_id": None, "metrics": {}}
    assert doc["run"]["metrics"]["total"] == TOTAL


def test_no_background_run_when_the_hook_is_installed(toy):
    hook = toy.path / ".git" / "hooks" / "post-commit"
    hook.write_text('#!/bin/sh\necho ran >> "$(git rev-parse --git-dir)/marker"\n')
    hook.chmod(0o755)
    toy.helix("hooks", "install")
    toy.edit("toylib.py", "SHIFT = 1.0", "SHIFT = 2.0")
    doc = toy.helix_json("commit-and-run", "-a", "-m", "shift 2")
    assert (toy.path / ".git" / "marker").read_text() == "ran\n"  # the user's hook still ran
    time.sleep(1.0)  # a background run, had one started, would have queued by now
    assert not (toy.path / ".helix" / "logs" / "hooks.log").exists()
    assert [e["run_id"] for e in toy.helix_json("log")] == [doc["run"]["run_id"]]


def test_on_a_detached_head(toy):
    toy.git("checkout", "-q", "--detach")
    parent = toy.git("rev-parse", "HEAD")
    toy.edit("toylib.py", "SHIFT = 1.0", "SHIFT = 2.0")
    doc = toy.helix_json("commit-and-run", "-a", "-m", "detached shift")
    assert doc["parent"]["commit"] == parent
    assert doc["commit"] == toy.git("rev-parse", "HEAD") != toy.git("rev-parse", "main")
    assert doc["run"]["metrics"]["total"] == TOTAL + 3
