"""Which version of the workflow is checked out: the HEAD commit plus uncommitted changes.

A run of the working tree must be recorded against something stable. A clean tree is
its commit; a dirty tree is its commit plus a *fingerprint* of the changes, so that two
runs of the same uncommitted edit are recognisably the same version and any other edit
is not. The fingerprint covers what git would commit with ``git add -A``: modified,
added, deleted and untracked-but-not-ignored files, each by path, mode and content, and
submodules by the commit they are at and their own changes. It does not include HEAD, so
label a version by ``commit`` and ``fingerprint`` together. A change of the executable
bit alone, which cannot change a result, does not make a tree dirty (git would list it).
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, cast

from helixvcs.vcs.gitcli import read_git
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
    changed = _changed_paths(root)
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


def _changed_paths(root: Path) -> dict[bytes, str]:
    """Paths ``git status`` lists (staged, unstaged, untracked-not-ignored), each with its
    submodule state (``"S..."``, or ``"N..."`` for a plain file).

    git itself answers, so that everything it applies when comparing a file with the
    index applies here too: clean filters (Git LFS), line-ending rules, submodules,
    sparse checkouts. ``--no-optional-locks`` keeps it from refreshing the index's stat
    cache, so nothing in ``.git`` is written. Submodules are always looked into (a
    ``submodule.<name>.ignore`` setting cannot hide a change a run would see), and a
    change of the executable bit alone is not a change.
    """
    out = read_git(
        [
            "--no-optional-locks",
            "-c",
            "core.fileMode=false",
            "status",
            "--porcelain=v2",
            "-z",
            "--untracked-files=all",
            "--ignore-submodules=none",
            "--no-renames",
        ],
        root,
    )
    changed: dict[bytes, str] = {}
    for record in out.split("\0"):
        kind, _, rest = record.partition(" ")
        if kind == "?":
            changed[os.fsencode(rest)] = "N..."
        elif kind in ("1", "u"):
            fields = rest.split(" ", 7 if kind == "1" else 9)
            xy, sub, path = fields[0], fields[1], fields[-1]
            if kind == "1" and xy[1] == "." and fields[5] == fields[6] and sub == "N...":
                continue  # staged, but only the mode: the content is HEAD's
            changed[os.fsencode(path)] = sub
    return changed


def _fingerprint(root: Path, paths: Mapping[bytes, str], content: ContentDigest | None) -> str:
    """blake2b over (path, mode, content digest) of each changed path, in path order; a
    submodule by the commit it is at and, when it has changes of its own, their
    fingerprint."""
    digest = hashlib.blake2b(digest_size=20)
    for path in sorted(paths):
        where = root / os.fsdecode(path)
        if paths[path].startswith("S"):
            state = _submodule_state(where, content)
        else:
            state = _file_state(where, content or _read_digest)
        digest.update(path + b"\0" + state + b"\n")
    return digest.hexdigest()


def _submodule_state(path: Path, content: ContentDigest | None) -> bytes:
    if not (path / ".git").exists():
        return _file_state(path, content or _read_digest)
    inner = working_version(path, content)
    return f"160000 {inner.commit} {inner.fingerprint or '-'}".encode()


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
    if stat.S_ISDIR(info.st_mode):  # a file became a folder
        return b"040000"
    mode = b"100755" if info.st_mode & stat.S_IXUSR else b"100644"
    return mode + b" " + content(path).encode()
