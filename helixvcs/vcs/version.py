"""Which version of the workflow is checked out: the HEAD commit plus uncommitted changes.

A run of the working tree must be recorded against something stable. A clean tree is
its commit; a dirty tree is its commit plus a *fingerprint* of the changes, so that two
runs of the same uncommitted edit are recognisably the same version and any other edit
is not. The fingerprint covers what git would commit with ``git add -A``: modified,
added, deleted and untracked-but-not-ignored files, each by path, mode and content. It
does not include HEAD, so label a version by ``commit`` and ``fingerprint`` together.
A change of the executable bit alone, which cannot change a result, does not make a tree
dirty (git would list it).
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, cast

from helixvcs.vcs.root import find_root

if TYPE_CHECKING:
    from dulwich.objects import Commit
    from dulwich.refs import Ref
    from dulwich.repo import Repo as GitRepo

ContentDigest = Callable[[Path], str]
SHORT_SHA = 7
NO_COMMITS = "worktree"


@dataclass(frozen=True)
class Version:
    """A checked-out version of a repository, as helix records it with a run."""

    commit: str | None  # full sha of HEAD; None when the repository has no commits yet
    revision: str  # "1a2b3c4", "1a2b3c4+dirty", or "worktree" before the first commit
    dirty: bool  # the working tree (or index) differs from HEAD
    fingerprint: str | None  # digest of the uncommitted changes; None when clean
    branch: str | None  # None on a detached HEAD
    subject: str | None  # first line of the commit message
    author: str | None  # "Name <email>"
    time: datetime | None  # commit time, in the committer's time zone


def working_version(root: Path, content_digest: ContentDigest | None = None) -> Version:
    """The version checked out at ``root`` (or the repo above it), read without writing.

    Nothing in ``.git`` is touched, not even the index stat cache that ``git status``
    refreshes, so this is safe to call while git commands run in the same repository.
    ``content_digest`` (a stat cache's) spares re-reading unchanged files: it must give
    the same 40-hex blake2b digest of a file's content that reading it would.
    """
    from dulwich.repo import Repo as GitRepo

    root = find_root(root)
    with GitRepo(str(root)) as repo:
        head = _head_commit(repo)
        branch = _branch(repo)
        changed = sorted(_changed_paths(repo, head))
    fingerprint = _fingerprint(root, changed, content_digest) if changed else None
    if head is None:
        return Version(None, NO_COMMITS, bool(changed), fingerprint, branch, None, None, None)
    sha = head.id.decode("ascii")
    revision = sha[:SHORT_SHA] + ("+dirty" if changed else "")
    return Version(
        commit=sha,
        revision=revision,
        dirty=bool(changed),
        fingerprint=fingerprint,
        branch=branch,
        subject=_subject(head.message),
        author=head.author.decode("utf-8", errors="replace"),
        time=datetime.fromtimestamp(
            head.commit_time, tz=timezone(timedelta(seconds=head.commit_timezone))
        ),
    )


def _head_commit(repo: GitRepo) -> Commit | None:
    from dulwich.objects import Commit

    try:
        obj = repo[b"HEAD"]
    except KeyError:  # an unborn branch: HEAD names a branch with no commits yet
        return None
    return obj if isinstance(obj, Commit) else None


def _branch(repo: GitRepo) -> str | None:
    names, _ = repo.refs.follow(cast("Ref", b"HEAD"))
    if len(names) < 2:  # HEAD holds a sha: detached
        return None
    return names[-1].decode("utf-8", errors="replace").removeprefix("refs/heads/")


def _subject(message: bytes) -> str:
    lines = message.decode("utf-8", errors="replace").strip().splitlines()
    return lines[0] if lines else ""


def _changed_paths(repo: GitRepo, head: Commit | None) -> set[bytes]:
    """Paths git status would list: staged, unstaged, and untracked-not-ignored.

    Built from dulwich's read-only pieces rather than ``porcelain.status``, which by
    default refreshes the index's stat cache on disk.
    """
    from dulwich.index import get_unstaged_changes
    from dulwich.porcelain import get_untracked_paths

    index = repo.open_index()
    tree = head.tree if head is not None else None
    changed: set[bytes] = set()
    for (old, new), _, _ in index.changes_from_tree(repo.object_store, tree):
        changed.update(p for p in (old, new) if p is not None)
    normalizer = repo.get_blob_normalizer()
    changed.update(get_unstaged_changes(index, repo.path, normalizer.checkin_normalize))
    untracked = get_untracked_paths(repo.path, repo.path, index, exclude_ignored=True)
    changed.update(os.fsencode(p) for p in untracked)
    return changed


def _fingerprint(root: Path, paths: Iterable[bytes], content: ContentDigest | None) -> str:
    """blake2b over (path, mode, content digest) of each changed path, in path order."""
    digest = hashlib.blake2b(digest_size=20)
    for path in paths:
        state = _file_state(root / os.fsdecode(path), content or _read_digest)
        digest.update(path + b"\0" + state + b"\n")
    return digest.hexdigest()


def _read_digest(path: Path) -> str:
    content = hashlib.blake2b(digest_size=20)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            content.update(chunk)
    return content.hexdigest()


def _file_state(path: Path, content: ContentDigest) -> bytes:
    try:
        info = path.lstat()
    except FileNotFoundError:
        return b"deleted"
    if stat.S_ISLNK(info.st_mode):
        target = os.fsencode(os.readlink(path))
        return b"120000 " + hashlib.blake2b(target, digest_size=20).hexdigest().encode()
    if stat.S_ISDIR(info.st_mode):  # a submodule: its own version is not ours to hash
        return b"160000"
    mode = b"100755" if info.st_mode & stat.S_IXUSR else b"100644"
    return mode + b" " + content(path).encode()
