"""A commit's tree, written the way ``git checkout`` of it would write it.

A run of commit ``REV`` must see exactly what checking the commit out and running it
would see, or the metric it records belongs to some other version. What git writes on a
checkout is not just the blobs: clean/smudge filters (Git LFS) and line-ending rules
(``.gitattributes``, ``core.autocrlf``) turn each blob into the file, submodules are
checked out at their pinned commits, and a partial clone fetches the blobs it lacks from
its promisor remote. Re-implementing that would drift from git in many small ways, so git
writes the tree itself, into a private folder and through a private index:

    GIT_INDEX_FILE=<tmp> GIT_WORK_TREE=<scratch> git read-tree <sha>
    GIT_INDEX_FILE=<tmp> GIT_WORK_TREE=<scratch> git checkout-index --all

This touches neither the user's working tree nor their index; the only thing it may add
to ``.git`` is what git adds on any checkout (blobs a partial clone fetches). Two cases
git leaves to others are handled here, after git has written the files:

* a Git LFS file whose filter is not installed is still a pointer: its object is taken
  from the repository's LFS store (``.git/lfs/objects``), as ``git lfs smudge`` would;
  when the object is not there, the run stops with the file's name and ``git lfs pull``;
* a submodule is checked out from its own git dir (``.git/modules/<name>``) at the commit
  the tree pins, recursively; when it is missing, the run stops naming the submodule and
  ``git submodule update --init``.

The folder's name carries a digest of the settings that shape a checkout (filters, eol,
attributes files), so changing them (installing Git LFS, setting ``core.autocrlf``) gives
a new tree instead of serving one written under the old rules.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path

from helixvcs.errors import UserInputError
from helixvcs.vcs.gitcli import GitFailed, read_git
from helixvcs.vcs.root import find_root

FORMAT = "checkout-2"  # bump when what a scratch tree holds changes
_SETTINGS = re.compile(
    r"^(core\.(autocrlf|eol|safecrlf|symlinks|filemode|attributesfile|checkroundtripencoding)"
    r"|filter\..*|lfs\..*)$"
)
_LFS_SPEC = b"version https://git-lfs.github.com/spec/v1\n"
_LFS_POINTER_MAX = 1024
_LFS_FIELD = re.compile(rb"^(oid sha256:(?P<oid>[0-9a-f]{64})|size (?P<size>\d+))$", re.MULTILINE)
_SMUDGE_FAILED = re.compile(r"fatal: (?P<path>.+): smudge filter (?P<filter>\S+) failed")
_PROMISOR_FAILED = re.compile(r"could not fetch (?P<oid>[0-9a-f]{40,64}) from promisor remote")
_GITLINK = "160000"


class CheckoutFailed(UserInputError):
    """git could not write a commit's files as its checkout would be."""


def export_tree(root: Path, sha: str, trees: Path) -> Path:
    """Commit ``sha``'s checkout in a folder under ``trees`` (reused if already there)."""
    root = find_root(root)
    found = read_git(["rev-parse", "--absolute-git-dir", "--git-common-dir"], root).splitlines()
    git_dir = Path(found[0])
    common = (root / found[1]).resolve()  # git prints it relative to where it runs
    dest = trees / f"{sha}-{_settings_digest(root, common)}"
    if dest.is_dir():
        return dest
    trees.mkdir(parents=True, exist_ok=True, mode=0o700)
    scratch = Path(tempfile.mkdtemp(prefix=".tmp-", dir=trees))
    try:
        _checkout(git_dir, common, sha, scratch / "tree", worktree=root, what=sha[:7])
        os.replace(scratch / "tree", dest)
    except OSError:
        if not dest.is_dir():  # another process may have won the race
            raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return dest


def _checkout(
    git_dir: Path, common: Path, sha: str, dest: Path, *, worktree: Path, what: str
) -> None:
    """Write commit ``sha`` of ``git_dir`` (whose common dir is ``common``) to ``dest``,
    submodules included."""
    dest.mkdir(mode=0o700)
    index = dest.parent / f".index-{os.getpid()}-{abs(hash(dest)) % 10**8}"
    env = {"GIT_DIR": str(git_dir), "GIT_WORK_TREE": str(dest), "GIT_INDEX_FILE": str(index)}
    try:
        _git(["read-tree", sha], dest, env, what)
        _git(["checkout-index", "--all", "--force"], dest, env, what, umask=0o077)
        entries = _index_entries(dest, env)
        _fill_lfs_pointers(common, dest, env, entries, what)
        for path, pinned in entries.get(_GITLINK, []):
            _checkout_submodule(common, dest, path, pinned, worktree=worktree, what=what)
    finally:
        index.unlink(missing_ok=True)


