"""The packs of one store (``objects/pack/``): finding a key, writing, removing, rewriting.

Policy. A pack is written whole by one process (``write``: temp files, fsync, rename,
index last) and never changes; removing a key appends it to the pack's ``.dead`` list;
a pack is rewritten without its dead entries once a quarter of it is dead, and the
smallest packs are merged into one whenever there are more than ``MAX_PACKS``, so a
lookup searches a handful of indexes. Rewrites hold an exclusive ``flock`` on
``pack/lock``; removals hold it shared, so a key removed while its pack is rewritten is
removed from the new pack. Writing a new pack and reading take no lock: a reader that
finds a pack gone (rewritten) lists the folder again and looks once more.

Each process keeps the indexes it has opened, mapped; the folder is listed again only
when a key is not found, so a load never reads every index.
"""

from __future__ import annotations

import contextlib
import fcntl
import mmap
import os
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path

from helixvcs.store.objectfile import Corruption, verify
from helixvcs.store.packfile import (
    FRAME_SIZE,
    PackDamage,
    PackIndex,
    Record,
    append_dead,
    fsync_dir,
    parse_frame,
    read_entry,
    scan,
    write_index,
    write_pack,
)

#: More packs than this and the smallest are merged.
MAX_PACKS = 16
#: A pack with this share of dead entries is rewritten by ``helix gc``.
DEAD_SHARE = 0.25


