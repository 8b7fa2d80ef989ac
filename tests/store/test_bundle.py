"""The bundle codec: containers of arrays, matrices, tables and frames, element by element.

Round trips are exact (container types, key order, dtypes, shapes, sparse formats, frame
indexes); anything the bundle cannot hold exactly is pickled whole, as before; objects
pickled before bundles existed still load; a damaged bundle is corruption.
"""

from __future__ import annotations

import json
import math
import pickle
import subprocess
import sys
from collections import OrderedDict, namedtuple
from enum import IntEnum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import scipy.sparse as sps
from sklearn.linear_model import LogisticRegression

from helixvcs.store import CorruptObject, DiskObjectStore, decode, encode
from helixvcs.store.bundle import MAX_NODES
from helixvcs.store.objectfile import _FIELDS, MAGIC, VERSION, _blake2b, compress

KEY = "ab" * 20


def round_trip(value: object) -> tuple[str, Any]:
    codec, payload = encode(value)
    return codec, decode(codec, bytearray(payload))  # writable, as the stores decode


def same(a: Any, b: Any) -> None:
    """Exactly the same value: types all the way down, dtypes, shapes, formats, indexes."""
    assert type(b) is type(a), (type(a), type(b))
    if isinstance(a, tuple | list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            same(x, y)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            same(a[key], b[key])
    elif isinstance(a, np.ndarray):
        assert (a.dtype, a.shape) == (b.dtype, b.shape)
        np.testing.assert_array_equal(b, a)
    elif sps.issparse(a):
        assert (a.format, a.dtype, a.shape) == (b.format, b.dtype, b.shape)
        np.testing.assert_array_equal(b.toarray(), a.toarray())
    elif isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(b, a, check_exact=True)
        assert type(b.index) is type(a.index)
    elif isinstance(a, pa.Table):
        assert b.equals(a, check_metadata=True)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    else:
        assert repr(b) == repr(a)  # repr: -0.0 and 0.0 are ==, and so are 1 and True


def csr_pair() -> tuple[Any, Any]:
    return sps.random(40, 9, 0.2, "csr", rng=1), sps.random(30, 9, 0.2, "csr", rng=2)


VALUES: dict[str, Any] = {
    "tuple-of-csr": csr_pair,
    "list-of-arrays": lambda: [np.arange(5), np.eye(3, dtype=np.float32)],
    "dict-of-arrays": lambda: {
        "X": np.arange(12.0).reshape(3, 4),
        "y": np.array([True, False, True]),
        "when": np.array(["2024-01-01", "NaT"], dtype="datetime64[s]"),
        "names": np.array(["ab", "c"]),
        "fortran": np.asfortranarray(np.arange(6, dtype=np.int16).reshape(2, 3)),
        "strided": np.arange(20)[::3],
        "big-endian": np.arange(4, dtype=">f8"),
        "record": np.array([(1, 2.5)], dtype=[("id", "<i4"), ("score", "<f8")]),
        "empty": np.zeros((2, 0)),
        "zero-d": np.array(7.5),
    },
    "key-order": lambda: {"z": np.ones(1), "a": np.zeros(1), "m": np.ones(2)},
    "every-sparse-format": lambda: {
        f"{fmt}-{kind}": getattr(sps, f"{fmt}_{kind}")(sps.random(7, 5, 0.4, fmt, rng=3))
        for fmt in ("csr", "csc", "bsr", "dia", "coo")
        for kind in ("matrix", "array")
    },
    "sparse-arrays-1d-and-3d": lambda: (
        sps.csr_array(np.array([0, 1.0, 0, 2])),
        sps.coo_array(np.arange(24.0).reshape(2, 3, 4)),
    ),
    "frames-and-tables": lambda: {
        "frame": pd.DataFrame(
            {"x": [0.5, np.nan], "s": ["a", None]}, index=pd.Index([10, 20], name="id")
        ),
        "range": pd.DataFrame({"a": [1, 2]}, index=pd.RangeIndex(5, 9, 2, name="r")),
        "table": pa.table({"a": [1, None], "s": ["x", "y"]}, metadata={"origin": "t"}),
    },
    "nested-one-level": lambda: (
        (np.ones(3), np.zeros(3)),
        [sps.eye(3, format="csr"), np.arange(2)],
        {"X": np.ones((2, 2)), "n": 2},
        (),
        {},
    ),
    "mixed-with-plain-values": lambda: {
        "X": np.ones(3),
        "none": None,
        "flag": True,
        "count": 299_000,
        "huge": 2**100,
        "ratio": 0.1 + 0.2,
        "nan": float("nan"),
        "inf": -float("inf"),
        "negative-zero": -0.0,
        "name": "census ✓ \ud800",
        "raw": b"\x00\xff",
        "f64": np.float64(0.85),
        "f32": np.float32(1.5),
        "i8": np.int8(-3),
        "flag64": np.bool_(True),
        "day": np.datetime64("2024-01-01"),
        "word": np.str_("abc"),
    },
}


@pytest.mark.parametrize("name", sorted(VALUES))
def test_containers_of_native_values_round_trip_exactly_as_bundles(name: str) -> None:
    value = VALUES[name]()
    codec, back = round_trip(value)
    assert codec == "bundle"
    same(value, back)


def test_bundled_arrays_are_aligned_writable_views_of_the_loaded_buffer() -> None:
    codec, payload = encode({"a": np.arange(3.0), "b": np.arange(1000, dtype=np.complex128)})
    buffer = bytearray(payload)
    back = decode(codec, buffer)
    assert isinstance(back, dict)
    for array in back.values():
        assert array.flags.writeable and array.flags.aligned
        assert array.ctypes.data % 16 == 0
        assert np.shares_memory(array, np.frombuffer(buffer, np.uint8))
    read_only = decode(codec, bytes(payload))  # from bytes: copies, still writable
    assert isinstance(read_only, dict) and read_only["a"].flags.writeable


def test_a_bundle_unpickles_nothing() -> None:
    codec, payload = encode(csr_pair())
    assert codec == "bundle"
    assert b"\x80\x05" not in bytes(payload)[:64]  # no pickle header before the manifest
    length = int.from_bytes(bytes(payload)[:8], "little")
    manifest = json.loads(bytes(payload)[8 : 8 + length])
    assert manifest["version"] == 1
    assert [item["t"] for item in manifest["value"]["items"]] == ["sparse", "sparse"]


Point = namedtuple("Point", "x y")
Size = IntEnum("Size", "SMALL LARGE")


def fitted() -> LogisticRegression:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(50, 2))
    return LogisticRegression().fit(features, (features[:, 0] > 0).astype(int))