def _git(args: list[str], cwd: Path, env: dict[str, str], what: str, umask: int = -1) -> str:
    try:
        return read_git(args, cwd, env, umask=umask)
    except GitFailed as exc:
        raise _explain(exc, cwd, env, what) from None


def _explain(exc: GitFailed, cwd: Path, env: dict[str, str], what: str) -> UserInputError:
    """git's failure, said in terms of what the user can do about it."""
    text = exc.stderr
    if m := _SMUDGE_FAILED.search(text):
        path, name = m.group("path"), m.group("filter")
        hint = (
            "run `git lfs pull` to fetch its data"
            if name == "lfs"
            else f"check filter.{name}.smudge in your git configuration"
        )
        return CheckoutFailed(
            f"commit {what}: the {name!r} smudge filter failed on {path}; {hint}, then run again"
        )
    if m := _PROMISOR_FAILED.search(text):
        remote = _promisor_remote(cwd, env)
        reason = _first_line(text)
        return CheckoutFailed(
            f"commit {what} needs object {m.group('oid')}, which this partial clone has not "
            f"fetched, and its promisor remote {remote} did not answer ({reason}); "
            "make the remote reachable and run again"
        )
    return CheckoutFailed(f"cannot write the files of commit {what}: {exc.reason}")


def _promisor_remote(cwd: Path, env: dict[str, str]) -> str:
    try:
        found = read_git(["config", "--get-regexp", r"^remote\..*\.promisor$"], cwd, env)
    except GitFailed:
        return "(none configured)"
    for line in found.splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lower() == "true":
            name = key.removeprefix("remote.").removesuffix(".promisor")
            try:
                url = read_git(["config", f"remote.{name}.url"], cwd, env).strip()
            except GitFailed:
                url = "?"
            return f"'{name}' ({url})"
    return "(none configured)"


def _first_line(text: str) -> str:
    for line in text.splitlines():
        line = line.strip().removeprefix("fatal: ").removeprefix("error: ")
        if line:
            return line
    return "no answer"


def _index_entries(dest: Path, env: dict[str, str]) -> dict[str, list[tuple[str, str]]]:
    """The private index's entries, ``mode -> [(path, sha)]``."""
    out = read_git(["ls-files", "--stage", "-z"], dest, env)
    entries: dict[str, list[tuple[str, str]]] = {}
    for record in out.split("\0"):
        if not record:
            continue
        meta, _, path = record.partition("\t")
        mode, sha, _stage = meta.split(" ")
        entries.setdefault(mode, []).append((path, sha))
    return entries


# ---- Git LFS ------------------------------------------------------------------------------


def _fill_lfs_pointers(
    common: Path,
    dest: Path,
    env: dict[str, str],
    entries: dict[str, list[tuple[str, str]]],
    what: str,
) -> None:
    """Replace LFS pointers that no installed filter smudged with their objects."""
    candidates = [
        path
        for mode in ("100644", "100755")
        for path, _ in entries.get(mode, [])
        if _looks_like_pointer(dest / path)
    ]
    if not candidates:
        return
    store = _lfs_store(common, dest, env)
    for path in _with_lfs_filter(dest, env, candidates):
        target = dest / path
        oid, size = _parse_pointer(target.read_bytes())
        if oid is None:
            continue
        source = store / oid[:2] / oid[2:4] / oid
        if not _lfs_object_ok(source, oid, size):
            raise CheckoutFailed(
                f"{path} in commit {what} is a Git LFS file whose data is not in this "
                f"clone ({source} is missing); run `git lfs pull` (Git LFS must be "
                "installed), then run again"
            )
        mode = target.stat().st_mode
        tmp = target.with_name(f".{target.name}.lfs-tmp")
        with source.open("rb") as src, open(tmp, "xb") as out:
            os.chmod(tmp, mode)  # private from the start, as git wrote the pointer
            shutil.copyfileobj(src, out, 1 << 20)
        os.replace(tmp, target)


def _looks_like_pointer(path: Path) -> bool:
    try:
        if path.is_symlink() or path.stat().st_size > _LFS_POINTER_MAX:
            return False
        with path.open("rb") as handle:
            return handle.read(len(_LFS_SPEC)) == _LFS_SPEC
    except OSError:
        return False


