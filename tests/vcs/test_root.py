"""find_root: from the root, a subfolder, a file, a linked worktree; and outside any repo."""

from __future__ import annotations

from pathlib import Path

import pytest

from helixvcs.errors import UserInputError
from helixvcs.vcs import NotAGitRepo, find_root, working_version


def test_root_from_itself_a_subfolder_and_a_file(scm_gen) -> None:
    root = scm_gen({"lib/deep/mod.py": "x = 1\n"}, commit="init")
    assert find_root(root) == root.resolve()
    assert find_root(root / "lib" / "deep") == root.resolve()
    assert find_root(root / "lib" / "deep" / "mod.py") == root.resolve()


def test_nearest_repository_wins(scm_gen, git) -> None:
    outer = scm_gen({"a.txt": "a"}, commit="outer")
    inner = outer / "vendor" / "inner"
    inner.mkdir(parents=True)
    git(inner, "init", "-q")
    assert find_root(inner / ".") == inner.resolve()


def test_relative_start_is_resolved(scm_gen, monkeypatch: pytest.MonkeyPatch) -> None:
    root = scm_gen({"sub/f.txt": "f"}, commit="init")
    monkeypatch.chdir(root / "sub")
    assert find_root(Path(".")) == root.resolve()


def test_linked_worktree_is_its_own_root(scm_gen, git, tmp_path: Path) -> None:
    main = scm_gen({"workflow.py": "x = 1\n", "lib/m.py": "y = 2\n"}, commit="init")
    linked = tmp_path / "linked"
    git(main, "worktree", "add", "-q", "-b", "feature", str(linked))
    assert (linked / ".git").is_file()

    assert find_root(linked / "lib") == linked.resolve()
    version = working_version(linked / "lib")
    assert version.commit == git(main, "rev-parse", "HEAD").strip()
    assert version.branch == "feature"
    assert not version.dirty

    (linked / "workflow.py").write_text("x = 2\n")
    assert working_version(linked).dirty
    assert not working_version(main).dirty


def test_outside_any_repository(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    with pytest.raises(NotAGitRepo) as caught:
        find_root(folder)
    assert str(caught.value) == (
        f"{folder.resolve()} is not inside a git repository; run `git init` first"
    )
    assert isinstance(caught.value, UserInputError)
    assert caught.value.exit_code == 2
    with pytest.raises(NotAGitRepo):
        working_version(folder)
