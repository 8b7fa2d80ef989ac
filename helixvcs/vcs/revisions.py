"""Any commit as a version: resolve a revision, and export its tree into a scratch folder.

``export_tree`` writes the commit's tracked files into a private folder (under
``.helix/trees/`` in practice) straight from the object database. It never checks
anything out: the user's working tree, index, HEAD and stash are not touched. A tree is
written to a temporary folder and renamed into place, so a half-written tree is never
mistaken for a complete one; trees are immutable, so an existing one is reused.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
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
_GITLINK = 0o160000


class UnknownRevision(UserInputError):
    """A revision that names no commit."""


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
            f"unknown revision {rev!r}; give a commit sha, branch, tag or HEAD~N"
        ) from None
    for step in steps:
        count = int(step[1:] or 1)
        for _ in range(count if step[0] == "~" else 1):
            index = count - 1 if step[0] == "^" else 0
            if len(commit.parents) <= index:
                raise UnknownRevision(
                    f"unknown revision {rev!r}: {commit.id.decode()[:7]} has no such parent"
                )
            parent = repo[commit.parents[index]]
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


def export_tree(root: Path, sha: str, dest: Path) -> Path:
    """Write commit ``sha``'s tracked files to ``dest`` (reused if it is already there)."""
    from dulwich.objects import Commit
    from dulwich.repo import Repo as GitRepo

    if dest.is_dir():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    scratch = Path(tempfile.mkdtemp(prefix=".tmp-", dir=dest.parent))
    try:
        with GitRepo(str(find_root(root))) as repo:
            commit = repo[sha.encode("ascii")]
            assert isinstance(commit, Commit)
            _write_tree(repo, commit.tree, scratch)
        os.replace(scratch, dest)
    except OSError:
        shutil.rmtree(scratch, ignore_errors=True)
        if not dest.is_dir():  # another process may have won the race
            raise
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)
    return dest


def _write_tree(repo: GitRepo, tree_id: bytes, dest: Path) -> None:
    from dulwich.object_store import iter_tree_contents

    for entry in iter_tree_contents(repo.object_store, tree_id):  # type: ignore[arg-type]
        if entry.path is None or entry.sha is None or entry.mode is None:
            continue
        if entry.mode == _GITLINK:
            continue  # submodules are not part of the commit's content
        rel = os.fsdecode(entry.path)
        target = dest / rel
        if not target.resolve().is_relative_to(dest.resolve()):
            continue  # a malicious path never escapes the scratch folder
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)  # private, as .helix/
        data = repo.object_store[entry.sha].as_raw_string()
        if stat.S_ISLNK(entry.mode):
            os.symlink(os.fsdecode(data), target)
        else:
            target.write_bytes(data)
            target.chmod(0o700 if entry.mode & 0o111 else 0o600)
