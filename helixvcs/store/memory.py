"""An in-memory ``ObjectStore`` for tests and throwaway runs.

It keeps the same encoded, compressed bytes a disk store would write, so ``get`` returns
a fresh copy (mutating a loaded value never changes the stored one) and the sizes it
reports match the disk store's.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from helixvcs.store.base import ObjectInfo, ObjectStore, check_key
from helixvcs.store.errors import CorruptObject, MissingObject
from helixvcs.store.objectfile import (
    Corruption,
    Encoded,
    Packed,
    check_size,
    compress_encoded,
    pack,
    parse_header,
    unpack,
    verified_write,
    verify,
)


class MemoryObjectStore(ObjectStore):
    """Objects in a dict, guarded by a lock so threaded executors can share it."""

    def __init__(self, *, level: int = 3) -> None:
        self.level = level
        self._objects: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MemoryObjectStore({len(self._objects)} objects)"

    def has(self, key: str) -> bool:
        return check_key(key) in self._objects

    def pack(self, value: object) -> Packed:
        return pack(value, self.level)

    def compress(self, encoded: Encoded) -> Packed:
        return compress_encoded(encoded, self.level)

    def put_packed(self, key: str, packed: Packed) -> ObjectInfo:
        check_key(key)
        existing = self._existing_info(key)
        if existing is not None:
            return existing
        with self._lock:
            self._objects.setdefault(key, packed.header_bytes + packed.payload)
        return packed.info(key)

    def alias(self, key: str, existing: str) -> ObjectInfo | None:
        data = self._data(check_key(existing))
        if data is None:
            return None
        with self._lock:
            self._objects.setdefault(check_key(key), data)
        return self.info(key)

    def get(self, key: str, *, checksum: str | None = None) -> object:
        data = self._data(check_key(key))
        if data is None:
            raise MissingObject(key, "the in-memory store")
        try:
            return unpack(data, checksum)
        except Corruption as exc:
            raise self._discard(key, data, exc.reason) from None

    def info(self, key: str) -> ObjectInfo | None:
        data = self._data(check_key(key))
        if data is None:
            return None
        try:
            header = parse_header(data)
            check_size(header, len(data))
        except Corruption as exc:
            raise self._discard(key, data, exc.reason) from None
        return header.info(key)

    def read_object(self, key: str) -> bytes:
        data = self._data(check_key(key))
        if data is None:
            raise MissingObject(key, "the in-memory store")
        try:
            verify(data)
        except Corruption as exc:
            raise self._discard(key, data, exc.reason) from None
        return data

    def write_object(self, key: str, data: bytes, *, checksum: str | None = None) -> ObjectInfo:
        check_key(key)
        header = verified_write(key, data, checksum)
        existing = self._existing_info(key)
        if existing is not None:
            return existing
        with self._lock:
            self._objects.setdefault(key, bytes(data))
        return header.info(key)

    def delete(self, key: str) -> bool:
        check_key(key)
        with self._lock:
            return self._objects.pop(key, None) is not None

    def keys(self) -> Iterator[str]:
        with self._lock:
            return iter(list(self._objects))

    def total_bytes(self) -> int:
        with self._lock:
            return sum(len(data) for data in self._objects.values())

    def _existing_info(self, key: str) -> ObjectInfo | None:
        """Info of the object already under ``key``; a corrupt one is dropped, not kept."""
        try:
            return self.info(key)
        except CorruptObject:
            return None

    def _data(self, key: str) -> bytes | None:
        with self._lock:
            return self._objects.get(key)

    def _discard(self, key: str, data: bytes, reason: str) -> CorruptObject:
        """Drop the damaged bytes, unless someone already replaced them."""
        with self._lock:
            if self._objects.get(key) is data:
                del self._objects[key]
        return CorruptObject(key, None, reason)
