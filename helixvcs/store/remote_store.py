"""A remote used as a store: what the workers of a Dask run read and write directly.

``helix run --executor dask --remote NAME`` runs on machines that share no disk with
the ``helix`` process: workers load the values they need from the remote and write the
values the run keeps to it, in the remote's layout (``objects/ab/cdef...``, byte for byte
as a local store would keep them), so ``helix pull`` and loads on demand find them. The
values never pass through the ``helix`` process.

The rules of ``FetchingStore`` hold here too: every object read is verified (header,
size, payload checksum, and the checksum the caller expects, when it knows one), and one
that would need to unpickle Python code is refused unless the remote is trusted. Both
are reported as ``CorruptObject``, so the run recomputes the value; a damaged object is
removed, as every store removes one (the value computed again takes its place), a
refused one is left alone (a clone that trusts the remote may load it). Writes are
atomic per object (``Remote.put_files``). Nothing touches the local file system.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Iterable, Iterator

from helixvcs.store.base import ObjectInfo, ObjectStore, check_key
from helixvcs.store.errors import CorruptObject, MissingObject
from helixvcs.store.objectfile import (
    HEADER_SIZE,
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
from helixvcs.store.remote import (
    Remote,
    RemoteObjectRefused,
    translate,
    untrusted_refusal,
)


class RemoteObjectStore(ObjectStore):
    """The objects of a ``Remote``, as an ``ObjectStore``."""

    def __init__(self, remote: Remote, *, level: int = 3) -> None:
        self.remote, self.level = remote, level
        self._infos: dict[str, ObjectInfo] = {}  # headers seen: info() costs no request
        self._present: dict[str, bool] = {}  # what ``remember`` was told, and writes
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RemoteObjectStore({self.remote.spec.name!r}, {self.remote.spec.url!r})"

    @property
    def where(self) -> str:
        return f"remote '{self.remote.spec.name}'"

    def remember(self, present: Iterable[str], absent: Iterable[str]) -> None:
        """What the remote was just found to hold or lack: ``has`` answers from it
        (a run asks once for all its keys, not once per key)."""
        with self._lock:
            self._present.update(dict.fromkeys(absent, False))
            self._present.update(dict.fromkeys(present, True))

    def has(self, key: str) -> bool:
        with self._lock:
            known = self._present.get(check_key(key))
        return known if known is not None else key in self.remote.object_sizes([key])

    def put(self, key: str, value: object) -> ObjectInfo:
        return self.put_packed(key, self.pack(value))  # which asks the remote once

    def pack(self, value: object) -> Packed:
        return pack(value, self.level)

    def compress(self, encoded: Encoded) -> Packed:
        return compress_encoded(encoded, self.level)

    def get(self, key: str, *, checksum: str | None = None) -> object:
        data = self._read(check_key(key))
        spec = self.remote.spec
        try:
            header = verify(data, checksum)
            refusal = None if spec.trusted else untrusted_refusal(data, header)
            if refusal is not None:
                raise RemoteObjectRefused(key, spec, refusal)
            value = unpack(data, checksum)
        except Corruption as exc:  # damaged, or a payload that verified and does not decode
            raise self._discard(key, exc.reason) from None
        self._seen(header.info(key))
        return value

    def info(self, key: str) -> ObjectInfo | None:
        with self._lock:
            known = self._infos.get(check_key(key))
        return known if known is not None else self._header(key)

    def _header(self, key: str) -> ObjectInfo | None:
        """The object's info as the remote has it now (a worker's store outlives runs:
        what it saw before may have been deleted since)."""
        path = self.remote.object_path(key)
        try:  # its size (a truncated object is caught here too), then its header
            size = int(self.remote.fs.info(path).get("size") or 0)
            data = self.remote.fs.cat_file(path, start=0, end=HEADER_SIZE) if size else b""
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise self._unreadable(key, exc) from None
        try:
            header = parse_header(bytes(data))
            check_size(header, size)
        except Corruption as exc:
            raise self._discard(key, exc.reason) from None
        return self._seen(header.info(key))

    def _existing_info(self, key: str) -> ObjectInfo | None:
        try:
            return self._header(key)
        except CorruptObject:
            return None  # a damaged object is replaced by the one being written

    def put_packed(self, key: str, packed: Packed) -> ObjectInfo:
        existing = self._existing_info(check_key(key))
        if existing is not None:
            return existing
        self.remote.put_files({self.remote.object_path(key): packed.header_bytes + packed.payload})
        return self._seen(packed.info(key))

    def alias(self, key: str, existing: str) -> ObjectInfo | None:
        try:
            data = self._read(check_key(existing))
        except MissingObject:
            return None
        return self.write_object(key, data)

    def read_object(self, key: str) -> bytes:
        data = self._read(check_key(key))
        try:
            self._seen(verify(data).info(key))
        except Corruption as exc:
            raise self._discard(key, exc.reason) from None
        return data

    def write_object(self, key: str, data: bytes, *, checksum: str | None = None) -> ObjectInfo:
        check_key(key)
        header = verified_write(key, data, checksum)
        existing = self._existing_info(key)
        if existing is not None:
            return existing
        self.remote.put_files({self.remote.object_path(key): bytes(data)})
        return self._seen(header.info(key))

    def delete(self, key: str) -> bool:
        path = self.remote.object_path(check_key(key))
        with self._lock:
            self._infos.pop(key, None)
            self._present.pop(key, None)
        try:
            self.remote.fs.rm_file(path)
        except FileNotFoundError:
            return False
        except Exception as exc:
            raise self._unreadable(key, exc) from None
        return True

    def keys(self) -> Iterator[str]:
        return iter(self._listing())

    def total_bytes(self) -> int:
        return sum(self._listing().values())

    def _listing(self) -> dict[str, int]:
        try:
            found = self.remote.fs.find(f"{self.remote.root}/objects", detail=True)
        except FileNotFoundError:
            return {}
        except Exception as exc:
            raise translate(self.remote.spec, exc) from None
        sizes = {}
        for path, entry in found.items():
            parts = path.rstrip("/").split("/")
            key = parts[-2] + parts[-1] if len(parts) >= 2 else ""
            if len(key) == 40:
                sizes[key] = int(entry.get("size") or 0)
        return sizes

    def _read(self, key: str) -> bytes:
        try:
            return bytes(self.remote.fs.cat_file(self.remote.object_path(key)))
        except FileNotFoundError:
            raise MissingObject(key, self.where) from None
        except Exception as exc:
            raise self._unreadable(key, exc) from None

    def _unreadable(self, key: str, exc: Exception) -> RemoteObjectRefused:
        """The remote went away or refused a read: the object is not used (recomputed)."""
        return RemoteObjectRefused(
            key, self.remote.spec, f"cannot be read ({translate(self.remote.spec, exc).error})"
        )

    def _discard(self, key: str, reason: str) -> CorruptObject:
        """Remove a damaged object (no value can come of it): the value computed again
        takes its place."""
        with contextlib.suppress(CorruptObject, MissingObject):
            self.delete(key)
        return CorruptObject(key, None, reason)

    def _seen(self, info: ObjectInfo) -> ObjectInfo:
        """Remember ``info`` (as its header says it: no write time) and return it."""
        with self._lock:
            self._infos[info.key] = dataclasses.replace(info, write_seconds=0.0)
            self._present[info.key] = True
        return info
