"""Buffers the store writes values into and reads archives from.

``fresh``: a buffer for a large value's bytes (an encoding, a decompressed load) in
numpy's memory rather than a ``bytearray``. ``bytearray(n)`` fills its memory with zeros,
which touches every fresh page before the real write does: 0.30 s against 0.20 s to
decompress 216 MB here, ~0.1 s more to encode a 216 MB matrix. Arrow's own pool was
worse still: filling a fresh buffer of it with a 130 MB table took 1.1-1.2 s in a new
process, numpy's 0.02-0.04 s (numpy asks the kernel for huge pages for large buffers,
and reuses memory the process freed).

``BufferFile``: a seekable file over such a buffer, for ``zipfile``.
"""

from __future__ import annotations

import io
import sys
from typing import Any

ZERO_FILL_MATTERS = 2**20
"""From this size (1 MiB) a fresh buffer is numpy's memory (``fresh``)."""


def fresh(size: int) -> memoryview:
    """A writable buffer of ``size`` bytes that nothing else holds: numpy's memory, not
    zero-filled, for a large value in a process that has numpy already (storing or
    loading plain data never imports it), else a ``bytearray``."""
    numpy = sys.modules.get("numpy")
    if numpy is None or size < ZERO_FILL_MATTERS:
        return memoryview(bytearray(size))
    return numpy.empty(size, dtype=numpy.uint8).data.cast("B")


class Full(Exception):
    """More bytes than a ``BufferFile`` to write into has room for."""


class BufferFile(io.RawIOBase):
    """A seekable file over one buffer of a fixed size: ``zipfile`` reads an archive's
    directory from it without copying the buffer (``io.BytesIO`` would), or writes an
    archive into it, going back to each member's header for its sizes and CRC.

    ``end``: where the file's content ends (0 for a file to write into)."""

    def __init__(self, view: memoryview, end: int | None = None) -> None:
        self.view = view
        self.position = 0
        self.end = view.nbytes if end is None else end

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return not self.view.readonly

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.end}
        self.position = max(base[whence] + offset, 0)
        return self.position

    def read(self, size: int | None = -1) -> bytes:
        stop = self.end if size is None or size < 0 else min(self.position + size, self.end)
        data = bytes(self.view[self.position : stop])
        self.position += len(data)
        return data

    def write(self, data: Any) -> int:
        piece = memoryview(data).cast("B")
        stop = self.position + piece.nbytes
        if stop > self.view.nbytes:
            raise Full
        self.view[self.position : stop] = piece
        self.position = stop
        self.end = max(self.end, stop)
        return piece.nbytes

    def written(self) -> memoryview:
        return self.view[: self.end]
