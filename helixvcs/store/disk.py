"""The on-disk ``ObjectStore`` under ``.helix/objects``.

Layout, as in git: loose objects, and packs of small ones::

    objects/
      ab/cdef0123...   a loose object: one file per key, the first two hex characters
                       of the key as a fan-out folder
      pack/            packs of small objects, each with its index (``packfile``)
      tmp/<pid>-<random>.part   writes in progress

A single write is a loose object, as in git; writes inside ``batch()`` (a pull, or any
bulk writer) put objects under ``PACK_THRESHOLD`` into one pack per batch, fsynced once;
``repack`` (run by ``helix gc``) packs the small loose objects later. A key is looked up
loose first, then in the packs. The size the store reports for an object is what it
takes on disk: a loose file rounded up to whole 4 KiB blocks, a packed object its entry
and its index record.

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
import errno
import itertools
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from stat import S_ISREG

from helixvcs.liveness import process_alive
from helixvcs.store.base import (
    KEY_RE,
    STREAM_PIECE,
    ObjectInfo,
    ObjectStore,
    ReadFailed,
    Repacked,
    check_key,
    failing_apart,
)
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
    ArrivingCheck,
    Corruption,
    Encoded,
    Packed,
    check_size,
    compress_encoded,
    decode_raw,
    pack,
    parse_header,
    unpack_raw,
    verified_write,
    verify,
)
from helixvcs.store.packfile import PACK_THRESHOLD, Record, fsync_dir, packed_bytes
from helixvcs.store.packs import EntryDamage, Packs

TEMP_DIR = "tmp"
PACK_DIR = "pack"
#: What a loose file takes on disk is rounded up to this (the block of common file systems).
BLOCK = 4096
#: A batch writes a pack once it holds this many bytes.
BATCH_BYTES = 16 * 2**20
#: ``repack`` rebuilds the index of a pack left without one this long (its writer died).
ORPHAN_SECONDS = 60
#: What a stat of a loose path that holds no object fails with (as ``Path.is_file``).
_NOT_THERE = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP})
_TEMP_RE = re.compile(r"(\d+)-[0-9a-f]+\.part")
_FANOUT_RE = re.compile(r"[0-9a-f]{2}")


HOT_RETRY_SECONDS = 1.0
"""How often a store without a hot tier looks again whether a warm server has started."""


class DiskObjectStore(ObjectStore):
    """Objects as files under ``root`` (for a repository, ``REPO/.helix/objects``).

    With ``hot`` (the default), what it stores and loads also goes to the user's hot tier
    while a warm server runs, and loads are served from there first (``hot.py``)."""

    def __init__(
        self, root: Path | str, *, level: int = 3, hot: bool = True, pack_small: bool = False
    ) -> None:
        self.root = Path(root)
        self.level = level
        self._hot: HotTier | bool | None = hot  # opened on first use
        self._hot_retry = 0.0  # when to look for a tier again, while there is none
        self._missed: list[tuple[str, str, memoryview]] = []  # for a tier still to come
        self._missed_bytes = 0
        self._tmp = self.root / TEMP_DIR
        self.packs = Packs(self.root / PACK_DIR, self._tmp)
        self.pack_small = pack_small
        """Write every small object straight into a pack (of its own, outside a batch)."""
        self._pending: dict[str, bytes] = {}  # a batch's objects, not written yet
        self._pending_bytes = 0
        self._batches = 0
        self._batch_lock = threading.RLock()
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
        """The user's hot tier, while a warm server runs.

        Without one, it is looked for again at most once a second: the first command in a
        repository starts the server and runs in its own process meanwhile, and once the
        server is up, the values that run keeps and loads go to the tier too, for the next
        run to load from memory."""
        if self._hot is True or (self._hot is None and time.monotonic() >= self._hot_retry):
            self._hot = HotTier.open()
            self._hot_retry = time.monotonic() + HOT_RETRY_SECONDS
            if self._hot:
                self._hand_over_missed(self._hot)
        return self._hot or None

    def _miss(self, key: str, codec: str, raw: memoryview) -> None:
        """Keep a value for a hot tier that is coming (``hot.coming``: a server is
        starting), up to a quarter of the tier's budget."""
        from helixvcs.store.hot import budget_bytes, coming

        if self._hot is not None or not coming():
            return
        with self._batch_lock:
            if self._missed_bytes + raw.nbytes <= budget_bytes() // 4:
                self._missed.append((key, codec, raw))
                self._missed_bytes += raw.nbytes

    def _hand_over_missed(self, tier: HotTier) -> None:
        with self._batch_lock:
            missed, self._missed, self._missed_bytes = self._missed, [], 0
        for key, codec, raw in missed:
            tier.put(key, codec, raw)

    def hot_load_seconds(self, key: str) -> float | None:
        hot = self.hot
        return None if hot is None else hot.load_seconds(key)

    def has(self, key: str) -> bool:
        return bool(self.has_many((key,)))

    def has_many(self, keys: Iterable[str]) -> set[str]:
        """A stat of each key's loose path, then the packs, listed once for all the keys
        not loose (``has`` key by key lists ``pack/`` again for each one it misses: 15 us
        a key, 0.15 s for the 10,000 operators of a run)."""
        root = str(self.root)
        found, missing = set(), []
        for key in keys:
            check_key(key)
            path = f"{root}/{key[:2]}/{key[2:]}"
            try:
                if S_ISREG(os.stat(path).st_mode):
                    found.add(key)
                    continue
            except OSError as exc:
                if exc.errno not in _NOT_THERE:  # a fan-out folder that cannot be read
                    raise StoreReadError(key, Path(path), exc) from None
            missing.append(key)
        if missing:
            with self._batch_lock:
                found.update(key for key in missing if key in self._pending)
            self.packs.refresh()
            found.update(key for key in missing if self.packs.find(key, again=False))
        return found

    # -- batches of small objects, written as one pack -----------------------------------

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Small objects written inside go into one pack per ``BATCH_BYTES``, fsynced
        once, when the batch ends (or fills); until then this store (not another
        process) sees them. A kill before the end loses the batch's objects, nothing else."""
        with self._batch_lock:
            self._batches += 1
        try:
            yield
        finally:
            with self._batch_lock:
                self._batches -= 1
                if self._batches == 0:
                    self.flush()

    def flush(self) -> None:
        """Write the objects staged by a batch as a pack."""
        with self._batch_lock:
            if not self._pending:
                return
            items = list(self._pending.items())
            try:
                self.packs.write((bytes.fromhex(k), data) for k, data in items)
            except OSError as exc:
                self._pending.clear()
                self._pending_bytes = 0
                raise StoreWriteError(items[0][0], self.packs.folder, exc) from None
            self._pending.clear()
            self._pending_bytes = 0

    def _small(self, size: int) -> bool:
        return size < PACK_THRESHOLD and (self.pack_small or self._batches > 0)

    def _stage(self, key: str, data: bytes) -> None:
        with self._batch_lock:
            if key not in self._pending:
                self._pending[key] = data
                self._pending_bytes += len(data)
            if self._batches == 0 or self._pending_bytes >= BATCH_BYTES:
                self.flush()

    def pack(self, value: object) -> Packed:
        return pack(value, self.level)

    def compress(self, encoded: Encoded) -> Packed:
        return compress_encoded(encoded, self.level)

    def put_packed(self, key: str, packed: Packed) -> ObjectInfo:
        path = self.path(key)
        existing = self._existing_info(key)
        if existing is not None:
            return existing
        size = packed.header.total_bytes
        if self._small(size):
            self._stage(key, packed.header_bytes + packed.payload)
            disk = packed_bytes(size)
        else:
            self._write(key, path, packed)
            disk = loose_bytes(size)
        self._offer_hot(key, packed)
        return dataclasses.replace(packed.info(key), bytes=disk)

    def put_group(self, values: Sequence[tuple[str, Encoded | Packed]]) -> dict[str, ObjectInfo]:
        """The small values as one new pack (an fsync of the pack, of its index and of
        ``pack/``, for any number of values: a run's writer groups what waits), the
        others loose; every object returned is on disk. A kill before the pack's index
        is in place loses the group's packed values, nothing else."""
        infos: dict[str, ObjectInfo] = {}
        small: dict[str, Packed] = {}
        stored = self.has_many(key for key, _ in values)  # the packs listed once
        for key, value in values:
            existing = self._existing_info(key) if key in stored else None
            if existing is not None:
                infos[key] = existing
                continue
            packed = value if isinstance(value, Packed) else self.compress(value)
            if packed.header.total_bytes < PACK_THRESHOLD:
                small[key] = packed
            else:
                infos[key] = self.put_packed(key, packed)
        if not small:
            return infos
        try:
            entries = ((bytes.fromhex(k), p.header_bytes + p.payload) for k, p in small.items())
            self.packs.write(entries)
        except OSError as exc:
            raise StoreWriteError(next(iter(small)), self.packs.folder, exc) from None
        for key, packed in small.items():
            self._offer_hot(key, packed)
            disk = packed_bytes(packed.header.total_bytes)
            infos[key] = dataclasses.replace(packed.info(key), bytes=disk)
        return infos

    def _offer_hot(self, key: str, packed: Packed) -> None:
        """A value just written, for the hot tier (or for one that is coming)."""
        if packed.raw is not None:
            hot = self.hot
            if hot is not None:
                hot.put(key, packed.header.codec, packed.raw)
            else:
                self._miss(key, packed.header.codec, packed.raw)

    def alias(self, key: str, existing: str) -> ObjectInfo | None:
        """A hard link: one file, two names (a copy where links are not allowed)."""
        source, path = self.path(existing), self.path(key)
        info = self.info(existing)
        if info is None:
            return None
        if self.has(key):
            return self.info(key)
        if not source.is_file():  # packed: a copy of its bytes under the new key
            try:
                return self.write_object(key, self.read_object(existing))
            except MissingObject:
                return None
        temp = self._tmp / f"{os.getpid()}-{secrets.token_hex(8)}.part"
        try:
            _make_private_dir(path.parent)
            try:
                os.link(source, temp)
            except OSError:  # another file system, or links refused: copy it
                _write_synced(temp, source.read_bytes())
            os.replace(temp, path)
            fsync_dir(path.parent)
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
        except (FileNotFoundError, NotADirectoryError):  # not loose, or no fan-out folder
            data, where = self._read_packed(key)
            try:
                return self._decode(key, data, checksum)
            except Corruption as exc:
                raise self._discard_packed(key, where, exc.reason) from None
        except IsADirectoryError:
            raise self._discard_folder(key, path) from None
        except OSError as exc:
            raise StoreReadError(key, path, exc) from None
        try:
            return self._decode(key, data, checksum)
        except Corruption as exc:
            raise self._discard(key, path, stat, exc.reason) from None

    def _decode(self, key: str, data: bytes, checksum: str | None) -> object:
        codec, raw = unpack_raw(data, checksum)
        hot = self.hot
        if hot is not None:  # before decoding: a value may be a view of ``raw``
            hot.put(key, codec, memoryview(raw))
        return decode_raw(codec, raw)

    def _read_packed(self, key: str) -> tuple[bytes, tuple[Path, Record] | None]:
        """The bytes of a packed (or batched) object and its entry; ``MissingObject``, or
        ``CorruptObject`` (the entry dropped) when its frame is damaged."""
        with self._batch_lock:
            staged = self._pending.get(key)
        if staged is not None:
            return staged, None
        try:
            found = self.packs.read(key)
        except EntryDamage as exc:
            self.packs.drop(exc.pack, exc.record)
            raise CorruptObject(key, exc.pack.pack_path, exc.reason) from None
        except OSError as exc:
            raise StoreReadError(key, self.packs.folder, exc) from None
        if found is None:
            raise MissingObject(key, str(self.root))
        data, pack, record = found
        return data, (pack.pack_path, record)

    def _discard_packed(
        self, key: str, where: tuple[Path, Record] | None, reason: str
    ) -> CorruptObject:
        """Drop one damaged packed object: that entry only, the pack's others stay."""
        if where is None:
            with self._batch_lock:
                self._pending.pop(key, None)
            return CorruptObject(key, None, reason)
        pack_path, record = where
        for index in self.packs.indexes():
            if index.pack_path == pack_path:
                self.packs.drop(index, record)
        return CorruptObject(key, pack_path, reason)

    def info(self, key: str) -> ObjectInfo | None:
        path = self.path(key)
        try:
            with open(path, "rb") as file:
                stat = os.fstat(file.fileno())
                head = file.read(HEADER_SIZE)
        except (FileNotFoundError, NotADirectoryError):
            return self._packed_info(key)
        except IsADirectoryError:
            raise self._discard_folder(key, path) from None
        except OSError as exc:
            raise StoreReadError(key, path, exc) from None
        try:
            header = parse_header(head)
            check_size(header, stat.st_size)
        except Corruption as exc:
            raise self._discard(key, path, stat, exc.reason) from None
        return dataclasses.replace(header.info(key), bytes=loose_bytes(stat.st_size))

    def _packed_info(self, key: str) -> ObjectInfo | None:
        try:
            data, where = self._read_packed(key)
        except MissingObject:
            return None
        try:
            header = parse_header(data)
            check_size(header, len(data))
        except Corruption as exc:
            raise self._discard_packed(key, where, exc.reason) from None
        return dataclasses.replace(header.info(key), bytes=packed_bytes(len(data)))

    def read_object(self, key: str) -> bytes:
        path = self.path(key)
        try:
            with open(path, "rb") as file:
                stat = os.fstat(file.fileno())
                data = file.read()
        except (FileNotFoundError, NotADirectoryError):
            data, where = self._read_packed(key)
            try:
                verify(data)
            except Corruption as exc:
                raise self._discard_packed(key, where, exc.reason) from None
            return data
        except OSError as exc:
            raise StoreReadError(key, path, exc) from None
        try:
            verify(data)
        except Corruption as exc:
            raise self._discard(key, path, stat, exc.reason) from None
        return data

    def write_object(self, key: str, data: bytes, *, checksum: str | None = None) -> ObjectInfo:
        path = self.path(key)
        header = verified_write(key, data, checksum)
        existing = self._existing_info(key)
        if existing is not None:
            return existing
        if self._small(len(data)):
            self._stage(key, bytes(data))
            return dataclasses.replace(header.info(key), bytes=packed_bytes(len(data)))
        self._write(key, path, data)
        return dataclasses.replace(header.info(key), bytes=loose_bytes(len(data)))

    def write_stream(
        self, key: str, head: bytes, read: Callable[[int], bytes], *, checksum: str | None = None
    ) -> ObjectInfo:
        """A large object is written to its temp file piece by piece as it arrives,
        checked meanwhile (``ArrivingCheck``), and only once it is whole and verified is it
        fsynced and renamed into place: nothing else ever sees it before. A small one is
        joined in memory and goes where ``write_object`` puts it (a batch's pack)."""
        path = self.path(key)
        try:
            check = ArrivingCheck(head, checksum)
        except Corruption as exc:
            raise CorruptObject(key, None, exc.reason) from None
        size = check.header.total_bytes
        if self._small(size):
            return super().write_stream(key, head, read, checksum=checksum)
        existing = self._existing_info(key)
        if existing is not None:
            return existing
        try:
            self._write_through(
                key, path, lambda temp: _write_checked(temp, head, failing_apart(read), check)
            )
        except Corruption as exc:
            raise CorruptObject(key, None, exc.reason) from None
        except ReadFailed as failed:  # the bytes stopped coming: its error, not ours
            raise failed.error from None
        return dataclasses.replace(check.header.info(key), bytes=loose_bytes(size))

    def delete(self, key: str) -> bool:
        path = self.path(key)
        removed = False
        try:
            path.unlink()
            removed = True
        except (FileNotFoundError, NotADirectoryError):
            pass
        except OSError as exc:
            raise StoreWriteError(key, path, exc, removing=True) from None
        with self._batch_lock:
            removed = self._pending.pop(key, None) is not None or removed
        try:
            return self.packs.remove(key) or removed
        except OSError as exc:
            raise StoreWriteError(key, self.packs.folder, exc, removing=True) from None

    def keys(self) -> Iterator[str]:
        loose = [key for key, _ in self._entries()]
        packed = [index.keys() for index in self.packs.indexes()]
        if not packed:
            yield from loose
            return
        # a key both loose and packed, or in two packs (two writers), is listed once
        yield from dict.fromkeys(itertools.chain(loose, *packed))

    def total_bytes(self) -> int:
        """What the objects take on disk, as ``info`` counts each: loose files in whole
        blocks, packed objects their entry and index record (a pack's few fixed bytes and
        its dead entries, until ``repack`` rewrites it, are not counted)."""
        total = 0
        loose = set()
        for key, entry in self._entries():
            with contextlib.suppress(FileNotFoundError):
                total += loose_bytes(entry.stat().st_size)
                loose.add(key)
        seen: set[bytes] = set()
        for index in self.packs.indexes():
            for record in index.records():
                if record.key not in seen and record.key.hex() not in loose:
                    seen.add(record.key)
                    total += packed_bytes(record.length)
        return total

    def loose_estimate(self) -> int:
        """Loose objects in one fan-out folder times 256, as ``git gc --auto`` counts."""
        try:
            return 256 * len(os.listdir(self.root / "17"))
        except OSError:
            return 0

    def repack(self) -> Repacked:
        """Pack the loose objects under ``PACK_THRESHOLD`` (each verified; a damaged one is
        left for its next load or ``helix fsck`` to remove), give packs whose writer died
        their index back, rewrite packs a quarter dead and merge the smallest when there
        are too many. Returns the packed objects' new sizes, by key (for the index)."""
        freed = 0
        for orphan in self.packs.orphans():
            with contextlib.suppress(OSError):
                if time.time() - orphan.stat().st_mtime > ORPHAN_SECONDS:
                    self.packs.reindex(orphan)
        packed: dict[str, int] = {}
        paths: list[Path] = []

        small = []
        for key, entry in self._entries():
            with contextlib.suppress(OSError):
                if entry.stat(follow_symlinks=False).st_size < PACK_THRESHOLD:
                    small.append((key, entry))

        def loose() -> Iterator[tuple[bytes, bytes]]:
            for key, entry in small:
                nonlocal freed
                try:
                    data = Path(entry.path).read_bytes()
                    verify(data)
                except (OSError, Corruption):
                    continue
                packed[key] = packed_bytes(len(data))
                freed += loose_bytes(len(data)) - packed[key]
                paths.append(Path(entry.path))
                yield bytes.fromhex(key), data

        try:
            if small:
                self.packs.write(loose())
        except OSError as exc:
            raise StoreWriteError(next(iter(packed), "0" * 40), self.packs.folder, exc) from None
        for path in paths:  # packed and renamed into place: the loose copies can go
            with contextlib.suppress(OSError):
                path.unlink()
        self.packs.consolidate(rewrite_dead=True)
        return Repacked(packed, freed)

    def _existing_info(self, key: str) -> ObjectInfo | None:
        """Info of the object already under ``key``; one with a bad header is replaced."""
        try:
            return self.info(key)
        except CorruptObject:
            return None

    def _write(self, key: str, path: Path, packed: Packed | bytes) -> None:
        """Write through a temp file and rename; on any OSError leave nothing behind."""
        chunks = (packed,) if isinstance(packed, bytes) else (packed.header_bytes, packed.payload)
        self._write_through(key, path, lambda temp: _write_synced(temp, *chunks))

    def _write_through(self, key: str, path: Path, fill: Callable[[Path], None]) -> None:
        """``fill`` a private temp file (written and fsynced), rename it to ``path`` and
        fsync its folder: a reader finds the object whole or not at all. Whatever goes
        wrong (an OSError becomes ``StoreWriteError``; a download's failure, a damaged
        object or an interrupt is raised as it is) leaves nothing behind."""
        temp = self._tmp / f"{os.getpid()}-{secrets.token_hex(8)}.part"
        try:
            new_fanout = _make_private_dir(path.parent)
            fill(temp)
            os.replace(temp, path)
            fsync_dir(path.parent)
            if new_fanout:
                fsync_dir(self.root)
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


def loose_bytes(size: int) -> int:
    """What a loose file of ``size`` bytes takes on disk, in whole blocks."""
    return -(-size // BLOCK) * BLOCK


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


def _write_checked(
    path: Path, head: bytes, read: Callable[[int], bytes], check: ArrivingCheck
) -> None:
    """Write ``head`` and what ``read`` gives to a new file at ``path``, each piece checked
    as it is written; fsync it once the whole object has arrived and verified."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    descriptor = os.open(path, flags, 0o600)
    with open(descriptor, "wb") as file:
        file.write(head)
        if len(head) > HEADER_SIZE:
            check.update(memoryview(head)[HEADER_SIZE:])
        while piece := read(STREAM_PIECE):
            check.update(piece)
            file.write(piece)
        check.finish()
        file.flush()
        os.fsync(file.fileno())


def _write_synced(path: Path, *chunks: bytes) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    descriptor = os.open(path, flags, 0o600)
    with open(descriptor, "wb") as file:
        for chunk in chunks:
            file.write(chunk)
        file.flush()
        os.fsync(file.fileno())
