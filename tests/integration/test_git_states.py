"""Runs in every state a git repository can be in: no commits, detached HEAD, a linked
worktree, a merge in progress, a workflow in a sub-folder, data the commit does not track."""

from __future__ import annotations

import json

from tests.integration.toy import FILES, TOTAL, TOYLIB, WORKFLOW


def _toy(repo):
    repo.gen(FILES, commit="toy")
    repo.helix("init")
    repo.commit("ignore .helix/")
    return repo


def test_a_repository_without_commits_runs_its_working_tree(git_repo):
    git_repo.write(FILES)
    git_repo.helix("init")
    doc = git_repo.helix_json("run")
    assert doc["revision"] == "worktree" and doc["commit"] is None
    assert doc["metrics"]["total"] == TOTAL
    assert git_repo.helix_json("log")[0]["revision"] == "worktree"


def test_detached_head(git_repo):
    repo = _toy(git_repo)
    repo.edit("toylib.py", "SHIFT = 1.0", "SHIFT = 2.0")
    repo.commit("shift 2")
    repo.git("checkout", "-q", "--detach", "HEAD~1")
    doc = repo.helix_json("run")
    assert doc["commit"] == repo.git("rev-parse", "HEAD") and doc["metrics"]["total"] == TOTAL
    assert repo.helix_json("run", "main")["metrics"]["total"] == TOTAL + 3


def test_a_linked_worktree_has_its_own_helix_folder(git_repo, tmp_path):
    repo = _toy(git_repo)
    repo.helix("run")
    linked = tmp_path / "linked"
    repo.git("worktree", "add", "-q", "-b", "feature", str(linked))
    (linked / "toylib.py").write_text(TOYLIB.replace("SHIFT = 1.0", "SHIFT = 2.0"))
    repo.helix("--repo", str(linked), "init")
    doc = repo.helix_json("--repo", str(linked), "run")
    assert doc["metrics"]["total"] == TOTAL + 3
    assert doc["commit"] is None and doc["revision"].endswith("+dirty")
    assert (linked / ".helix" / "index.duckdb").is_file()
    assert len(repo.helix_json("log")) == 1  # the main work tree's index is its own
    assert repo.git("status", "--porcelain") == ""


def test_a_merge_in_progress_refuses_the_working_tree_but_not_a_commit(git_repo):
    repo = _toy(git_repo)
    repo.git("checkout", "-q", "-b", "other")
    repo.edit("toylib.py", "SHIFT = 1.0", "SHIFT = 2.0")
    repo.commit("other shift")
    repo.git("checkout", "-q", "main")
    repo.edit("toylib.py", "SHIFT = 1.0", "SHIFT = 3.0")
    repo.commit("main shift")
    repo.git("merge", "--no-commit", "-s", "ours", "other")
    result = repo.helix("run", code=2)
    assert result.stderr == (
        f"error: a merge is in progress in {repo.path.resolve()}; finish it (git commit) or "
        "abort it (git merge --abort) before running the working tree\n"
    )
    assert repo.helix_json("run", "HEAD")["metrics"]["total"] == TOTAL + 6
    assert repo.helix_json("run", "other")["metrics"]["total"] == TOTAL + 3
    repo.git("commit", "-q", "-m", "merged")
    assert repo.helix_json("run")["metrics"]["total"] == TOTAL + 6


def test_a_workflow_in_a_sub_folder_with_a_helper_beside_it(git_repo):
    git_repo.gen(
        {
            "pyproject.toml": '[tool.helix]\nworkflow = "pipeline/flow.py"\n',
            "pipeline/flow.py": WORKFLOW,
            "pipeline/toylib.py": TOYLIB,
            "data/points.csv": FILES["data/points.csv"],
        },
        commit="toy in a sub-folder",
    )
    git_repo.helix("init")
    git_repo.commit("ignore .helix/")
    assert git_repo.helix_json("run")["metrics"]["total"] == TOTAL
    git_repo.edit("pipeline/toylib.py", "SHIFT = 1.0", "SHIFT = 2.0")
    git_repo.commit("shift 2")
    assert git_repo.helix_json("run", "HEAD~1")["metrics"]["total"] == TOTAL
    doc = git_repo.helix_json("run", "HEAD")
    assert doc["metrics"]["total"] == TOTAL + 3
    assert {n["name"] for n in doc["nodes"] if n["state"] == "compute"} == {"shifted", "total"}


def test_a_run_of_a_commit_says_when_untracked_data_changed_since_it_last_ran(git_repo):
    files = {k: v for k, v in FILES.items() if not k.startswith("data/")}
    git_repo.gen({**files, ".gitignore": "data/\n"}, commit="code only")
    git_repo.write({"data/points.csv": FILES["data/points.csv"]})
    git_repo.helix("init")
    git_repo.commit("ignore .helix/")
    first = git_repo.helix("run", "HEAD", "--json")
    assert "warning" not in first.stderr
    assert "warning" not in git_repo.helix("run", "HEAD").stderr  # unchanged: no warning
    (git_repo.path / "data" / "points.csv").write_text("1,10\n2,20\n3,30\n4,40\n")
    plan = git_repo.helix("plan", "HEAD")
    again = git_repo.helix("run", "HEAD", "--json")
    short = git_repo.git("rev-parse", "--short=7", "HEAD")
    for result in (plan, again):
        assert (
            f"warning: data/points.csv is not tracked by commit {short} and is read from the "
            "working tree; it changed since that commit's last run"
        ) in result.stderr
    assert json.loads(again.stdout)["metrics"]["total"] == 124.0  # 2*(1+2+3+4) + 11+21+31+41
    assert "warning" not in git_repo.helix("run").stderr  # the working tree is what it is


def test_tracked_data_is_read_from_the_commit_without_a_warning(git_repo):
    _toy(git_repo)
    git_repo.helix("run", "HEAD")
    (git_repo.path / "data" / "points.csv").write_text("5,5\n")
    result = git_repo.helix("run", "HEAD", "--json")
    assert "warning" not in result.stderr
    assert json.loads(result.stdout)["metrics"]["total"] == TOTAL