class Packs:
    """The packs under ``folder``; temp files go to ``tmp`` (the store's, cleaned the same way)."""

    def __init__(self, folder: Path, tmp: Path) -> None:
        self.folder, self.tmp = folder, tmp
        self._open: dict[str, PackIndex] = {}
        self.damaged: dict[str, str] = {}
        """Index files that could not be opened, by name, with the reason (fsck)."""

    # -- lookups ---------------------------------------------------------------------------

    def refresh(self) -> None:
        """List the folder again: open new indexes, drop those of removed packs."""
        try:
            names = {n for n in os.listdir(self.folder) if n.endswith(".idx")}
        except FileNotFoundError:
            names = set()
        for name in list(self._open):
            if name + ".idx" not in names:  # unmapped once no thread uses it any more
                del self._open[name]
        self.damaged = {k: v for k, v in self.damaged.items() if k + ".idx" in names}
        for file in names:
            name = file[: -len(".idx")]
            if name in self._open or name in self.damaged:
                continue
            try:
                self._open[name] = PackIndex(self.folder / file)
            except FileNotFoundError:
                continue
            except (PackDamage, ValueError, OSError) as exc:
                self.damaged[name] = str(exc)

    def find(self, key: str, *, again: bool = True) -> tuple[PackIndex, Record] | None:
        """Where ``key`` is packed (a pack's live entry), listing the folder on a miss
        (with ``again``; without, the caller has just listed it)."""
        raw = bytes.fromhex(key)
        for attempt in range(2 if again else 1):
            for pack in list(self._open.values()):
                record = pack.find(raw)
                if record is not None:
                    return pack, record
            if attempt == 0 and again:
                self.refresh()
        return None

    def read(self, key: str) -> tuple[bytes, PackIndex, Record] | None:
        """The object bytes of ``key`` from its pack; None if not packed. ``PackDamage``
        (with the pack) if the entry's frame is not what the index says."""
        for _ in range(3):  # a pack rewritten meanwhile: look again
            found = self.find(key)
            if found is None:
                return None
            pack, record = found
            try:
                return read_entry(pack.pack_path, record), pack, record
            except FileNotFoundError:
                self.refresh()
            except PackDamage as exc:
                raise EntryDamage(pack, record, str(exc)) from None
        return None

    def indexes(self) -> list[PackIndex]:
        self.refresh()
        return list(self._open.values())

    def keys(self) -> Iterator[bytes]:
        for pack in self.indexes():
            for record in pack.records():
                yield record.key

    def disk_bytes(self) -> int:
        return sum(pack.disk_bytes() for pack in self.indexes())

    # -- changes ---------------------------------------------------------------------------

    def write(self, entries: Iterable[tuple[bytes, bytes | memoryview]]) -> list[Record]:
        """A new pack of ``entries``; then, if there are too many packs, merge some."""
        records = self._write(entries)
        if len(self.indexes()) > MAX_PACKS:
            self.consolidate()
        return records

    def _write(self, entries: Iterable[tuple[bytes, bytes | memoryview]]) -> list[Record]:
        self._make_folder()
        name = f"pack-{secrets.token_hex(10)}"
        temp_pack, temp_index = self._temp(), self._temp()
        try:
            records = write_pack(temp_pack, temp_index, entries)
            if records:
                os.replace(temp_pack, self.folder / f"{name}.pack")
                os.replace(temp_index, self.folder / f"{name}.idx")  # the index last
                fsync_dir(self.folder)
        finally:
            for temp in (temp_pack, temp_index):
                with contextlib.suppress(FileNotFoundError):
                    temp.unlink()
        self.refresh()
        return records

    def remove(self, key: str) -> bool:
        """Add ``key`` to the dead list of every pack that holds it."""
        raw = bytes.fromhex(key)
        if not self.folder.is_dir():
            return False
        removed = False
        with self.lock(exclusive=False):
            for pack in self.indexes():
                if pack.find(raw) is not None:
                    append_dead(pack.dead_path, [raw])
                    removed = True
        return removed

    def drop(self, pack: PackIndex, record: Record) -> None:
        """Remove a damaged entry (only that one: the pack's other values stay)."""
        with self.lock(exclusive=False):
            if pack.dead_path.parent.is_dir() and pack.index_path.exists():
                append_dead(pack.dead_path, [record.key])

    @contextlib.contextmanager
    def lock(self, *, exclusive: bool) -> Iterator[None]:
        self._make_folder()
        descriptor = os.open(self.folder / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(descriptor)

    def consolidate(self, *, rewrite_dead: bool = False) -> int:
        """Merge the smallest packs when there are more than ``MAX_PACKS`` (and, with
        ``rewrite_dead``, rewrite each pack a quarter dead); returns packs rewritten."""
        with self.lock(exclusive=True):
            packs = sorted(self.indexes(), key=lambda p: p.disk_bytes())
            chosen: list[PackIndex] = []
            if len(packs) > MAX_PACKS:
                chosen = packs[: len(packs) - MAX_PACKS // 2 + 1]
            if rewrite_dead:
                chosen += [
                    p for p in packs if p not in chosen and len(p.dead()) >= DEAD_SHARE * p.count
                ]
            if chosen:
                self._merge(chosen)
            return len(chosen)

    def _merge(self, packs: list[PackIndex]) -> None:
        """One new pack of the live, verified entries of ``packs``; then they go."""
        maps = []
        try:

            def entries() -> Iterator[tuple[bytes, bytes | memoryview]]:
                for pack in packs:
                    with open(pack.pack_path, "rb") as file:
                        if os.fstat(file.fileno()).st_size == 0:
                            continue
                        data = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
                    maps.append(data)
                    for record in pack.records():
                        entry = _checked(data, record)
                        if entry is not None:
                            yield record.key, entry

            self._write(entries())
        finally:
            for data in maps:
                data.close()
        for pack in packs:
            _remove_pack(pack.index_path)
        fsync_dir(self.folder)
        self.refresh()

    def orphans(self) -> list[Path]:
        """Packs without an index (their writer died between the two renames)."""
        try:
            names = os.listdir(self.folder)
        except FileNotFoundError:
            return []
        return [
            self.folder / n
            for n in names
            if n.endswith(".pack") and n[: -len(".pack")] + ".idx" not in names
        ]

    def reindex(self, pack_path: Path) -> int:
        """Rebuild the index of ``pack_path`` from its frames (a lost or damaged index);
        returns the bytes of the pack that could not be read as entries."""
        data = pack_path.read_bytes()
        records, lost = scan(data)
        records = [r for r in records if _checked(data, r) is not None]
        temp = self._temp()
        try:
            write_index(temp, records)
            os.replace(temp, pack_path.with_suffix(".idx"))
        finally:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
        fsync_dir(self.folder)
        self.damaged.pop(pack_path.stem, None)
        self._open.pop(pack_path.stem, None)
        self.refresh()
        return lost

    def _make_folder(self) -> None:
        """``pack/``, mode 0700 whatever the umask (intermediates are the user's data)."""
        try:
            self.folder.mkdir(mode=0o700)
        except FileExistsError:
            return
        os.chmod(self.folder, 0o700)

    def _temp(self) -> Path:
        return self.tmp / f"{os.getpid()}-{secrets.token_hex(8)}.part"


class EntryDamage(Exception):
    """Internal: an entry whose frame is not what its pack's index says."""

    def __init__(self, pack: PackIndex, record: Record, reason: str) -> None:
        self.pack, self.record, self.reason = pack, record, reason
        super().__init__(reason)


def _checked(data: bytes | mmap.mmap, record: Record) -> bytes | None:
    """The object bytes of ``record`` in a pack's ``data`` if its frame and checksums hold."""
    start = record.offset
    try:
        key, length = parse_frame(data[start : start + FRAME_SIZE])
        if key != record.key or length != record.length:
            return None
        entry = data[start + FRAME_SIZE : start + FRAME_SIZE + length]
        verify(entry)
    except (PackDamage, Corruption):
        return None
    return bytes(entry)


def _remove_pack(index_path: Path) -> None:
    """The index first, so that no reader finds the pack half gone."""
    for suffix in (".idx", ".pack", ".dead"):
        with contextlib.suppress(FileNotFoundError):
            index_path.with_suffix(suffix).unlink()
