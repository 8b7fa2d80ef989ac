"""git_commit, hooks_dir, merge_in_progress and first_parents against real repositories."""

from __future__ import annotations

from pathlib import Path

import pytest

from helixvcs.vcs import (
    GitFailed,
    first_parent,
    first_parents,
    git_commit,
    hooks_dir,
    merge_in_progress,
)
from tests.vcs.conftest import AUTHOR


@pytest.mark.parametrize("tool", ["git", "dulwich"])
def test_git_commit_commits_the_index_like_git(scm_gen, git, tool: str) -> None:
    root = scm_gen({"a.txt": "a\n", "b.txt": "b\n"}, commit="init", tool=tool)
    (root / "a.txt").write_text("a2\n")
    (root / "b.txt").write_text("b2\n")
    git(root, "add", "a.txt")
    made = git_commit(root, "only the staged file")
    assert made.sha == git(root, "rev-parse", "HEAD").strip()
    assert "only the staged file" in made.stdout
    assert git(root, "status", "--porcelain").splitlines() == [" M b.txt"]
    assert git(root, "log", "-1", "--format=%an <%ae>").strip() == f"{AUTHOR[0]} <{AUTHOR[1]}>"


def test_git_commit_all_and_paths(scm_gen, git) -> None:
    root = scm_gen({"a.txt": "a\n", "b.txt": "b\n", "sub/c.txt": "c\n"}, commit="init")
    (root / "a.txt").write_text("a2\n")
    (root / "b.txt").write_text("b2\n")
    (root / "sub" / "c.txt").write_text("c2\n")
    first = git_commit(root, "just c", paths=["c.txt"], cwd=root / "sub")  # relative to cwd
    assert git(root, "show", "--name-only", "--format=", first.sha).split() == ["sub/c.txt"]
    second = git_commit(root, "the rest", all=True)
    assert git(root, "status", "--porcelain") == ""
    assert first_parent(root, second.sha) == first.sha


def test_git_commit_failures_are_one_line(scm_gen) -> None:
    root = scm_gen({"a.txt": "a\n"}, commit="init")
    with pytest.raises(GitFailed, match=r"^git commit failed: nothing to commit") as err:
        git_commit(root, "nothing")
    assert "\n" not in str(err.value)
    with pytest.raises(GitFailed, match="pathspec 'nope' did not match"):
        git_commit(root, "missing path", paths=["nope"])


def test_git_commit_runs_the_users_hooks(scm_gen, git) -> None:
    root = scm_gen({"a.txt": "a\n"}, commit="init")
    hook = root / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'hook says no' >&2\nexit 1\n")
    hook.chmod(0o755)
    (root / "a.txt").write_text("a2\n")
    with pytest.raises(GitFailed, match="hook says no"):
        git_commit(root, "refused", all=True)
    assert git(root, "rev-list", "--count", "HEAD").strip() == "1"


def test_first_commit_has_no_parent(scm_gen, git) -> None:
    root = scm_gen({"a.txt": "a\n"})
    git(root, "add", "a.txt")
    made = git_commit(root, "first")
    assert first_parent(root, made.sha) is None
    assert first_parents(root, "0" * 40, limit=3) == []


def test_hooks_dir_default_hookspath_and_worktree(scm_gen, git, tmp_path: Path) -> None:
    root = scm_gen({"a.txt": "a\n"}, commit="init", tool="dulwich")
    assert hooks_dir(root) == root / ".git" / "hooks"
    linked = tmp_path / "linked"
    git(root, "worktree", "add", "-q", "-b", "feature", str(linked))
    assert hooks_dir(linked) == root.resolve() / ".git" / "hooks"  # the common dir
    git(root, "config", "core.hooksPath", "tools/hooks")
    assert hooks_dir(root) == root / "tools" / "hooks"  # relative to the work tree
    assert hooks_dir(linked) == linked / "tools" / "hooks"
    git(root, "config", "core.hooksPath", str(tmp_path / "shared-hooks"))
    assert hooks_dir(root) == tmp_path / "shared-hooks"


def test_merge_in_progress_is_per_worktree(scm_gen, git, tmp_path: Path) -> None:
    root = scm_gen({"a.txt": "base\n"}, commit="base")
    linked = tmp_path / "linked"
    git(root, "worktree", "add", "-q", "-b", "other", str(linked))
    (linked / "a.txt").write_text("other\n")
    git(linked, "commit", "-qam", "other")
    (root / "a.txt").write_text("mine\n")
    git(root, "commit", "-qam", "mine")
    assert not merge_in_progress(root)
    git(root, "merge", "--no-ff", "--no-commit", "-s", "ours", "other")
    assert merge_in_progress(root)
    assert not merge_in_progress(linked)
    git(root, "merge", "--abort")
    assert not merge_in_progress(root)