PICKLED: dict[str, Any] = {
    "no-arrays": lambda: {"a": [1, 2.5, "x"], "b": {"nested": (1, 2)}},
    "int-keys": lambda: {1: np.ones(2)},
    "nested-two-levels": lambda: ((np.ones(2), (np.ones(1),)),),
    "object-array": lambda: (np.array([1, "a"], dtype=object), np.ones(2)),
    "lossy-frame": lambda: [pd.DataFrame({"o": pd.Series([1, "a"], dtype=object)})],
    "lil-matrix": lambda: (sps.lil_matrix(np.eye(2)), np.ones(2)),
    "series": lambda: {"X": np.ones(2), "y": pd.Series([1, 2])},
    "estimator": lambda: (fitted(), np.ones(2)),
    "namedtuple": lambda: Point(np.ones(2), np.zeros(2)),
    "ordered-dict": lambda: OrderedDict(X=np.ones(2)),
    "masked-array": lambda: (np.ma.masked_array([1, 2], mask=[True, False]),),
    "int-subclass": lambda: (np.ones(2), Size.LARGE),
    "path": lambda: {"X": np.ones(2), "where": Path("data")},
    "too-many-items": lambda: [np.ones(1)] + [0] * MAX_NODES,
    "huge-int": lambda: (np.ones(1), 10**5000),
    "structured-scalar": lambda: (np.ones(1), np.array([(1, 2.0)], dtype="i4,f8")[0]),
}


@pytest.mark.parametrize("name", sorted(PICKLED))
def test_anything_else_is_pickled_whole_as_before(name: str) -> None:
    value = PICKLED[name]()
    codec, back = round_trip(value)
    assert codec == "pickle"
    assert type(back) is type(value)
    as_before = pickle.loads(pickle.dumps(value, protocol=5))  # what a pickle gave back
    assert pickle.dumps(back, protocol=5) == pickle.dumps(as_before, protocol=5)


def write_object(store: DiskObjectStore, key: str, codec: str, raw: bytes) -> None:
    """An object file as any earlier helixvcs wrote it: header, then zstd payload."""
    payload = compress(memoryview(raw), 3)
    fields = _FIELDS.pack(
        MAGIC, VERSION, codec.encode(), len(raw), len(payload), _blake2b(payload, 20)
    )
    path = store.path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(fields + _blake2b(fields, 4) + payload)


def test_containers_pickled_before_bundles_existed_still_load(tmp_path: Path) -> None:
    store = DiskObjectStore(tmp_path / "objects")
    value = csr_pair()
    write_object(store, KEY, "pickle", pickle.dumps(value, protocol=5))
    info = store.info(KEY)
    assert info is not None and info.codec == "pickle"
    same(value, store.get(KEY))


def test_a_bundle_through_the_store_keeps_its_codec_and_value(tmp_path: Path) -> None:
    store = DiskObjectStore(tmp_path / "objects")
    value = {"train": csr_pair(), "y": np.arange(40) % 2, "n": 40}
    assert store.put(KEY, value).codec == "bundle"
    same(value, store.get(KEY))


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: raw[:4],
        lambda raw: (10**9).to_bytes(8, "little") + raw[8:],
        lambda raw: raw[:8] + b"[" + raw[9:],
        lambda raw: raw.replace(b'"version":1', b'"version":7', 1),
        lambda raw: raw.replace(b'"t":"sparse"', b'"t":"pickle"', 1),
        lambda raw: raw.replace(b'"format":"csr"', b'"format":"lil"', 1),
        lambda raw: raw[: len(raw) // 2],
    ],
    ids=["short", "long-manifest", "bad-json", "version", "node", "format", "truncated"],
)
def test_a_damaged_bundle_is_corruption_and_is_removed(tmp_path: Path, damage: Any) -> None:
    store = DiskObjectStore(tmp_path / "objects")
    codec, raw = encode(csr_pair())
    assert codec == "bundle"
    write_object(store, KEY, "bundle", damage(bytes(raw)))
    with pytest.raises(CorruptObject, match="cannot decode bundle payload"):
        store.get(KEY)
    assert not store.has(KEY)


IMPORT_PROBE = """
import json, sys
import numpy as np
before = set(sys.modules)
from helixvcs.store import MemoryObjectStore
store = MemoryObjectStore()
store.put("a" * 40, {"X": np.arange(3.0), "n": 3})
back = store.get("a" * 40)
assert store.info("a" * 40).codec == "bundle", store.info("a" * 40)
heavy = ("pyarrow", "pandas", "scipy", "sklearn")
print(json.dumps(sorted({m.split(".")[0] for m in set(sys.modules) - before} & set(heavy))))
"""


def test_bundling_arrays_imports_no_other_library() -> None:
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE], capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout) == []
