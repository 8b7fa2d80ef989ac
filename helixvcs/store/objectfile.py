"""The stored form of one object: a small fixed header, then a zstd-compressed payload.

Every backend keeps exactly these bytes, so verification and decoding are written once.

Header layout (little-endian, 53 bytes)::

    offset  size  field
         0     4  magic b"HLXO"
         4     1  format version (1)
         5     8  codec name, ASCII, NUL-padded
        13     8  raw (uncompressed) payload size
        21     8  compressed payload size
        29    20  blake2b-160 of the compressed payload
        49     4  blake2b-32 of bytes 0..48, so a damaged header is caught before any
                  of its sizes is trusted

The payload checksum is checked before decompression, so zstd only ever sees bytes that
were written by us; a file's size must equal header plus payload size exactly, which
catches truncation and trailing garbage.
"""

from __future__ import annotations

import hashlib
import struct
import time
from dataclasses import dataclass
from typing import Any

from helixvcs.store.base import ObjectInfo
from helixvcs.store.buffers import fresh
from helixvcs.store.codecs import (
    CODECS,
    decode,
    encode_buffer,
    estimator_snapshot,
    settle_estimator,
)
from helixvcs.store.errors import CorruptObject

MAGIC = b"HLXO"
VERSION = 1
_FIELDS = struct.Struct("<4sB8sQQ20s")
_HEADER_DIGEST_SIZE = 4
HEADER_SIZE = _FIELDS.size + _HEADER_DIGEST_SIZE
CHECKSUM_SIZE = 20
#: Payloads larger than this are compressed on all cores.
MULTITHREAD_THRESHOLD = 8 * 2**20


class Corruption(Exception):
    """Internal: the bytes of an object failed verification; backends translate it
    into ``CorruptObject`` once they have removed the object."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class Header:
    """The parsed, verified header of an object."""

    codec: str
    raw_bytes: int
    payload_bytes: int
    checksum: str

    @property
    def total_bytes(self) -> int:
        return HEADER_SIZE + self.payload_bytes

    def info(self, key: str, write_seconds: float = 0.0) -> ObjectInfo:
        return ObjectInfo(
            key=key,
            bytes=self.total_bytes,
            raw_bytes=self.raw_bytes,
            codec=self.codec,
            checksum=self.checksum,
            write_seconds=write_seconds,
        )


@dataclass(frozen=True)
class Packed:
    """An encoded, compressed value ready to be written as ``header + payload``."""

    header: Header
    header_bytes: bytes
    payload: bytes
    started: float
    """``time.perf_counter()`` when encoding began, so writers can report total time."""
    raw: memoryview | None = None
    """The codec's payload before compression (what the hot tier keeps)."""

    def info(self, key: str) -> ObjectInfo:
        return self.header.info(key, time.perf_counter() - self.started)


@dataclass(frozen=True)
class Encoded:
    """A value as its codec's bytes, before compression: what a background write takes.

    The bytes never share memory with the value (every codec writes a fresh buffer), so
    whoever computed the value may hand it on, and its receivers change it in place,
    while the write compresses what the value was when it was encoded."""

    codec: str
    raw: memoryview
    started: float
    """``time.perf_counter()`` when encoding began."""
    estimator: bool = False
    """``raw`` is the pickle of a scikit-learn estimator whose skops encoding is left to
    the write (``settled``): a valid pickle object until then."""
    checksums: tuple[tuple[Any, int], ...] = ()
    """(array of the value, ``zlib.crc32`` of its bytes as they were encoded) for the
    arrays the encoding checksummed on the way (``codecs.encode_buffer``)."""

    def settled(self) -> Encoded:
        """The encoding ``encode_buffer`` would have given the value."""
        if not self.estimator:
            return self
        codec, raw = settle_estimator(self.raw)
        return Encoded(codec, raw, self.started)


def encode_value(value: object, *, defer_estimators: bool = False) -> Encoded:
    """``value`` as its codec's bytes; raises ``UnstorableValue`` if it cannot be encoded.

    ``defer_estimators``: a scikit-learn estimator is only pickled here, and encoded with
    skops when the write compresses it (``Encoded.settled``), on the writer's thread."""
    started = time.perf_counter()
    if defer_estimators:
        snapshot = estimator_snapshot(value)
        if snapshot is not None:
            return Encoded("pickle", memoryview(snapshot), started, estimator=True)
    checksums: list[tuple[Any, int]] = []
    codec, raw = encode_buffer(value, checksums)
    return Encoded(codec, raw, started, checksums=tuple(checksums))


def pack(value: object, level: int) -> Packed:
    """Encode and compress ``value``; raises ``UnstorableValue`` if it cannot be encoded."""
    return compress_encoded(encode_value(value), level)


def compress_encoded(encoded: Encoded, level: int) -> Packed:
    """Compress and checksum an encoded value: the object as a store writes it."""
    encoded = encoded.settled()
    codec, raw = encoded.codec, encoded.raw
    payload = compress(raw, level)
    digest = _blake2b(payload, CHECKSUM_SIZE)
    header = Header(codec, raw.nbytes, len(payload), digest.hex())
    fields = _FIELDS.pack(MAGIC, VERSION, codec.encode("ascii"), raw.nbytes, len(payload), digest)
    header_bytes = fields + _blake2b(fields, _HEADER_DIGEST_SIZE)
    return Packed(header, header_bytes, payload, encoded.started, raw)


def compress(raw: memoryview, level: int) -> bytes:
    import zstandard

    threads = -1 if raw.nbytes > MULTITHREAD_THRESHOLD else 0
    return zstandard.ZstdCompressor(level=level, threads=threads).compress(raw)


