"""CRC-32 (zlib's): of a large buffer as fast as the machine can, and of pieces put
together (a whole's from its parts').

``crc32`` is what checks a value loaded from the warm server's memory and what the input
guard's fingerprints are made of, so it is on the path of nearly every run. The zlib that
Python links computes it at ~4 GB/s on one core here; zlib-ng's (the ``zlib-ng``
package, the same CRC-32 with the processor's carry-less multiply) at ~27 GB/s, as fast
as memory is read. Without it, zlib's is taken in two halves on two threads.

zlib's ``crc32_combine`` is not in Python's ``zlib``; this is its arithmetic (zlib
1.2.12's ``multmodp`` / ``x2nmodp``), in microseconds for any length.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable
from typing import Any


def _simd_crc32() -> Callable[..., int] | None:
    try:
        from zlib_ng import zlib_ng
    except ImportError:  # a platform without its wheel: zlib's, on two threads
        return None
    crc32: Callable[..., int] = zlib_ng.crc32
    return crc32 if crc32(b"123456789") == zlib.crc32(b"123456789") else None


_FAST = _simd_crc32()

_POLY = 0xEDB88320
"""CRC-32's polynomial, bit-reflected (zlib's)."""


def _multmodp(a: int, b: int) -> int:
    """``a * b`` modulo CRC-32's polynomial, both reflected (zlib's ``multmodp``; ``a``
    is never 0 here)."""
    m = 1 << 31
    p = 0
    while True:
        if a & m:
            p ^= b
            if a & (m - 1) == 0:
                return p
        m >>= 1
        b = (b >> 1) ^ _POLY if b & 1 else b >> 1


def _x2n_table() -> list[int]:
    table, p = [], 1 << 30  # x^1
    for _ in range(32):
        table.append(p)
        p = _multmodp(p, p)
    return table


_X2N = _x2n_table()
"""``x^(2^n)`` modulo the polynomial, n = 0..31 (zlib's ``x2n_table``)."""


def _shift(crc: int, length: int) -> int:
    """``crc`` multiplied by ``x^(8 * length)``: what it contributes to the CRC of the
    same bytes followed by ``length`` more (zlib's ``crc32_combine`` without the XOR)."""
    p, n, k = 1 << 31, length, 3  # x^0; bytes are 2^3 bits
    while n:
        if n & 1:
            p = _multmodp(_X2N[k & 31], p)
        n >>= 1
        k += 1
    return _multmodp(p, crc)


def crc32_combine(crc1: int, crc2: int, length2: int) -> int:
    """``zlib.crc32(a + b)`` from ``zlib.crc32(a)``, ``zlib.crc32(b)`` and ``len(b)``."""
    return _shift(crc1, length2) ^ crc2


PARALLEL_FROM = 32 * 2**20
"""Without zlib-ng, buffers at least this large (32 MiB) are checksummed in two halves on
two threads (``zlib.crc32`` lets go of the GIL): ~6 ms of the ~12 ms per 100 MiB here,
when a second core is free."""


def crc32(data: Any) -> int:
    """``zlib.crc32(data)`` of any contiguous buffer, by zlib-ng where it is installed,
    else ``crc32_parallel``."""
    if _FAST is not None:
        return _FAST(data)
    return crc32_parallel(data)


def crc32_parallel(data: Any) -> int:
    """``zlib.crc32(data)``, its second half checksummed on another thread."""
    view = memoryview(data).cast("B")
    if view.nbytes < PARALLEL_FROM:
        return zlib.crc32(view)
    half = view.nbytes // 2
    second: list[int] = []
    thread = threading.Thread(target=lambda: second.append(zlib.crc32(view[half:])))
    thread.start()
    try:
        first = zlib.crc32(view[:half])
    finally:
        thread.join()
    return crc32_combine(first, second[0], view.nbytes - half)
