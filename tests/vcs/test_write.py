"""init_repo, commit_all and ensure_gitignore, checked with the git binary."""

from __future__ import annotations

from pathlib import Path

import pytest

from helixvcs.errors import UserInputError
from helixvcs.vcs import commit_all, ensure_gitignore, init_repo, working_version


def test_init_repo_makes_a_main_branch(tmp_path: Path, git) -> None:
    root = tmp_path / "new" / "repo"
    init_repo(root)
    assert git(root, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
    assert git(root, "rev-parse", "--is-inside-work-tree").strip() == "true"


def test_init_repo_refuses_an_existing_repository(scm_gen) -> None:
    root = scm_gen({"a.txt": "a"}, commit="init")
    with pytest.raises(UserInputError, match="already a git repository"):
        init_repo(root)


def test_commit_all_stages_additions_edits_and_deletions(tmp_path: Path, git) -> None:
    root = tmp_path / "repo"
    init_repo(root)
    (root / ".gitignore").write_text(".helix/\n")
    (root / "workflow.py").write_text("x = 1\n")
    (root / "old.py").write_text("o = 1\n")
    (root / "lib").mkdir()
    (root / "lib" / "m.py").write_text("y = 1\n")
    first = commit_all(root, "Census income workflow")

    assert first == git(root, "rev-parse", "HEAD").strip()
    assert git(root, "ls-files").split() == [".gitignore", "lib/m.py", "old.py", "workflow.py"]

    (root / "workflow.py").write_text("x = 2\n")
    (root / "old.py").unlink()
    (root / "lib" / "n.py").write_text("z = 1\n")
    (root / ".helix").mkdir()
    (root / ".helix" / "index.duckdb").write_bytes(b"\x00")
    second = commit_all(root, "Model: C 1.0 -> 0.1")

    assert git(root, "status", "--porcelain") == ""
    assert git(root, "ls-files").split() == [".gitignore", "lib/m.py", "lib/n.py", "workflow.py"]
    assert git(root, "rev-parse", "HEAD~1").strip() == first
    log = git(root, "log", "-1", "--format=%H%n%an <%ae>%n%cn <%ce>%n%B")
    assert log.splitlines()[:4] == [
        second,
        "helix demo <demo@helixvcs.invalid>",
        "helix demo <demo@helixvcs.invalid>",
        "Model: C 1.0 -> 0.1",
    ]
    assert git(root, "show", "HEAD:workflow.py") == "x = 2\n"
    git(root, "fsck", "--strict")
    assert not working_version(root).dirty


def test_commit_all_with_a_custom_author_on_a_git_made_repo(scm_gen, git) -> None:
    root = scm_gen({"a.txt": "a"}, commit="init")
    (root / "a.txt").write_text("b")
    commit_all(root, "edit", author="Ada <ada@example.com>")
    assert git(root, "log", "-1", "--format=%an <%ae>|%s").strip() == "Ada <ada@example.com>|edit"
    assert working_version(root).subject == "edit"


def test_ensure_gitignore_creates_then_leaves_alone(tmp_path: Path) -> None:
    assert ensure_gitignore(tmp_path) is True
    assert (tmp_path / ".gitignore").read_text() == ".helix/\n"
    assert ensure_gitignore(tmp_path) is False
    assert (tmp_path / ".gitignore").read_text() == ".helix/\n"


def test_ensure_gitignore_appends_on_a_new_line(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("*.pyc")
    assert ensure_gitignore(tmp_path, "__pycache__/") is True
    assert (tmp_path / ".gitignore").read_text() == "*.pyc\n__pycache__/\n"


@pytest.mark.parametrize("spelling", [".helix", "/.helix/", "/.helix", "  .helix/  "])
def test_ensure_gitignore_accepts_equivalent_spellings(tmp_path: Path, spelling: str) -> None:
    (tmp_path / ".gitignore").write_text(f"build/\n{spelling}\n")
    assert ensure_gitignore(tmp_path) is False


def test_gitignore_entry_really_ignores_the_store(scm_gen) -> None:
    root = scm_gen({"workflow.py": "x = 1\n"}, commit="init")
    ensure_gitignore(root)
    commit_all(root, "ignore helix store")
    (root / ".helix" / "objects").mkdir(parents=True)
    (root / ".helix" / "objects" / "blob").write_bytes(b"x")
    assert not working_version(root).dirty
