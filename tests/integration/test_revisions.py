"""Running, planning and showing any commit without touching the user's working tree."""

from __future__ import annotations

from tests.integration.toy import FILES, TOTAL


def _history(repo):
    repo.gen(FILES, commit="toy")
    repo.helix("init")
    repo.commit("ignore .helix/")
    repo.edit("toylib.py", "SHIFT = 1.0", "SHIFT = 2.0")
    repo.commit("shift 2")
    repo.edit("workflow.py", "factor=2.0", "factor=3.0")
    repo.commit("factor 3")
    return repo


def test_run_of_an_old_commit_leaves_git_status_untouched(git_repo):
    repo = _history(git_repo)
    repo.edit("toylib.py", "SHIFT = 2.0", "SHIFT = 9.0")  # an uncommitted edit
    (repo.path / "scratch.txt").write_text("untracked\n")
    before = repo.git("status", "--porcelain=v1", "--untracked-files=all")
    index_before = (repo.path / ".git" / "index").read_bytes()
    doc = repo.helix_json("run", "HEAD~2")
    assert doc["metrics"]["total"] == TOTAL
    assert doc["commit"] == repo.git("rev-parse", "HEAD~2")
    assert doc["revision"] == doc["commit"][:7]
    assert repo.git("status", "--porcelain=v1", "--untracked-files=all") == before
    assert (repo.path / ".git" / "index").read_bytes() == index_before
    assert repo.helix_json("run", "HEAD~1")["metrics"]["total"] == TOTAL + 3
    assert repo.helix_json("run", "main")["metrics"]["total"] == TOTAL + 3 + 6
    log = repo.helix_json("log")
    assert [e["subject"] for e in log] == ["factor 3", "shift 2", "ignore .helix/"]


def test_a_commit_run_twice_computes_nothing_the_second_time(git_repo):
    repo = _history(git_repo)
    repo.helix("run", "HEAD~1")
    again = repo.helix_json("run", "HEAD~1")
    assert all(n["state"] != "compute" for n in again["nodes"])


def test_plan_and_show_take_a_revision(git_repo):
    repo = _history(git_repo)
    repo.helix("run", "HEAD~1")
    plan = repo.helix_json("plan", "HEAD~1")
    assert plan["revision"] == repo.git("rev-parse", "--short=7", "HEAD~1")
    assert {n["state"] for n in plan["nodes"]} <= {"load", "prune"}
    assert "[2.0, 4.0, 6.0]" in repo.helix("show", "scaled", "HEAD~1").stdout
    assert "[3.0, 6.0, 9.0]" in repo.helix("show", "scaled").stdout


def test_unknown_revision_and_revision_without_workflow(git_repo):
    git_repo.gen({"README.md": "nothing yet\n"}, commit="empty")
    _history(git_repo)
    bad = git_repo.helix("run", "no-such-branch", code=2)
    assert "unknown revision 'no-such-branch'" in bad.stderr
    assert "has no such parent" in git_repo.helix("plan", "HEAD~9", code=2).stderr
    first = git_repo.git("rev-list", "--max-parents=0", "HEAD")
    missing = git_repo.helix("run", first, code=2)
    assert "no workflow file" in missing.stderr and first[:7] in missing.stderr


def test_data_the_commit_does_not_track_is_read_from_the_working_tree(git_repo):
    files = {k: v for k, v in FILES.items() if not k.startswith("data/")}
    git_repo.gen({**files, ".gitignore": "data/\n"}, commit="code only")
    git_repo.write({"data/points.csv": FILES["data/points.csv"]})
    git_repo.helix("init")
    git_repo.commit("ignore .helix/")
    doc = git_repo.helix_json("run", "HEAD~1")
    assert doc["metrics"]["total"] == TOTAL
