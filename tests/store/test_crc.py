"""CRC-32 arithmetic (``crc``): a concatenation's CRC from its parts', and a
large buffer checksummed in two halves."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helixvcs.store import crc


@given(st.binary(max_size=300), st.binary(max_size=3000))
def test_crc32_of_a_concatenation_from_its_parts(a: bytes, b: bytes) -> None:
    whole, first, second = zlib.crc32(a + b), zlib.crc32(a), zlib.crc32(b)
    assert crc.crc32_combine(first, second, len(b)) == whole


def test_crc32_arithmetic_holds_for_a_megabyte() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.bytes(1000), rng.bytes((1 << 20) + 12345)
    whole, first, second = zlib.crc32(a + b), zlib.crc32(a), zlib.crc32(b)
    assert crc.crc32_combine(first, second, len(b)) == whole


@pytest.mark.parametrize(
    "size", [0, 1, crc.PARALLEL_FROM - 1, crc.PARALLEL_FROM, crc.PARALLEL_FROM + 7]
)
def test_a_buffer_checksummed_in_two_halves_is_zlib_s_crc(size: int) -> None:
    data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8)
    assert crc.crc32_parallel(data) == zlib.crc32(data)
    assert crc.crc32_parallel(memoryview(data)[1:]) == zlib.crc32(memoryview(data)[1:])


@pytest.mark.parametrize("size", [0, 1, 4095, 2**20 + 3, crc.PARALLEL_FROM + 7])
def test_crc32_is_zlib_s_for_any_buffer(size: int) -> None:
    """zlib-ng's CRC where it is installed (the test environment has it), zlib's else:
    the same number for bytes, numpy memory of any dtype, and read-only memory."""
    data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8)
    assert crc.crc32(data) == zlib.crc32(data)
    assert crc.crc32(data.tobytes()) == zlib.crc32(data.tobytes())
    if size % 8 == 0:
        floats = data.view(np.float64)
        assert crc.crc32(floats) == zlib.crc32(floats)
    frozen = data.copy()
    frozen.setflags(write=False)
    assert crc.crc32(memoryview(frozen)) == zlib.crc32(frozen)


def test_the_fast_crc32_is_in_use_where_zlib_ng_is_installed() -> None:
    pytest.importorskip("zlib_ng")
    assert crc._FAST is not None
