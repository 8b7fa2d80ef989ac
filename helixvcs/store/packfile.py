"""Packs: many small objects in one file, found through a sorted index (git's packfiles).

A million values of a few hundred bytes would otherwise cost a million inodes and a
4 KiB block each. A pack keeps each object byte for byte as a loose file holds it (its
own header and checksums, ``objectfile``), behind a small frame that names its key, so
one damaged byte loses one value and the rest of the pack still loads. Files, in
``objects/pack/``::

    pack-<id>.pack   b"HLXP", version, 3 bytes of padding; then entries, each
                     key (20 bytes) | object length (u32) | blake2b-32 of those 24 bytes
                     | the object (header + compressed payload)
    pack-<id>.idx    b"HLXI", version, 3 bytes of padding, entry count (u64);
                     a fan-out table (256 x u32: entries whose key's first byte is <= i);
                     the entries sorted by key: key (20) | offset (u64) | length (u32);
                     blake2b-160 of everything before it
    pack-<id>.dead   keys removed from the pack since it was written (20 bytes each),
                     appended; the pack is rewritten without them when enough are dead

A pack and its index are written to temp files, fsynced, and renamed into place, the
index last: a pack without an index is one whose writer died between the two renames
(its index is rebuilt from the frames, ``scan``). Packs never change once written, only
their ``.dead`` list grows; rewriting a pack writes a new one and removes the old.
Lookups binary-search the mapped index (``PackIndex.find``), so a load costs the same
with a thousand objects or a million; nothing reads a whole index except ``keys``,
``helix gc`` and ``helix fsck``.
"""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from helixvcs.store.objectfile import MAGIC as OBJECT_MAGIC

PACK_MAGIC = b"HLXP"
INDEX_MAGIC = b"HLXI"
VERSION = 1
_PACK_HEAD = struct.Struct("<4sB3x")
_FRAME_FIELDS = struct.Struct("<20sI")
_FRAME_CHECK = 4
FRAME_SIZE = _FRAME_FIELDS.size + _FRAME_CHECK
_INDEX_HEAD = struct.Struct("<4sB3xQ")
_FANOUT = struct.Struct("<256I")
_RECORD = struct.Struct("<20sQI")
RECORD_SIZE = _RECORD.size
_INDEX_CHECKSUM = 20
_RECORDS_AT = _INDEX_HEAD.size + _FANOUT.size
#: Objects this size or larger are never packed: their block rounding is small, and a
#: pack rewrite should not copy large values.
PACK_THRESHOLD = 32 * 2**10


class PackDamage(Exception):
    """Internal: a pack or its index is not what was written."""


def packed_bytes(length: int) -> int:
    """Disk bytes a packed object of ``length`` bytes takes: frame, object, index record."""
    return FRAME_SIZE + length + RECORD_SIZE


def frame(key: bytes, length: int) -> bytes:
    fields = _FRAME_FIELDS.pack(key, length)
    return fields + _blake2b(fields, _FRAME_CHECK)


def parse_frame(data: bytes | memoryview) -> tuple[bytes, int]:
    """``(key, length)`` of the frame at the start of ``data``; ``PackDamage`` if damaged."""
    if len(data) < FRAME_SIZE:
        raise PackDamage("truncated entry")
    fields = bytes(data[: _FRAME_FIELDS.size])
    if bytes(data[_FRAME_FIELDS.size : FRAME_SIZE]) != _blake2b(fields, _FRAME_CHECK):
        raise PackDamage("damaged entry frame")
    key, length = _FRAME_FIELDS.unpack(fields)
    return key, length


@dataclass(frozen=True)
class Record:
    key: bytes
    offset: int
    length: int


def write_pack(
    pack_path: Path, index_path: Path, entries: Iterable[tuple[bytes, bytes | memoryview]]
) -> list[Record]:
    """Write ``entries`` (key, object bytes; a key once) as a pack and its index, each
    fsynced; the caller renames them into place. Returns the records, sorted by key."""
    records: list[Record] = []
    seen: set[bytes] = set()
    with _create(pack_path) as file:
        file.write(_PACK_HEAD.pack(PACK_MAGIC, VERSION))
        offset = _PACK_HEAD.size
        for key, data in entries:
            if key in seen:
                continue
            seen.add(key)
            file.write(frame(key, len(data)))
            file.write(data)
            records.append(Record(key, offset, len(data)))
            offset += FRAME_SIZE + len(data)
        file.flush()
        os.fsync(file.fileno())
    records.sort(key=lambda r: r.key)
    write_index(index_path, records)
    return records


def write_index(path: Path, records: list[Record]) -> None:
    """An index for ``records`` (sorted by key), fsynced."""
    counts = [0] * 256
    for record in records:
        counts[record.key[0]] += 1
    total = 0
    for i, count in enumerate(counts):
        total += count
        counts[i] = total
    parts = [_INDEX_HEAD.pack(INDEX_MAGIC, VERSION, len(records)), _FANOUT.pack(*counts)]
    parts.extend(_RECORD.pack(r.key, r.offset, r.length) for r in records)
    body = b"".join(parts)
    with _create(path) as file:
        file.write(body)
        file.write(_blake2b(body, _INDEX_CHECKSUM))
        file.flush()
        os.fsync(file.fileno())