def _with_lfs_filter(dest: Path, env: dict[str, str], paths: list[str]) -> list[str]:
    """Those of ``paths`` that ``.gitattributes`` gives ``filter=lfs``."""
    out = read_git(
        ["check-attr", "--cached", "-z", "--stdin", "filter"],
        dest,
        env,
        stdin="\0".join(paths) + "\0",
    )
    fields = out.split("\0")
    return [
        fields[i]
        for i in range(0, len(fields) - 2, 3)
        if fields[i + 1] == "filter" and fields[i + 2] == "lfs"
    ]


def _parse_pointer(data: bytes) -> tuple[str | None, int | None]:
    oid = size = None
    for m in _LFS_FIELD.finditer(data):
        if m.group("oid"):
            oid = m.group("oid").decode("ascii")
        elif m.group("size"):
            size = int(m.group("size"))
    return oid, size


def _lfs_store(common: Path, cwd: Path, env: dict[str, str]) -> Path:
    """Where ``git lfs`` keeps objects: ``lfs.storage`` or ``<common dir>/lfs/objects``."""
    try:
        configured = read_git(["config", "--path", "lfs.storage"], cwd, env).strip()
    except GitFailed:
        configured = ""
    base = Path(configured) if configured else common / "lfs"
    return (base if base.is_absolute() else common / base) / "objects"


def _lfs_object_ok(path: Path, oid: str, size: int | None) -> bool:
    """The object is there and is what the pointer names (LFS objects are sha256-named)."""
    try:
        if size is not None and path.stat().st_size != size:
            return False
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        return False
    return digest.hexdigest() == oid


# ---- submodules ---------------------------------------------------------------------------


def _checkout_submodule(
    common: Path, dest: Path, path: str, pinned: str, *, worktree: Path, what: str
) -> None:
    name = _submodule_name(dest, path)
    module = _submodule_git_dir(common, worktree / path, name)
    where = f"submodule {name!r} (at {path}/) of commit {what}"
    if module is None or not _has_commit(module, pinned):
        state = "is not initialized" if module is None else f"does not have commit {pinned[:7]}"
        raise CheckoutFailed(
            f"{where} {state} in this clone; run `git submodule update --init --recursive` "
            "(or `git submodule update` to fetch the pinned commit), then run again"
        )
    target = dest / path
    if target.is_dir():
        target.rmdir()  # git leaves an empty folder where a submodule goes
    # a submodule's git dir is its own common dir: submodules are never linked worktrees
    _checkout(module, module, pinned, target, worktree=worktree / path, what=f"{what}:{path}")


def _submodule_name(dest: Path, path: str) -> str:
    """The name ``.gitmodules`` gives the submodule at ``path`` (its path, when unnamed)."""
    gitmodules = dest / ".gitmodules"
    if gitmodules.is_file():
        try:
            out = read_git(
                ["config", "-f", str(gitmodules), "-z", "--get-regexp", r"^submodule\..*\.path$"],
                dest,
                {},
            )
        except GitFailed:
            out = ""
        for record in out.split("\0"):
            key, _, value = record.partition("\n")
            if value == path:
                return key.removeprefix("submodule.").removesuffix(".path")
    return path


def _submodule_git_dir(common: Path, checkout: Path, name: str) -> Path | None:
    """``<common dir>/modules/<name>``, or the git dir of the submodule's own checkout."""
    candidates = [common / "modules" / name]
    dotgit = checkout / ".git"
    if dotgit.is_dir():
        candidates.append(dotgit)
    elif dotgit.is_file():
        text = dotgit.read_text(encoding="utf-8", errors="replace").strip()
        if text.startswith("gitdir:"):
            candidates.append((checkout / text.removeprefix("gitdir:").strip()).resolve())
    return next((c for c in candidates if (c / "HEAD").is_file()), None)


def _has_commit(git_dir: Path, sha: str) -> bool:
    try:
        read_git(["cat-file", "-e", f"{sha}^{{commit}}"], git_dir, {"GIT_DIR": str(git_dir)})
    except GitFailed:
        return False
    return True


def _settings_digest(root: Path, common: Path) -> str:
    """What, besides the commit, decides the files of a checkout."""
    try:
        found = read_git(["config", "--list", "-z"], root, {})
    except GitFailed:
        found = ""
    settings = sorted(
        record for record in found.split("\0") if _SETTINGS.match(record.partition("\n")[0])
    )
    digest = hashlib.blake2b(FORMAT.encode(), digest_size=6)
    for record in settings:
        digest.update(record.encode() + b"\0")
    attribute_files = [common / "info" / "attributes"]
    for record in settings:
        key, _, value = record.partition("\n")
        if key == "core.attributesfile":
            attribute_files.append(Path(os.path.expanduser(value)))
    for path in attribute_files:
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"-")
    return digest.hexdigest()
