"""Content digests of data files, with a stat cache so unchanged files are not re-read.

Like git's index: a file whose size, ``mtime_ns`` and inode are what they were when it was
last hashed is assumed unchanged, so an unchanged 1 GB source costs one ``stat``. Also
like git, an entry hashed within :data:`RACY_SECONDS` of the file's mtime is "racily
clean": the file could still be written within the same timestamp tick without its stat
changing, so such an entry is never trusted and the file is hashed again next time.

On disk the cache is one JSON object, replaced atomically (temp file in the same folder,
then ``os.replace``); a missing or unreadable cache is just an empty one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from helixvcs.hashing.digests import DIGEST_SIZE, digest
from helixvcs.liveness import process_alive

__all__ = [
    "RACY_SECONDS",
    "StatCache",
    "files_digest",
    "remove_abandoned_temp_files",
    "write_atomically",
]

RACY_SECONDS = 2
_CHUNK = 1 << 20
_FORMAT = 1


@dataclass(frozen=True)
class _Entry:
    size: int
    mtime_ns: int
    inode: int
    digest: str
    hashed_ns: int  # wall clock when the content was read

    def matches(self, st: os.stat_result) -> bool:
        return (self.size, self.mtime_ns, self.inode) == (st.st_size, st.st_mtime_ns, st.st_ino)

    @property
    def trusted(self) -> bool:
        """Hashed well after its last modification, so a same-stat rewrite is impossible."""
        return self.mtime_ns <= self.hashed_ns - RACY_SECONDS * 1_000_000_000


class StatCache:
    """Maps absolute file paths to ``(size, mtime_ns, inode, content digest)``."""

    def __init__(self, path: Path | None) -> None:
        self.path = path  # None: in memory only
        self._entries: dict[str, _Entry] = _load(path) if path is not None else {}
        self._dirty = False
        self._pending: dict[str, Future[str]] = {}  # digests being taken (``prefetch``)

    def __len__(self) -> int:
        return len(self._entries)

    def seen(self, path: Path) -> tuple[int, int, int] | None:
        """``(size, mtime_ns, inode)`` of ``path`` when its digest was last taken: a file
        that no longer has them may no longer have that digest."""
        entry = self._entries.get(os.path.abspath(path))
        return None if entry is None else (entry.size, entry.mtime_ns, entry.inode)

    def file_digest(self, path: Path) -> str:
        """The content digest of ``path``, re-reading it only if its stat changed."""
        key = os.path.abspath(path)
        pending = self._pending.pop(key, None)
        if pending is not None:  # taken by ``prefetch``: its digest, or its error
            return pending.result()
        before = os.stat(key)
        known = self._known(key, before)
        return known if known is not None else self._take(key, before)

    def prefetch(self, paths: Sequence[Path]) -> None:
        """Start taking the digests of those of ``paths`` whose stat changed, two files at
        a time, on threads of their own (reading and blake2b let go of the GIL): a
        workflow's sources of 96 and 48 MB took 0.5 s one after the other. ``file_digest``
        then waits for a file's digest (or raises the error taking it met)."""
        stale = []
        for path in paths:
            key = os.path.abspath(path)
            try:
                if self._known(key, os.stat(key)) is not None:
                    continue
            except OSError:
                continue  # ``file_digest`` reports it
            if key not in self._pending and key not in stale:
                stale.append(key)
        if len(stale) < 2:  # nothing to take side by side
            return
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="helix-digest")
        for key in stale:
            self._pending[key] = pool.submit(self._take, key)
        pool.shutdown(wait=False)

    def _known(self, key: str, stat: os.stat_result) -> str | None:
        """The kept digest of ``key`` if the file still has the stat it was taken at."""
        entry = self._entries.get(key)
        return entry.digest if entry is not None and entry.trusted and entry.matches(stat) else None

    def _take(self, key: str, before: os.stat_result | None = None) -> str:
        """Read ``key`` (an absolute path) for its digest, and keep it when the file did
        not change while it was read."""
        if before is None:
            before = os.stat(key)
        hashed_ns = time.time_ns()
        content = _hash_content(key)
        after = os.stat(key)
        fresh = _Entry(before.st_size, before.st_mtime_ns, before.st_ino, content, hashed_ns)
        if fresh.matches(after):  # not written while we read it
            if self._entries.get(key) != fresh:
                self._entries[key] = fresh
                self._dirty = True
        elif self._entries.pop(key, None) is not None:
            self._dirty = True
        return content

    def save(self) -> None:
        """Write the cache if anything changed since it was loaded or last saved."""
        if self.path is None or not self._dirty:
            return
        entries = {
            k: [e.size, e.mtime_ns, e.inode, e.digest, e.hashed_ns]
            for k, e in self._entries.items()
        }
        data = json.dumps({"format": _FORMAT, "entries": entries}, sort_keys=True)
        try:
            write_atomically(self.path, data.encode(), durable=False)
        except OSError:  # a cache: unsaved, the next command hashes those files again
            return
        self._dirty = False


