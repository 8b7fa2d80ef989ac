"""First-parent history and ranges, on a real repository with a merge."""

from __future__ import annotations

import pytest

from helixvcs.errors import UserInputError
from helixvcs.vcs import NotOnFirstParentChain, first_parent_history, resolve_range


def test_first_parent_history_skips_merged_commits_and_reads_ranges(git_repo):
    a = git_repo.gen({"f.txt": "a\n"}, commit="a")
    git_repo.git("checkout", "-q", "-b", "side")
    side = git_repo.gen({"g.txt": "side\n"}, commit="side work")
    git_repo.git("checkout", "-q", "main")
    b = git_repo.gen({"f.txt": "b\n"}, commit="b")
    git_repo.git("merge", "-q", "--no-ff", "-m", "merge side", "side")
    merge = git_repo.git("rev-parse", "HEAD")
    root = git_repo.path

    history = first_parent_history(root, merge)
    assert [c.sha for c in history] == [a, b, merge]
    assert [c.subject for c in history] == ["a", "b", "merge side"]
    assert history[0].parent is None and history[2].parent == b
    assert side not in {c.sha for c in history}

    assert resolve_range(root, None).end == merge and resolve_range(root, None).start is None
    span = resolve_range(root, "HEAD~1..")
    assert (span.start, span.end) == (b, merge)
    assert [c.sha for c in first_parent_history(root, span.end, span.start)] == [merge]
    assert resolve_range(root, f"..{b}").start is None
    with pytest.raises(NotOnFirstParentChain, match="not on the first-parent history"):
        first_parent_history(root, merge, side)
    with pytest.raises(UserInputError, match="symmetric"):
        resolve_range(root, "a...b")
