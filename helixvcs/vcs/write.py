"""Changing a repository: create it, commit everything, keep ``.helix/`` out of git.

These mirror ``git init -b main``, ``git add -A && git commit`` and an edit of
``.gitignore``; helix uses them for ``helix init``, ``commit-and-run`` and the demo.
"""

from __future__ import annotations

from pathlib import Path

from helixvcs.errors import UserInputError

DEFAULT_AUTHOR = "helix demo <demo@helixvcs.invalid>"
DEFAULT_BRANCH = "main"


def init_repo(path: Path) -> None:
    """Create a git repository at ``path`` (made if missing) on branch ``main``."""
    from dulwich.repo import Repo as GitRepo

    path = Path(path)
    if (path / ".git").exists():
        raise UserInputError(f"{path} is already a git repository; use it as it is")
    path.mkdir(parents=True, exist_ok=True)
    GitRepo.init(str(path), default_branch=DEFAULT_BRANCH.encode()).close()


def commit_all(root: Path, message: str, *, author: str = DEFAULT_AUTHOR) -> str:
    """Stage every change that is not ignored (additions, edits, deletions), commit it.

    ``author`` is also the committer, so the result does not depend on the user's git
    configuration. Returns the full sha of the new commit.
    """
    from dulwich import porcelain
    from dulwich.repo import Repo as GitRepo

    identity = author.encode("utf-8")
    with GitRepo(str(root)) as repo:
        porcelain.add(repo)
        sha = porcelain.commit(repo, message=message, author=identity, committer=identity)
    return sha.decode("ascii")


def ensure_gitignore(root: Path, entry: str = ".helix/") -> bool:
    """Make ``.gitignore`` at ``root`` list ``entry``; True if the file had to change.

    An existing line that ignores the same folder (with or without a leading or a
    trailing slash) counts as present, so a user's own spelling is left alone.
    """
    path = Path(root) / ".gitignore"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if _stem(entry) in {_stem(line) for line in text.splitlines()}:
        return False
    if text and not text.endswith("\n"):
        text += "\n"
    path.write_text(text + entry + "\n", encoding="utf-8")
    return True


def _stem(line: str) -> str:
    return line.strip().strip("/")