def parse_header(data: bytes | memoryview) -> Header:
    """Parse and verify the header at the start of ``data``; raises ``Corruption``."""
    if len(data) < HEADER_SIZE:
        raise Corruption(f"truncated header: {len(data)} of {HEADER_SIZE} bytes")
    fields = bytes(data[: _FIELDS.size])
    if fields[:4] != MAGIC:
        raise Corruption("bad header: not a helix object")
    if bytes(data[_FIELDS.size : HEADER_SIZE]) != _blake2b(fields, _HEADER_DIGEST_SIZE):
        raise Corruption("bad header: header checksum mismatch")
    _, version, codec_field, raw_bytes, payload_bytes, digest = _FIELDS.unpack(fields)
    if version != VERSION:
        raise Corruption(f"unsupported format version {version}")
    codec = codec_field.rstrip(b"\0").decode("ascii", errors="replace")
    if codec not in CODECS:
        raise Corruption(f"bad header: unknown codec {codec!r}")
    return Header(codec, raw_bytes, payload_bytes, digest.hex())


def check_size(header: Header, size: int) -> None:
    """The stored size must match the header exactly; raises ``Corruption``."""
    if size < header.total_bytes:
        raise Corruption(f"truncated: {size} of {header.total_bytes} bytes")
    if size > header.total_bytes:
        raise Corruption(f"{size - header.total_bytes} unexpected bytes after the payload")


def verify(data: bytes | memoryview, checksum: str | None = None) -> Header:
    """Check a whole stored object without decompressing it: header, size and payload
    checksum (and ``checksum``, when the caller knows which object it expects); raises
    ``Corruption``. What objects that travel as bytes (to and from a remote) go through."""
    check = ArrivingCheck(data, checksum)
    check_size(check.header, len(data))  # before hashing: a cut object fails at once
    check.update(memoryview(data)[HEADER_SIZE:])
    return check.finish()


class ArrivingCheck:
    """``verify`` for an object whose bytes arrive in pieces (a download): its header
    first, then its payload, hashed as each piece comes (hashlib lets other threads run
    meanwhile), so that the object is checked by the time its last byte is in. Raises
    ``Corruption`` as soon as the bytes cannot be that object."""

    def __init__(self, head: bytes | memoryview, checksum: str | None = None) -> None:
        self.header = parse_header(head)
        if checksum is not None and self.header.checksum != checksum:
            raise Corruption("checksum does not match the run index")
        self.size = HEADER_SIZE
        self._payload = hashlib.blake2b(digest_size=CHECKSUM_SIZE)

    def update(self, piece: bytes | memoryview) -> None:
        """The payload's next bytes (the header's own are not passed)."""
        self.size += len(piece)
        if self.size > self.header.total_bytes:
            check_size(self.header, self.size)
        self._payload.update(piece)

    def finish(self) -> Header:
        """The header, once every byte has arrived and the payload's checksum matches."""
        check_size(self.header, self.size)
        if self._payload.hexdigest() != self.header.checksum:
            raise Corruption("checksum mismatch")
        return self.header


def verified_write(key: str, data: bytes | memoryview, checksum: str | None = None) -> Header:
    """``verify`` for a store about to write ``data`` under ``key``: damage is the
    writer's ``CorruptObject``, naming the key."""
    try:
        return verify(data, checksum)
    except Corruption as exc:
        raise CorruptObject(key, None, exc.reason) from None


def unpack(data: bytes, checksum: str | None = None) -> object:
    """``unpack_raw`` and decode (see there)."""
    codec, raw = unpack_raw(data, checksum)
    return decode_raw(codec, raw)


def unpack_raw(data: bytes, checksum: str | None = None) -> tuple[str, memoryview]:
    """Verify a whole stored object and decode it; raises ``Corruption``.

    ``checksum``, when given, is what the run index recorded when the object was
    written: a file that verifies but is not that object (copied in, or replaced by a
    different value under the same key) is refused before it is decoded, so a pickle
    only ever runs if it is the one this repository stored.

    A payload that verifies but does not decode (say, a pickle whose class no longer
    imports) is reported as corruption too: the object is useless to this environment
    and must be recomputed, which only happens once it is gone.
    """
    header = verify(data, checksum)
    return header.codec, _decompress(memoryview(data)[HEADER_SIZE:], header.raw_bytes)


def decode_raw(codec: str, raw: memoryview) -> object:
    """The value of a verified, decompressed payload; ``Corruption`` if it does not decode."""
    try:
        return decode(codec, raw)
    except Exception as exc:  # unpickling runs arbitrary code; any failure means unusable
        reason = f"cannot decode {codec} payload: {type(exc).__name__}: {exc}"
        raise Corruption(reason.replace("\n", " ")) from exc


def _decompress(payload: memoryview, raw_bytes: int) -> memoryview:
    """Decompress into a fresh, writable buffer of exactly the size the header promises.

    Writable so that codecs can hand out views of it (a numpy array backed by this
    buffer needs no further copy) and exact so a frame that disagrees is corruption.
    Not zero-filled first when it is large (``buffers.fresh``).
    """
    import zstandard

    view = fresh(raw_bytes)
    filled = 0
    try:
        with zstandard.ZstdDecompressor().stream_reader(payload) as reader:
            while filled < raw_bytes:
                count = reader.readinto(view[filled:])
                if count == 0:
                    break
                filled += count
            overflow = reader.read(1)
    except zstandard.ZstdError as exc:
        raise Corruption(f"cannot decompress: {exc}") from exc
    if filled != raw_bytes or overflow:
        raise Corruption(f"decompressed size does not match the {raw_bytes} bytes in the header")
    return view


def _blake2b(data: bytes | memoryview, size: int) -> bytes:
    return hashlib.blake2b(data, digest_size=size).digest()
