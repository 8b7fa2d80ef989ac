"""Finding the repository a path belongs to."""

from __future__ import annotations

from pathlib import Path

from helixvcs.errors import UserInputError


class NotAGitRepo(UserInputError):
    """A helix command was pointed at a folder that no git repository contains."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(f"{path} is not inside a git repository; run `git init` first")


def find_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` that holds ``.git``.

    ``.git`` may be a folder or, in a linked worktree or a submodule, a file pointing at
    the real git directory; both mark a working-tree root, as they do for git itself.
    """
    start = Path(start).expanduser().resolve()
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    raise NotAGitRepo(start)
