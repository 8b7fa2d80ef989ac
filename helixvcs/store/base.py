"""The ``ObjectStore`` interface that every backend implements, and what it returns.

One contract test suite runs against every implementation, so a backend is correct when
it behaves like the others from the outside; how it keeps the bytes is its own business.
"""

from __future__ import annotations

import contextlib
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from helixvcs.store.errors import InvalidKey

if TYPE_CHECKING:
    from helixvcs.store.objectfile import Encoded, Packed

#: How many bytes a store asks for at a time of an object that arrives in pieces.
STREAM_PIECE = 2**20


class ReadFailed(Exception):
    """The source of an object that arrives in pieces failed (a download cut off, a
    timeout): told apart from the store's own errors, and carrying the source's."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        super().__init__(str(error))


def failing_apart(read: Callable[[int], Any]) -> Callable[[int], bytes]:
    """``read`` giving ``bytes``, whose failures are raised as ``ReadFailed``."""

    def guarded(size: int) -> bytes:
        try:
            return bytes(read(size))
        except Exception as exc:
            raise ReadFailed(exc) from exc

    return guarded


#: Keys are blake2b-160 digests in lowercase hex, computed by the hashing layer.
KEY_RE = re.compile(r"^[0-9a-f]{40}$")


def check_key(key: object) -> str:
    """Return ``key`` if it is a valid key, else raise ``InvalidKey``.

    ``fullmatch`` rather than ``match``: ``$`` alone would accept a trailing newline.
    Backends call this before building any path from a key.
    """
    if not isinstance(key, str) or KEY_RE.fullmatch(key) is None:
        raise InvalidKey(key)
    return key


@dataclass(frozen=True)
class ObjectInfo:
    """What the store knows about one object without decoding it."""

    key: str
    bytes: int
    """Size on disk: header plus compressed payload."""
    raw_bytes: int
    """Size of the uncompressed payload."""
    codec: str
    """``arrow``, ``pandas``, ``numpy``, ``sparse`` or ``pickle``."""
    checksum: str
    """blake2b-160 of the compressed payload, in hex."""
    write_seconds: float
    """Wall time of encode + compress + write; 0 when read back from a header."""

    @property
    def compression_ratio(self) -> float:
        """``raw_bytes / bytes``; above 1 when compression saved space."""
        return self.raw_bytes / self.bytes if self.bytes else 0.0


@dataclass(frozen=True)
class Repacked:
    """What ``ObjectStore.repack`` moved: the new sizes of the objects it packed, by key,
    and the bytes on disk the store takes less."""

    sizes: dict[str, int]
    freed: int


class ObjectStore(ABC):
    """A content-addressed store of intermediates, keyed by operator identity.

    Values go in as Python objects and come out as fresh, equal copies. Every read is
    verified; a damaged object is removed and reported as ``CorruptObject`` so that the
    caller recomputes it instead of trusting it.
    """

    def hot_load_seconds(self, key: str) -> float | None:
        """What loading ``key`` costs when it is held in memory (a hot tier), else None."""
        return None

    @abstractmethod
    def has(self, key: str) -> bool:
        """Whether an object is stored under ``key`` (not verified)."""

    def has_many(self, keys: Iterable[str]) -> set[str]:
        """The keys among ``keys`` that are stored, as ``has`` says of each."""
        return {key for key in keys if self.has(key)}

    level: int  # zstd level of what ``pack`` writes

    def put(self, key: str, value: object) -> ObjectInfo:
        """Store ``value`` under ``key``; idempotent: an existing key is left as it is.

        Raises ``UnstorableValue`` when no codec can serialize the value and
        ``StoreWriteError`` when the medium refuses the write.
        """
        existing = self._existing_info(check_key(key))
        if existing is not None:
            return existing
        return self.put_packed(key, self.pack(value))

    def put_encoded(self, key: str, encoded: Encoded) -> ObjectInfo:
        """``put`` of a value already encoded (``objectfile.encode_value``): what a
        background write does once the value itself may have changed."""
        existing = self._existing_info(check_key(key))
        if existing is not None:
            return existing
        return self.put_packed(key, self.compress(encoded))

    def put_group(self, values: Sequence[tuple[str, Encoded | Packed]]) -> dict[str, ObjectInfo]:
        """Write several values (each encoded, or packed already) as ``put_encoded`` and
        ``put_packed`` would; their ``ObjectInfo`` by key. Once it returns, every one of
        them is on disk; a store may make them durable together (the disk store writes
        the small ones as one pack, fsynced once). An error means the group is not
        written: some of its values may be on disk, unrecorded, none is promised."""
        infos = {}
        for key, value in values:
            if hasattr(value, "header"):  # a Packed (objectfile imports this module)
                infos[key] = self.put_packed(key, value)  # type: ignore[arg-type]
            else:
                infos[key] = self.put_encoded(key, value)
        return infos

    @abstractmethod
    def compress(self, encoded: Encoded) -> Packed:
        """An encoded value compressed as this store writes it."""

    @abstractmethod
    def pack(self, value: object) -> Packed:
        """``value`` encoded and compressed as this store would write it (its checksum
        says whether it is the same as a stored object); ``UnstorableValue`` if it
        cannot be encoded."""

    @abstractmethod
    def _existing_info(self, key: str) -> ObjectInfo | None:
        """Info of the object already under ``key``; None (and a bad one replaced) else."""

    @abstractmethod
    def get(self, key: str, *, checksum: str | None = None) -> object:
        """The value stored under ``key``.

        Raises ``MissingObject`` if absent and ``CorruptObject`` (after removing the
        object) if it fails verification or cannot be decoded, or if ``checksum`` is
        given (the one the run index recorded) and the object's checksum differs.
        """

    @abstractmethod
    def info(self, key: str) -> ObjectInfo | None:
        """Size, codec and checksum from the header only; ``None`` if absent.

        A header that does not parse is corruption: the object is removed and
        ``CorruptObject`` raised, as for ``get``.
        """

    @abstractmethod
    def delete(self, key: str) -> bool:
        """Remove the object; ``False`` if there was none."""

    @abstractmethod
    def keys(self) -> Iterator[str]:
        """Every stored key, in no particular order."""

    @abstractmethod
    def total_bytes(self) -> int:
        """Space used by all objects, as ``ObjectInfo.bytes`` would count it."""

    @abstractmethod
    def put_packed(self, key: str, packed: Packed) -> ObjectInfo:
        """``put`` of a value ``pack`` encoded already."""

    @abstractmethod
    def alias(self, key: str, existing: str) -> ObjectInfo | None:
        """Make ``key`` name the object stored under ``existing`` (early cutoff: two keys
        whose values are equal); None if ``existing`` is not stored."""

    @abstractmethod
    def read_object(self, key: str) -> bytes:
        """The stored bytes of ``key`` as they are (header and compressed payload), after
        checking them as ``verify`` does, to copy the object elsewhere (a remote).

        Raises ``MissingObject`` if absent and ``CorruptObject`` (after removing the
        object) if it fails verification.
        """

    @abstractmethod
    def write_object(self, key: str, data: bytes, *, checksum: str | None = None) -> ObjectInfo:
        """Store bytes that ``read_object`` returned somewhere else, atomically, once
        verified (against ``checksum`` too, when given); a key already stored is kept.

        Raises ``CorruptObject`` (nothing written, ``path`` None) when ``data`` fails
        verification, and ``StoreWriteError`` when the medium refuses the write.
        """

    def write_stream(
        self, key: str, head: bytes, read: Callable[[int], bytes], *, checksum: str | None = None
    ) -> ObjectInfo:
        """``write_object`` for bytes that arrive in pieces: ``head`` (at least the
        header), then ``read(n)`` until it gives ``b""``. A store that can write the
        pieces as they come, checking them meanwhile, does; this one joins them first."""
        pieces = [head]
        while piece := read(STREAM_PIECE):
            pieces.append(piece)
        return self.write_object(key, b"".join(pieces), checksum=checksum)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Writes inside may become durable together when it ends (the disk store packs
        the small ones); nothing written inside may be recorded before it ends."""
        yield

    def loose_estimate(self) -> int:
        """About how many objects ``repack`` would pack, found cheaply (0: none)."""
        return 0

    def repack(self) -> Repacked:
        """Reorganize what the store keeps without changing any value (the disk store
        packs small objects)."""
        return Repacked({}, 0)

    def __contains__(self, key: object) -> bool:
        return self.has(check_key(key))
