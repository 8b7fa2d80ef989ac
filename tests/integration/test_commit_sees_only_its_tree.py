"""A run of a commit imports the commit's modules and installed packages, never a module
that only the working tree has: not in the foreground from the repository's folder, not
in the post-commit hook's background run, not through helix server, not while exploring.

The commit's workflow imports ``helper``, which was never added to git; the working tree
has it. A run of the working tree works (its metric is 7); every run of the commit must
fail as ``helix run HEAD`` does, instead of recording the working tree's 7 as the commit's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.conftest import GitRepo
from tests.integration.test_server import SERVED, _serving

WORKFLOW = """\
from helixvcs import Workflow
from helper import SEVEN

wf = Workflow("leaky")


@wf.op(explore={"k": [1, 2]})
def base(k=1):
    return SEVEN * k


@wf.metric
def m(base):
    return float(base)
"""
MISSING = "cannot import 'helper'"


@pytest.fixture
def leaky(git_repo: GitRepo) -> GitRepo:
    git_repo.gen({"workflow.py": WORKFLOW, ".gitignore": ".helix/\n"}, commit="workflow")
    git_repo.write({"helper.py": "SEVEN = 7\n"})  # never added
    git_repo.helix("init")
    assert git_repo.helix_json("run")["metrics"] == {"m": 7.0}
    assert MISSING in git_repo.helix("run", "HEAD", code=2).stderr
    return git_repo


def _process(repo: GitRepo, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m helixvcs ARGS`` started in the repository's folder, as a shell would."""
    return subprocess.run(
        [sys.executable, "-m", "helixvcs", *args],
        cwd=repo.path,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )


def test_a_foreground_run_from_the_repository_folder(leaky: GitRepo) -> None:
    done = _process(leaky, "run", "HEAD")
    assert done.returncode == 2 and MISSING in done.stderr, done.stderr
    assert _process(leaky, "run").returncode == 0  # the working tree still has it


def test_the_hook_run_fails_as_the_foreground_run_does(leaky: GitRepo) -> None:
    leaky.helix("hooks", "install")
    leaky.git("commit", "-q", "--allow-empty", "-m", "another commit")  # helper.py left out
    sha = leaky.git("rev-parse", "HEAD")
    hooks_log = leaky.path / ".helix" / "logs" / "hooks.log"
    deadline = time.monotonic() + 60
    while f"finished {sha}" not in (hooks_log.read_text() if hooks_log.exists() else ""):
        assert time.monotonic() < deadline, "the background run did not finish"
        time.sleep(0.1)
    assert f"finished {sha}: the run failed (exit 2)" in hooks_log.read_text()
    assert MISSING in (leaky.path / ".helix" / "logs" / f"{sha}.log").read_text()
    assert sha not in {e["commit"] for e in leaky.helix_json("log")}


def test_a_served_commit_run(leaky: GitRepo) -> None:
    with _serving(leaky):
        done = _process(leaky, "run", "HEAD", HELIX_SERVER="explain")
        assert SERVED in done.stderr, done.stderr
        assert done.returncode == 2 and MISSING in done.stderr
        tree = _process(leaky, "run", "--json", HELIX_SERVER="explain")
        assert SERVED in tree.stderr and '"m": 7.0' in tree.stdout


def test_background_exploration_of_a_commit(leaky: GitRepo) -> None:
    # what the post-commit runner starts after the commit's run (repo/feedback/hooks.py)
    done = _process(leaky, "--quiet", "explore", "HEAD", "--background")
    assert done.returncode == 2 and MISSING in done.stderr, done.stdout + done.stderr
    assert [e for e in leaky.helix_json("log") if e.get("base_commit")] == []
