"""The object file format on its own: any bytes at all either verify or are corruption."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helixvcs.store.objectfile import HEADER_SIZE, MAGIC, Corruption, pack, parse_header, unpack


def test_header_is_small_and_fixed() -> None:
    packed = pack({"a": 1}, level=3)
    assert len(packed.header_bytes) == HEADER_SIZE == 53
    assert packed.header_bytes.startswith(MAGIC + b"\x01")
    assert parse_header(packed.header_bytes) == packed.header


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise_anything_but_corruption(data: bytes) -> None:
    with pytest.raises(Corruption):
        unpack(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=HEADER_SIZE - 4, max_size=200))
def test_garbage_after_a_valid_magic_is_corruption(data: bytes) -> None:
    with pytest.raises(Corruption):
        unpack(MAGIC + b"\x01" + data)


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_any_damage_to_a_real_object_is_corruption(data: st.DataObject) -> None:
    packed = pack(list(range(50)), level=3)
    original = packed.header_bytes + packed.payload
    position = data.draw(st.integers(0, len(original) - 1))
    replacement = data.draw(st.integers(0, 255).filter(lambda b: b != original[position]))
    damaged = original[:position] + bytes([replacement]) + original[position + 1 :]
    with pytest.raises(Corruption):
        unpack(damaged)
    assert unpack(original) == list(range(50))


def test_a_large_load_decompresses_into_numpy_memory_and_a_small_one_into_bytes() -> None:
    from helixvcs.store.buffers import ZERO_FILL_MATTERS
    from helixvcs.store.objectfile import unpack_raw

    big = np.arange(ZERO_FILL_MATTERS // 8 + 10, dtype=np.float64)
    packed = pack(big, 3)
    codec, raw = unpack_raw(packed.header_bytes + packed.payload)
    assert codec == "numpy" and not raw.readonly
    assert isinstance(raw.obj, np.ndarray)  # not a zero-filled bytearray
    assert bytes(raw) == bytes(packed.raw)
    small = pack({"a": 1}, 3)
    _, raw = unpack_raw(small.header_bytes + small.payload)
    assert isinstance(raw.obj, bytearray)
