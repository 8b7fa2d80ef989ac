"""A remote used as a store: what the workers of a Dask run read and write directly.

``helix run --executor dask --remote NAME`` runs on machines that share no disk with
the ``helix`` process: workers load the values they need from the remote and write the
values the run keeps to it, in the remote's layout (``objects/ab/cdef...``, byte for byte
as a local store would keep them), so ``helix pull`` and loads on demand find them. The
values never pass through the ``helix`` process.

The rules of ``FetchingStore`` hold here too: every object read is verified (header,
size, payload checksum, and the checksum the caller expects, when it knows one), and one
that would need to unpickle Python code is refused unless the remote is trusted; a
refused or damaged object is reported as ``CorruptObject`` and never deleted from the
remote (other clones may hold it dear): the run recomputes it. Writes are atomic per
object (``Remote.put_files``). Nothing touches the local file system.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from helixvcs.store.base import ObjectInfo, ObjectStore, check_key
from helixvcs.store.errors import CorruptObject, MissingObject
from helixvcs.store.objectfile import (
    HEADER_SIZE,
    Corruption,
    Encoded,
    Packed,
    compress_encoded,
    pack,
    parse_header,
    unpack,
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
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RemoteObjectStore({self.remote.spec.name!r}, {self.remote.spec.url!r})"

    @property
    def where(self) -> str:
        return f"remote '{self.remote.spec.name}'"

    def has(self, key: str) -> bool:
        return key in self.remote.object_sizes([check_key(key)])

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
        except Corruption as exc:
            raise RemoteObjectRefused(key, spec, f"is corrupt ({exc.reason})") from None
        if refusal is not None:
            raise RemoteObjectRefused(key, spec, refusal)
        self._seen(header.info(key))
        try:
            return unpack(data, checksum)
        except Corruption as exc:  # a payload that verified and does not decode
            raise RemoteObjectRefused(key, spec, f"is corrupt ({exc.reason})") from None

    def info(self, key: str) -> ObjectInfo | None:
        with self._lock:
            known = self._infos.get(check_key(key))
        if known is not None:
            return known
        try:
            data = self.remote.fs.cat_file(self.remote.object_path(key), start=0, end=HEADER_SIZE)
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise self._unreadable(key, exc) from None
        try:
            header = parse_header(bytes(data))
        except Corruption as exc:
            raise RemoteObjectRefused(key, self.remote.spec, f"is corrupt ({exc.reason})") from None
        return self._seen(header.info(key))

    def _existing_info(self, key: str) -> ObjectInfo | None:
        try:
            return self.info(key)
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
            raise RemoteObjectRefused(key, self.remote.spec, f"is corrupt ({exc.reason})") from None
        return data

    def write_object(self, key: str, data: bytes, *, checksum: str | None = None) -> ObjectInfo:
        check_key(key)
        try:
            header = verify(data, checksum)
        except Corruption as exc:
            raise CorruptObject(key, None, exc.reason) from None
        existing = self._existing_info(key)
        if existing is not None:
            return existing
        self.remote.put_files({self.remote.object_path(key): bytes(data)})
        return self._seen(header.info(key))

    def delete(self, key: str) -> bool:
        path = self.remote.object_path(check_key(key))
        with self._lock:
            self._infos.pop(key, None)
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

    def _seen(self, info: ObjectInfo) -> ObjectInfo:
        with self._lock:
            self._infos[info.key] = info
        return info
