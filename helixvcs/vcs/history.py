"""First-parent history: the iterations of a workflow, as ``git log --first-parent``.

Each commit on the first-parent chain is one iteration; commits brought in by merges
are the merged branch's business. ``resolve_range`` reads ``A..B`` the way git does for
this chain: the commits after A up to and including B.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from helixvcs.errors import UserInputError
from helixvcs.vcs.gitcli import GitFailed, read_git
from helixvcs.vcs.revisions import resolve
from helixvcs.vcs.root import find_root
from helixvcs.vcs.version import SHORT_SHA


class NotOnFirstParentChain(UserInputError):
    """The start of a range is not a first-parent ancestor of its end."""


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    subject: str
    parent: str | None  # first parent; None for a root commit (or where a shallow clone ends)

    @property
    def short(self) -> str:
        return self.sha[:SHORT_SHA]


@dataclass(frozen=True)
class CommitRange:
    """Commits after ``start`` (exclusive; None: from the root) up to ``end`` (inclusive)."""

    start: str | None
    end: str


def resolve_range(root: Path, spec: str | None) -> CommitRange:
    """``A..B``, ``A..`` (to HEAD), ``..B`` or ``B`` (all of B's history), None (HEAD's)."""
    if spec is None or not spec.strip():
        return CommitRange(None, _sha(root, "HEAD"))
    if ".." not in spec:
        return CommitRange(None, _sha(root, spec))
    if "..." in spec:
        raise UserInputError(f"range {spec!r}: use A..B (symmetric A...B ranges are not history)")
    start, _, end = spec.partition("..")
    return CommitRange(_sha(root, start) if start else None, _sha(root, end or "HEAD"))


def first_parent_history(root: Path, end: str, start: str | None = None) -> list[CommitInfo]:
    """The commits after ``start`` up to ``end`` along first parents, oldest first.

    ``start`` must be on ``end``'s first-parent chain (``NotOnFirstParentChain``
    otherwise); with no ``start`` the walk goes back to the root commit. One ``git log``
    reads the whole chain (dulwich would parse every commit object in Python).
    """
    top = find_root(root)
    try:
        out = read_git(["log", "--first-parent", "-z", "--format=%H%x1f%P%x1f%B", end, "--"], top)
    except GitFailed:  # an object git cannot read: nothing to walk, as at a shallow end
        out = ""
    found: list[CommitInfo] = []
    sha: str | None = end
    for record in out.split("\0"):
        if not record:
            continue
        sha, parents, body = record.split("\x1f", 2)
        if sha == start:
            break
        lines = body.strip().splitlines()
        first = parents.split()[0] if parents.split() else _grafted_parent(top, sha)
        found.append(CommitInfo(sha, lines[0] if lines else "", first))
        sha = first
    if start is not None and sha != start:
        raise NotOnFirstParentChain(
            f"{start[:SHORT_SHA]} is not on the first-parent history of {end[:SHORT_SHA]}; "
            "give an older commit of the same branch"
        )
    return found[::-1]


def _grafted_parent(top: Path, sha: str) -> str | None:
    """The first parent the commit object names: git log shows none where a shallow
    clone ends, but the commit has one (absent from this clone)."""
    for line in read_git(["cat-file", "commit", sha], top).splitlines():
        if line.startswith("parent "):
            return line.split()[1]
        if not line:
            break
    return None


def shallow_boundary(root: Path, history: list[CommitInfo]) -> CommitInfo | None:
    """The oldest commit of ``history`` when a shallow clone's history stops there: it
    has a parent that this clone does not have."""
    from dulwich.repo import Repo as GitRepo

    if not history or history[0].parent is None:
        return None
    with GitRepo(str(find_root(root))) as repo:
        try:
            repo[history[0].parent.encode("ascii")]
        except KeyError:
            return history[0]
    return None


def shallow_note(root: Path, history: list[CommitInfo]) -> str | None:
    """One line saying where a shallow clone cut ``history`` short, if it did."""
    oldest = shallow_boundary(root, history)
    if oldest is None:
        return None
    return (
        f"history stops at {oldest.short}: older commits are not in this shallow clone "
        "(git fetch --unshallow)"
    )


def _sha(root: Path, rev: str) -> str:
    commit = resolve(root, rev).commit
    assert commit is not None
    return commit
