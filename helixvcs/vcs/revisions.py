"""Any commit as a version: resolve a revision (``checkout`` writes its files)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from helixvcs.errors import UserInputError
from helixvcs.vcs.root import find_root
from helixvcs.vcs.version import SHORT_SHA, Version, _subject

if TYPE_CHECKING:
    from dulwich.objects import Commit
    from dulwich.repo import Repo as GitRepo

_SUFFIX = re.compile(r"(~\d*|\^\d*)$")


class UnknownRevision(UserInputError):
    """A revision that names no commit."""


class NotInShallowClone(UnknownRevision):
    """A revision older than where a shallow clone's history stops."""


def _shallow_hint(repo: GitRepo) -> str:
    if not _shallow(repo):
        return ""
    return " (or one older than this shallow clone's history: git fetch --unshallow)"


def _shallow(repo: GitRepo) -> frozenset[bytes]:
    """The commits where a shallow clone's history stops (``.git/shallow``)."""
    return frozenset(repo.get_shallow())


def resolve(root: Path, rev: str) -> Version:
    """The commit ``rev`` names (sha, short sha, branch, tag, ``HEAD~2``, ``main^``)."""
    from dulwich.repo import Repo as GitRepo

    with GitRepo(str(find_root(root))) as repo:
        commit = _parse(repo, rev)
        return _version(commit, branch=_branch_named(repo, rev))


def _parse(repo: GitRepo, rev: str) -> Commit:
    from dulwich.objects import Commit
    from dulwich.objectspec import parse_commit

    base, steps = rev, list[str]()
    while (m := _SUFFIX.search(base)) and base != m.group(0):
        steps.insert(0, m.group(0))
        base = base[: m.start()]
    try:
        commit = parse_commit(repo, base)
    except (KeyError, ValueError):
        raise UnknownRevision(
            f"unknown revision {rev!r}{_shallow_hint(repo)}; give a commit sha, branch, tag "
            "or HEAD~N"
        ) from None
    for step in steps:
        count = int(step[1:] or 1)
        for _ in range(count if step[0] == "~" else 1):
            index = count - 1 if step[0] == "^" else 0
            if len(commit.parents) <= index:
                raise UnknownRevision(
                    f"unknown revision {rev!r}: {commit.id.decode()[:7]} has no such parent"
                )
            parent = _object(repo, commit.parents[index])
            if parent is None:
                raise NotInShallowClone(
                    f"revision {rev!r} is not in this shallow clone: its history stops at "
                    f"{commit.id.decode()[:7]} (git fetch --unshallow, or --deepen N)"
                )
            assert isinstance(parent, Commit)
            commit = parent
    return commit


def first_parent(root: Path, sha: str) -> str | None:
    """The full sha of commit ``sha``'s first parent; None for a root commit."""
    parents = first_parents(root, sha, limit=1)
    return parents[0] if parents else None


def first_parents(root: Path, sha: str, limit: int) -> list[str]:
    """Up to ``limit`` first-parent ancestors of commit ``sha``, nearest first.

    Empty for a root commit, or for a sha the repository does not have (any more).
    """
    from dulwich.objects import Commit
    from dulwich.repo import Repo as GitRepo

    found: list[str] = []
    with GitRepo(str(find_root(root))) as repo:
        commit = _object(repo, sha.encode("ascii"))
        while isinstance(commit, Commit) and commit.parents and len(found) < limit:
            found.append(commit.parents[0].decode("ascii"))
            commit = _object(repo, commit.parents[0])  # None where a shallow clone ends
    return found


def _object(repo: GitRepo, sha: bytes) -> object | None:
    try:
        return repo[sha]
    except KeyError:
        return None


def _branch_named(repo: GitRepo, rev: str) -> str | None:
    return rev if f"refs/heads/{rev}".encode() in repo.refs.allkeys() else None


def _version(commit: Commit, branch: str | None) -> Version:
    sha = commit.id.decode("ascii")
    return Version(
        commit=sha,
        revision=sha[:SHORT_SHA],
        dirty=False,
        fingerprint=None,
        branch=branch,
        subject=_subject(commit.message),
        author=commit.author.decode("utf-8", errors="replace"),
        time=datetime.fromtimestamp(
            commit.commit_time, tz=timezone(timedelta(seconds=commit.commit_timezone))
        ),
    )
