"""The on-disk ``ObjectStore`` under ``.helix/objects``.

Layout, as in git's loose objects::

    objects/
      ab/cdef0123...   one file per key: first two hex characters as a fan-out folder
      tmp/<pid>-<random>.part   writes in progress

A write goes to a private temp file in ``tmp/``, is flushed and fsynced, then renamed over
its key path with ``os.replace``, so a reader, a crash or a second writer of the same key
only ever sees a complete object or none (two writers of one key both succeed; the last
rename wins and both files are valid). A writer killed mid-write leaves only its temp
file, which the next store opened on the folder removes once that pid is gone.

Directories are 0o700 and objects 0o600: intermediates are the user's data.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

from helixvcs.liveness import process_alive
from helixvcs.store.base import KEY_RE, ObjectInfo, ObjectStore, check_key
from helixvcs.store.errors import (
    CorruptObject,
    MissingObject,
    StoreReadError,
    StoreUnavailable,
    StoreWriteError,
)
from helixvcs.store.hot import MISS, HotTier
from helixvcs.store.objectfile import (
    HEADER_SIZE,
    Corruption,
    Encoded,
    Packed,
    check_size,
    compress_encoded,
    decode_raw,
    pack,
    parse_header,
    unpack_raw,
    verify,
)

TEMP_DIR = "tmp"
_TEMP_RE = re.compile(r"(\d+)-[0-9a-f]+\.part")
_FANOUT_RE = re.compile(r"[0-9a-f]{2}")


class DiskObjectStore(ObjectStore):
    """Objects as files under ``root`` (for a repository, ``REPO/.helix/objects``).

    With ``hot`` (the default), what it stores and loads also goes to the user's hot tier
    while a warm server runs, and loads are served from there first (``hot.py``)."""

    def __init__(self, root: Path | str, *, level: int = 3, hot: bool = True) -> None:
        self.root = Path(root)
        self.level = level
        self._hot: HotTier | bool | None = hot  # opened on first use
        self._tmp = self.root / TEMP_DIR
        try:
            _make_private_dir(self.root, parents=True)
            _make_private_dir(self._tmp)
            self.removed_temp_files = remove_stale_temp_files(self._tmp)
            """How many abandoned temp files opening the store removed."""
        except OSError as exc:
            raise StoreUnavailable(self.root, exc) from None

    def __repr__(self) -> str:
        return f"DiskObjectStore({str(self.root)!r})"

    def path(self, key: str) -> Path:
        """Where ``key`` lives; the key is validated first so it cannot escape ``root``."""
        check_key(key)
        return self.root / key[:2] / key[2:]

    @property
    def hot(self) -> HotTier | None:
        if self._hot is True:
            self._hot = HotTier.open()
        return self._hot or None

    def hot_load_seconds(self, key: str) -> float | None:
        hot = self.hot
        return None if hot is None else hot.load_seconds(key)

    def has(self, key: str) -> bool:
        path = self.path(key)
        try:
            return path.is_file()
        except PermissionError as exc:  # a fan-out folder that cannot be read
            raise StoreReadError(key, path, exc) from None

    def pack(self, value: object) -> Packed:
        return pack(value, self.level)

    def compress(self, encoded: Encoded) -> Packed:
        return compress_encoded(encoded, self.level)

    def put_packed(self, key: str, packed: Packed) -> ObjectInfo:
        path = self.path(key)
        existing = self._existing_info(key)
        if existing is not None:
            return existing
        self._write(key, path, packed)
        if self.hot is not None and packed.raw is not None:
            self.hot.put(key, packed.header.codec, packed.raw)
        return packed.info(key)

    def alias(self, key: str, existing: str) -> ObjectInfo | None:
        """A hard link: one file, two names (a copy where links are not allowed)."""
        source, path = self.path(existing), self.path(key)
        info = self.info(existing)
        if info is None:
            return None
        if self.has(key):
            return self.info(key)
        temp = self._tmp / f"{os.getpid()}-{secrets.token_hex(8)}.part"
        try:
            _make_private_dir(path.parent)
            try:
                os.link(source, temp)
            except OSError:  # another file system, or links refused: copy it
                _write_synced(temp, source.read_bytes())
            os.replace(temp, path)
            _fsync_dir(path.parent)
        except FileNotFoundError:  # gone meanwhile (gc): nothing to alias
            _remove_quietly(temp)
            return None
        except OSError as exc:
            _remove_quietly(temp)
            raise StoreWriteError(key, path, exc) from None
        return dataclasses.replace(info, key=key, write_seconds=0.0)

    def get(self, key: str, *, checksum: str | None = None) -> object:
        path = self.path(key)
        hot = self.hot
        if hot is not None:
            value = hot.get(key)
            if value is not MISS:
                return value
        try:
            with open(path, "rb") as file:
                stat = os.fstat(file.fileno())
                data = file.read()
        except (FileNotFoundError, NotADirectoryError):  # no object, or no fan-out folder
            raise MissingObject(key, str(self.root)) from None
        except IsADirectoryError:
            raise self._discard_folder(key, path) from None
        except OSError as exc:
            raise StoreReadError(key, path, exc) from None
        try:
            codec, raw = unpack_raw(data, checksum)
            if hot is not None:  # before decoding: a value may be a view of ``raw``
                hot.put(key, codec, memoryview(raw))
            return decode_raw(codec, raw)
        except Corruption as exc:
            raise self._discard(key, path, stat, exc.reason) from None

    def info(self, key: str) -> ObjectInfo | None:
        path = self.path(key)
        try:
            with open(path, "rb") as file:
                stat = os.fstat(file.fileno())
                head = file.read(HEADER_SIZE)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except IsADirectoryError:
            raise self._discard_folder(key, path) from None
        except OSError as exc:
            raise StoreReadError(key, path, exc) from None
        try:
            header = parse_header(head)
            check_size(header, stat.st_size)
        except Corruption as exc:
            raise self._discard(key, path, stat, exc.reason) from None
        return header.info(key)

    def read_object(self, key: str) -> bytes:
        path = self.path(key)
        try:
            with open(path, "rb") as file:
                stat = os.fstat(file.fileno())
                data = file.read()
        except FileNotFoundError:
            raise MissingObject(key, str(self.root)) from None
        except OSError as exc:
            raise StoreReadError(key, path, exc) from None
        try:
            verify(data)
        except Corruption as exc:
            raise self._discard(key, path, stat, exc.reason) from None
        return data

    def write_object(self, key: str, data: bytes, *, checksum: str | None = None) -> ObjectInfo:
        path = self.path(key)
        try:
            header = verify(data, checksum)
        except Corruption as exc:
            raise CorruptObject(key, None, exc.reason) from None
        existing = self._existing_info(key)
        if existing is not None:
            return existing
        self._write(key, path, data)
        return header.info(key)

    def delete(self, key: str) -> bool:
        path = self.path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StoreWriteError(key, path, exc, removing=True) from None
        return True

    def keys(self) -> Iterator[str]:
        for key, _ in self._entries():
            yield key

    def total_bytes(self) -> int:
        total = 0
        for _, entry in self._entries():
            with contextlib.suppress(FileNotFoundError):
                total += entry.stat().st_size
        return total

    def _existing_info(self, key: str) -> ObjectInfo | None:
        """Info of the object already under ``key``; one with a bad header is replaced."""
        try:
            return self.info(key)
        except CorruptObject:
            return None

    def _write(self, key: str, path: Path, packed: Packed | bytes) -> None:
        """Write through a temp file and rename; on any OSError leave nothing behind."""
        temp = self._tmp / f"{os.getpid()}-{secrets.token_hex(8)}.part"
        chunks = (packed,) if isinstance(packed, bytes) else (packed.header_bytes, packed.payload)
        try:
            new_fanout = _make_private_dir(path.parent)
            _write_synced(temp, *chunks)
            os.replace(temp, path)
            _fsync_dir(path.parent)
            if new_fanout:
                _fsync_dir(self.root)
        except OSError as exc:
            _remove_quietly(temp)
            raise StoreWriteError(key, path, exc) from None
        except BaseException:  # KeyboardInterrupt and friends: still leave nothing behind
            _remove_quietly(temp)
            raise

    def _discard(self, key: str, path: Path, seen: os.stat_result, reason: str) -> CorruptObject:
        """Remove the damaged file we read, unless a writer has replaced it meanwhile."""
        try:
            current = path.stat()
            if (current.st_ino, current.st_dev) == (seen.st_ino, seen.st_dev):
                path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StoreWriteError(key, path, exc, removing=True) from None
        return CorruptObject(key, path, reason)

    def _discard_folder(self, key: str, path: Path) -> CorruptObject:
        """A folder where an object file should be is damage to the store: removed."""
        try:
            shutil.rmtree(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StoreWriteError(key, path, exc, removing=True) from None
        return CorruptObject(key, path, "a folder, not an object file")

    def _entries(self) -> Iterator[tuple[str, os.DirEntry[str]]]:
        """(key, file entry) for every object, skipping ``tmp/`` and stray files."""
        with os.scandir(self.root) as fanouts:
            folders = [e for e in fanouts if _FANOUT_RE.fullmatch(e.name) and e.is_dir()]
        for folder in folders:
            try:
                with os.scandir(folder.path) as files:
                    entries = list(files)
            except OSError:  # gone meanwhile, or unreadable: `helix fsck` reports it
                continue
            for entry in entries:
                key = folder.name + entry.name
                if KEY_RE.fullmatch(key) and entry.is_file(follow_symlinks=False):
                    yield key, entry


def fanout_name(name: str) -> bool:
    """Whether ``name`` is that of a fan-out folder (two lowercase hex characters)."""
    return _FANOUT_RE.fullmatch(name) is not None


def remove_stale_temp_files(temp_dir: Path) -> int:
    """Remove temp files whose writing process no longer exists; returns how many.

    Files of live processes are kept: they are writes in progress. Only names of the
    form ``<pid>-<hex>.part`` are touched. POSIX only (``os.kill(pid, 0)`` probes).
    """
    if os.name != "posix":
        return 0
    removed = 0
    with os.scandir(temp_dir) as entries:
        names = [entry.name for entry in entries]
    for name in names:
        match = _TEMP_RE.fullmatch(name)
        if match is None or process_alive(int(match.group(1))):
            continue
        with contextlib.suppress(FileNotFoundError):
            (temp_dir / name).unlink()
            removed += 1
    return removed


def _make_private_dir(path: Path, *, parents: bool = False) -> bool:
    """Create ``path`` with mode 0o700 (whatever the umask); ``False`` if it existed.

    A file where a fan-out folder belongs holds no object (objects are two levels down):
    it is removed and the folder made."""
    try:
        path.mkdir(mode=0o700, parents=parents)
    except FileExistsError:
        if path.is_dir() or not _FANOUT_RE.fullmatch(path.name):
            return False
        path.unlink()
        path.mkdir(mode=0o700)
    os.chmod(path, 0o700)
    return True


def _remove_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def _write_synced(path: Path, *chunks: bytes) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    descriptor = os.open(path, flags, 0o600)
    with open(descriptor, "wb") as file:
        for chunk in chunks:
            file.write(chunk)
        file.flush()
        os.fsync(file.fileno())


def _fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in ``path`` durable (a no-op where unsupported)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
