"""Real git repositories in temporary folders, made with the git binary or with dulwich.

``git_env`` isolates every test from the user's git configuration (HOME, system config,
signing, hooks templates) so that the git binary and dulwich see the same, empty setup.
``scm_gen`` builds a repository with files and, optionally, a commit in one call, after
DVC's ``tmp_dir.scm_gen``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from helixvcs.vcs import commit_all, init_repo

AUTHOR = ("A U Thor", "author@example.com")
GitRunner = Callable[..., str]


@pytest.fixture(autouse=True)
def git_env(isolated_git: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_AUTHOR_NAME", AUTHOR[0])
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", AUTHOR[1])
    monkeypatch.setenv("GIT_COMMITTER_NAME", AUTHOR[0])
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", AUTHOR[1])


@pytest.fixture
def git() -> GitRunner:
    """Run the git binary in a folder and return its stdout; fail the test on an error."""

    def run(cwd: Path, *args: str) -> str:
        done = subprocess.run(
            ["git", "-c", "init.defaultBranch=main", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, f"git {' '.join(args)} failed: {done.stderr}"
        return done.stdout

    return run


def write_files(root: Path, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


@pytest.fixture
def scm_gen(tmp_path: Path, git: GitRunner) -> Callable[..., Path]:
    """``scm_gen({"a.txt": "x"}, commit="msg", tool="git"|"dulwich", name="repo")`` -> root.

    Called again with the same name, it adds files (and a commit) to the same repository.
    """

    def gen(
        files: dict[str, str | bytes],
        *,
        commit: str | None = None,
        tool: str = "git",
        name: str = "repo",
    ) -> Path:
        root = tmp_path / name
        if not (root / ".git").exists():
            if tool == "git":
                root.mkdir(parents=True, exist_ok=True)
                git(root, "init", "-q")
            else:
                init_repo(root)
        write_files(root, files)
        if commit is not None:
            if tool == "git":
                git(root, "add", "-A")
                git(root, "commit", "-q", "-m", commit)
            else:
                commit_all(root, commit, author=f"{AUTHOR[0]} <{AUTHOR[1]}>")
        return root

    return gen