def scan(data: bytes) -> tuple[list[Record], int]:
    """The entries of a pack read from its frames (to rebuild a lost or damaged index),
    sorted by key, and how many bytes could not be read as entries. A damaged frame
    loses its entry: the scan goes on at the next object header behind a valid frame."""
    if data[: len(PACK_MAGIC)] != PACK_MAGIC:
        raise PackDamage("not a helix pack")
    records: dict[bytes, Record] = {}
    position, lost = _PACK_HEAD.size, 0
    while position < len(data):
        try:
            key, length = parse_frame(data[position : position + FRAME_SIZE])
            if position + FRAME_SIZE + length > len(data):
                raise PackDamage("truncated entry")
        except PackDamage:
            following = _next_entry(data, position + 1)
            lost += following - position
            position = following
            continue
        records.setdefault(key, Record(key, position, length))
        position += FRAME_SIZE + length
    return sorted(records.values(), key=lambda r: r.key), lost


def _next_entry(data: bytes, start: int) -> int:
    """Where the next entry with a valid frame begins at or after ``start``."""
    at = start + FRAME_SIZE
    while True:
        at = data.find(OBJECT_MAGIC, at)
        if at < 0:
            return len(data)
        try:
            _, length = parse_frame(data[at - FRAME_SIZE : at])
        except PackDamage:
            at += 1
            continue
        if at + length <= len(data):
            return at - FRAME_SIZE
        at += 1


class PackIndex:
    """One pack's index, mapped; ``find`` a key in O(log n). Its ``.dead`` list is read
    again whenever it has grown."""

    def __init__(self, index_path: Path) -> None:
        self.index_path = index_path
        self.pack_path = index_path.with_suffix(".pack")
        self.dead_path = index_path.with_suffix(".dead")
        self.name = index_path.stem
        with open(index_path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            if size < _RECORDS_AT + _INDEX_CHECKSUM:
                raise PackDamage("truncated index")
            self._map = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        magic, version, count = _INDEX_HEAD.unpack_from(self._map, 0)
        if magic != INDEX_MAGIC or version != VERSION:
            raise PackDamage("not a helix pack index")
        self.count = count
        self._fanout = _FANOUT.unpack_from(self._map, _INDEX_HEAD.size)
        if size != _RECORDS_AT + count * RECORD_SIZE + _INDEX_CHECKSUM or (
            self._fanout[255] != count
        ):
            raise PackDamage("index size does not match its entry count")
        self._dead: set[bytes] = set()
        self._dead_size = 0

    def find(self, key: bytes) -> Record | None:
        """The entry of ``key``, unless absent or dead."""
        first = key[0]
        low = self._fanout[first - 1] if first else 0
        high = self._fanout[first]
        data = self._map
        while low < high:
            middle = (low + high) // 2
            at = _RECORDS_AT + middle * RECORD_SIZE
            found = data[at : at + 20]
            if found < key:
                low = middle + 1
            elif found > key:
                high = middle
            else:
                _, offset, length = _RECORD.unpack_from(data, at)
                return None if key in self.dead() else Record(key, offset, length)
        return None

    def records(self) -> Iterator[Record]:
        """Every live entry, in key order."""
        dead = self.dead()
        body = memoryview(self._map)[_RECORDS_AT : _RECORDS_AT + self.count * RECORD_SIZE]
        for key, offset, length in _RECORD.iter_unpack(body):
            if key not in dead:
                yield Record(key, offset, length)
        body.release()

    def keys(self) -> list[str]:
        """Every live key, in hex, in key order (what ``helix gc`` lists: no records built)."""
        end = _RECORDS_AT + self.count * RECORD_SIZE
        body = self._map[_RECORDS_AT:end]
        keys = [body[at : at + 20] for at in range(0, len(body), RECORD_SIZE)]
        dead = self.dead()
        return [k.hex() for k in keys if k not in dead] if dead else [k.hex() for k in keys]

    def dead(self) -> set[bytes]:
        """Keys removed from this pack (re-read when the list grew)."""
        try:
            size = self.dead_path.stat().st_size
        except FileNotFoundError:
            return self._dead
        if size != self._dead_size:
            data = self.dead_path.read_bytes()
            whole = len(data) // 20 * 20  # a torn append holds no key
            self._dead = {data[i : i + 20] for i in range(0, whole, 20)}
            self._dead_size = size
        return self._dead

    def checksum_ok(self) -> bool:
        """Whether the whole index is as written (``helix fsck``)."""
        body = memoryview(self._map)[: len(self._map) - _INDEX_CHECKSUM]
        ok = _blake2b(body, _INDEX_CHECKSUM) == self._map[len(self._map) - _INDEX_CHECKSUM :]
        body.release()
        return ok

    def disk_bytes(self) -> int:
        total = 0
        for path in (self.pack_path, self.index_path, self.dead_path):
            with contextlib.suppress(FileNotFoundError):
                total += path.stat().st_size
        return total


def read_entry(pack_path: Path, record: Record) -> bytes:
    """The object bytes of ``record``, its frame checked; ``PackDamage`` if it is not the
    entry the index says, ``FileNotFoundError`` if the pack is gone (rewritten)."""
    with open(pack_path, "rb") as file:
        data = os.pread(file.fileno(), FRAME_SIZE + record.length, record.offset)
    key, length = parse_frame(data)
    if key != record.key or length != record.length:
        raise PackDamage("the index does not match the pack")
    if len(data) != FRAME_SIZE + length:
        raise PackDamage("truncated entry")
    return data[FRAME_SIZE:]


def append_dead(path: Path, keys: Iterable[bytes]) -> None:
    """Add ``keys`` to a pack's ``.dead`` list (one append; concurrent appends interleave
    whole records)."""
    data = b"".join(keys)
    if not data:
        return
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        os.write(descriptor, data)
    finally:
        os.close(descriptor)


def _create(path: Path) -> BinaryIO:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    return open(os.open(path, flags, 0o600), "wb", buffering=2**20)


def _blake2b(data: bytes | memoryview, size: int) -> bytes:
    return hashlib.blake2b(data, digest_size=size).digest()


def fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in ``path`` durable (a no-op where unsupported)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
