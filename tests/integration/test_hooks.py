"""``helix hooks``: background runs after ``git commit``, chained with the user's own hook."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from helixvcs.repo.feedback.queue import RunQueue
from tests.conftest import GIT_ENV
from tests.integration.toy import TOTAL

# the user's own hook: records every commit it sees, outside the work tree
USER_HOOK = b'#!/bin/sh\necho "$(git rev-parse HEAD)" >> "$(git rev-parse --git-common-dir)/seen"\n'


def _user_hook(folder):
    folder.mkdir(parents=True, exist_ok=True)
    hook = folder / "post-commit"
    hook.write_bytes(USER_HOOK)
    hook.chmod(0o755)
    return hook


def _seen(repo) -> list[str]:
    path = repo.path / ".git" / "seen"
    return path.read_text().split() if path.exists() else []


def _wait_for_runs(repo, shas, timeout=60.0) -> dict[str, dict]:
    """Poll ``helix log`` until every sha has a finished run and the queue is empty."""
    queue = RunQueue(repo.path / ".helix" / "queue")
    deadline = time.monotonic() + timeout
    while True:
        runs = {e["commit"]: e for e in repo.helix_json("log") if e["status"] != "running"}
        if set(shas) <= set(runs) and not queue.items():
            return runs
        assert time.monotonic() < deadline, f"background runs did not finish: {runs}"
        time.sleep(0.1)


def _logs_are_clean(repo) -> None:
    for log in (repo.path / ".helix" / "logs").iterdir():
        text = log.read_text()
        assert "Traceback" not in text and "error" not in text.lower(), f"{log}:\n{text}"


def test_a_commit_runs_in_the_background_and_the_users_hook_still_runs(toy):
    hook = _user_hook(toy.path / ".git" / "hooks")
    out = toy.helix("hooks", "install").stdout
    assert out == f"installed {hook}\nruns first: {hook}.helix-chained\n"
    status = toy.helix_json("hooks", "status")
    assert status["installed"] and status["python"] == sys.executable and status["python_found"]
    assert status["chained"] == f"{hook}.helix-chained"

    toy.edit("toylib.py", "SHIFT = 1.0", "SHIFT = 2.0")
    sha = toy.commit("shift 2")
    runs = _wait_for_runs(toy, [sha])
    assert runs[sha]["status"] == "ok" and runs[sha]["metrics"]["total"] == TOTAL + 3
    assert _seen(toy) == [sha]
    assert "finished " + sha + ": ok" in (toy.path / ".helix/logs/hooks.log").read_text()
    assert (toy.path / ".helix" / "logs" / f"{sha}.log").is_file()
    _logs_are_clean(toy)

    assert toy.helix("hooks", "uninstall").stdout == f"uninstalled {hook}\n"
    assert hook.read_bytes() == USER_HOOK and os.access(hook, os.X_OK)
    assert not (hook.parent / "post-commit.helix-chained").exists()
    assert not toy.helix_json("hooks", "status")["installed"]
    assert toy.helix("hooks", "uninstall").stdout.startswith("post-commit hook: not installed")
    toy.git("commit", "-q", "--allow-empty", "-m", "after uninstall")
    assert len(_seen(toy)) == 2


def test_install_without_a_user_hook_and_reinstall_updates(toy):
    hook = toy.path / ".git" / "hooks" / "post-commit"
    toy.helix("hooks", "install")
    assert toy.helix("hooks", "install").stdout == f"updated {hook}\n"
    assert not (hook.parent / "post-commit.helix-chained").exists()
    toy.helix("hooks", "uninstall")
    assert not hook.exists()


def test_core_hooks_path_is_honoured(toy):
    toy.git("config", "core.hooksPath", "githooks")
    hook = _user_hook(toy.path / "githooks")
    (toy.path / ".git" / "info" / "exclude").write_text("githooks/\n")
    assert toy.helix_json("hooks", "install")["path"] == str(hook)
    assert not (toy.path / ".git" / "hooks" / "post-commit").exists()
    sha = _empty_commit(toy, "through hooksPath")
    runs = _wait_for_runs(toy, [sha])
    assert runs[sha]["status"] == "ok" and _seen(toy) == [sha]
    toy.helix("hooks", "uninstall")
    assert hook.read_bytes() == USER_HOOK


def _empty_commit(repo, message: str) -> str:
    repo.git("commit", "-q", "--allow-empty", "-m", message)
    return repo.git("rev-parse", "HEAD")


def test_a_hook_whose_helix_is_gone_never_breaks_a_commit(toy):
    hook = _user_hook(toy.path / ".git" / "hooks")
    toy.helix("hooks", "install")
    text = hook.read_text()
    hook.write_text(text.replace(f"helix_python={sys.executable}", "helix_python=/gone/python"))
    env = {**os.environ, **GIT_ENV, "HOME": str(toy.path.parent)}
    done = subprocess.run(
        ["git", "commit", "--allow-empty", "-m", "helix gone"],
        cwd=toy.path, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0
    assert "helixvcs: /gone/python -m helixvcs is gone" in done.stderr
    assert _seen(toy) == [toy.git("rev-parse", "HEAD")]
    assert not (toy.path / ".helix" / "logs" / "hooks.log").exists()
    status = toy.helix("hooks", "status")
    assert "warning: /gone/python is gone" in status.stderr


def test_install_refuses_when_the_chained_slot_is_taken(toy):
    folder = toy.path / ".git" / "hooks"
    _user_hook(folder)
    (folder / "post-commit.helix-chained").write_text("#!/bin/sh\n")
    result = toy.helix("hooks", "install", code=2)
    assert "is not helix's hook" in result.stderr and result.stderr.count("\n") == 1
    assert (folder / "post-commit").read_bytes() == USER_HOOK


def test_log_lists_commits_still_queued(toy):
    sha = toy.git("rev-parse", "HEAD")
    RunQueue(toy.path / ".helix" / "queue").push(sha)
    assert toy.helix("log").stdout.splitlines()[0] == f"queued: {sha[:7]}  ignore .helix/"
    assert toy.helix_json("log") == []
    assert toy.helix_json("hooks", "status")["queued"] == [sha]


def test_a_worktree_commit_runs_in_that_worktrees_helix_folder(toy, tmp_path):
    linked = tmp_path / "linked"
    toy.git("worktree", "add", "-q", "-b", "feature", str(linked))
    toy.helix("--repo", str(linked), "init")
    doc = toy.helix_json("--repo", str(linked), "hooks", "install")
    assert doc["path"] == str(toy.path.resolve() / ".git" / "hooks" / "post-commit")
    (linked / "toylib.py").write_text((toy.path / "toylib.py").read_text().replace("1.0", "2.0"))
    env = {**os.environ, **GIT_ENV, "HOME": str(tmp_path)}
    subprocess.run(["git", "commit", "-qam", "in the worktree"], cwd=linked, env=env, check=True)
    sha = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=linked, capture_output=True, text=True, check=True
    ).stdout.strip()
    worktree = type(toy)(linked)
    runs = _wait_for_runs(worktree, [sha])
    assert runs[sha]["metrics"]["total"] == TOTAL + 3
    assert toy.helix_json("log") == []  # the main work tree ran nothing


@pytest.mark.slow
def test_three_rapid_commits_each_get_a_run(toy):
    toy.helix("hooks", "install")
    shas = {}
    for factor in (3, 4, 5):
        toy.edit("workflow.py", f"factor={factor - 1}.0", f"factor={factor}.0")
        shas[toy.commit(f"factor {factor}")] = 6 * factor + 63.0  # scaled + shifted
    runs = _wait_for_runs(toy, list(shas))
    assert {sha: runs[sha]["metrics"]["total"] for sha in shas} == shas
    assert all(runs[sha]["status"] == "ok" for sha in shas)
    assert len(toy.helix_json("log")) == 3
    _logs_are_clean(toy)
