"""What the repository is in the middle of: a merge that is not committed yet."""

from __future__ import annotations

from pathlib import Path

from helixvcs.errors import UserInputError
from helixvcs.vcs.root import find_root


class MergeInProgress(UserInputError):
    """The working tree is half-way through a merge, so it is no version to run."""

    def __init__(self, root: Path) -> None:
        self.root = root
        super().__init__(
            f"a merge is in progress in {root}; finish it (git commit) or abort it "
            "(git merge --abort) before running the working tree"
        )


def merge_in_progress(root: Path) -> bool:
    """Whether ``git merge`` stopped here and waits for a commit or ``--abort``.

    The marker is ``MERGE_HEAD`` in this work tree's own git dir, so a merge in one
    linked worktree does not count in another.
    """
    from dulwich.repo import Repo as GitRepo

    with GitRepo(str(find_root(root))) as repo:
        return (Path(repo.controldir()) / "MERGE_HEAD").exists()