def files_digest(root: Path, paths: Sequence[Path], cache: StatCache) -> str:
    """One digest over the files' paths (posix, relative to ``root``) and contents.

    Adding, removing, renaming or editing a file changes it; listing order does not.
    """
    pairs = sorted({(_relative(root, p), cache.file_digest(_absolute(root, p))) for p in paths})
    return digest("files", str(len(pairs)), *(part for pair in pairs for part in pair))


def _absolute(root: Path, path: Path) -> Path:
    return path if path.is_absolute() else root / path


def _relative(root: Path, path: Path) -> str:
    absolute = _absolute(root, path)
    for base, target in ((root, absolute), (root.resolve(), absolute.resolve())):
        with contextlib.suppress(ValueError):
            return target.relative_to(base).as_posix()
    return absolute.as_posix()  # outside the root: the absolute path still names it


def _hash_content(path: str) -> str:
    h = hashlib.blake2b(digest_size=DIGEST_SIZE)
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buffer):
            h.update(view[:n])
    return h.hexdigest()


def _load(path: Path) -> dict[str, _Entry]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("format") != _FORMAT:
            return {}
        return {k: _entry(v) for k, v in raw["entries"].items()}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}  # missing or corrupt: start empty, the files are simply hashed again


def _entry(fields: list[object]) -> _Entry:
    size, mtime_ns, inode, content, hashed_ns = fields
    if not all(isinstance(n, int) for n in (size, mtime_ns, inode, hashed_ns)):
        raise TypeError("stat cache entry with non-integer stat fields")
    if not isinstance(content, str):
        raise TypeError("stat cache entry without a digest")
    return _Entry(size, mtime_ns, inode, content, hashed_ns)  # type: ignore[arg-type]


def write_atomically(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` through a private temp file (0600) beside it.

    The temp name carries the writer's pid (``.NAME.<pid>-<hex>.tmp``), so that a later
    command can tell a write in progress from one whose process died
    (:func:`remove_abandoned_temp_files`). ``durable=False`` skips the fsync, for a cache
    whose reader treats a damaged or missing file as empty: after a power loss it may
    find the previous version, nothing, or bytes it cannot read, never a mix it accepts;
    the fsync costs 5-20 ms of every command that saves one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_abandoned_temp_files(path.parent)
    tmp = path.parent / f".{path.name}.{os.getpid()}-{secrets.token_hex(6)}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


_TEMP_RE = re.compile(r"\..+\.(?:(?P<pid>\d+)-[0-9a-f]{12}|.+)\.tmp")
ABANDONED_SECONDS = 3600.0  # a temp name without a pid (older helix): older than this is dead


def remove_abandoned_temp_files(folder: Path) -> int:
    """Remove ``write_atomically``'s temp files in ``folder`` whose writer is gone: its pid
    no longer runs, or (a name from before pids were recorded) it is over an hour old.
    Returns how many were removed; a folder that cannot be read is left alone."""
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        match = _TEMP_RE.fullmatch(entry.name)
        if match is None or not entry.is_file(follow_symlinks=False):
            continue
        dead = False
        if match["pid"] is not None:
            dead = not process_alive(int(match["pid"]))
        else:
            with contextlib.suppress(OSError):
                dead = time.time() - entry.stat().st_mtime > ABANDONED_SECONDS
        if dead:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed += 1
    return removed
