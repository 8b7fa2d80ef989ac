"""working_version must never write to the repository: not the index, refs or objects.

``git status`` and dulwich's ``porcelain.status`` both refresh the index's stat cache when
a file's stat data changed but its content did not; the scenario below provokes exactly
that, and the whole ``.git`` folder must come out byte-for-byte unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path

from helixvcs.vcs import working_version


def snapshot(git_dir: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(git_dir)): p.read_bytes()
        for p in sorted(git_dir.rglob("*"))
        if p.is_file()
    }


def porcelain_status(git, root: Path) -> str:
    return git(root, "--no-optional-locks", "status", "--porcelain", "--untracked-files=all")


def test_reading_writes_nothing(scm_gen, git) -> None:
    root = scm_gen(
        {"workflow.py": "x = 1\n", "lib/m.py": "y = 1\n", "same.txt": "s", ".gitignore": "*.log\n"},
        commit="init",
    )
    # Stat data drifts without a content change (what makes git refresh the index),
    # plus one edit, one deletion, one untracked and one ignored file.
    stamp = (root / "same.txt").stat().st_mtime + 100
    os.utime(root / "same.txt", (stamp, stamp))
    (root / "workflow.py").write_text("x = 2\n")
    (root / "lib" / "m.py").unlink()
    (root / "new.py").write_text("n = 1\n")
    (root / "debug.log").write_text("noise")

    index_before = (root / ".git" / "index").read_bytes()
    git_before = snapshot(root / ".git")
    status_before = porcelain_status(git, root)

    version = working_version(root)
    working_version(root / "lib")

    assert version.dirty
    assert (root / ".git" / "index").read_bytes() == index_before
    assert snapshot(root / ".git") == git_before
    assert porcelain_status(git, root) == status_before
    assert sorted(status_before.splitlines()) == [" D lib/m.py", " M workflow.py", "?? new.py"]


def test_reading_a_repository_without_commits_writes_nothing(scm_gen) -> None:
    root = scm_gen({"workflow.py": "x = 1\n"})
    before = snapshot(root / ".git")
    assert working_version(root).dirty
    assert snapshot(root / ".git") == before
