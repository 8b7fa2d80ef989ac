"""Codecs on their own: which codec a value gets, exactness of the pandas path, sizes."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import scipy.sparse as sps
from sklearn.linear_model import LogisticRegression

from helixvcs.store import CODECS, UnstorableValue, decode, encode, estimate_size


def round_trip(value: object) -> tuple[str, Any]:
    codec, payload = encode(value)
    assert isinstance(payload, bytes)
    return codec, decode(codec, payload)


def test_every_codec_is_reachable() -> None:
    values = [
        pa.table({"a": [1]}),
        pd.DataFrame({"a": [1]}),
        np.ones(2),
        sps.eye(2),
        (np.ones(2), sps.eye(2)),
        LogisticRegression().fit(np.array([[0.0], [1.0]]), [0, 1]),
        {1: 2},
    ]
    assert [encode(v)[0] for v in values] == list(CODECS)


def test_decode_rejects_an_unknown_codec() -> None:
    with pytest.raises(ValueError, match="unknown codec 'parquet'"):
        decode("parquet", b"")


def test_numpy_object_arrays_are_pickled() -> None:
    value = np.array([1, "a", None], dtype=object)
    codec, back = round_trip(value)
    assert codec == "pickle"
    assert isinstance(back, np.ndarray) and list(back) == [1, "a", None]


def test_numpy_array_keeps_dtype_and_is_writable() -> None:
    value = np.array(["2024-01-01", "NaT"], dtype="datetime64[s]")
    codec, back = round_trip(value)
    assert codec == "numpy"
    assert isinstance(back, np.ndarray) and back.dtype == value.dtype and back.flags.writeable
    np.testing.assert_array_equal(back, value)


@pytest.mark.parametrize(
    "value",
    [
        np.array([(1, 2.5), (3, -1.0)], dtype=[("id", "<i4"), ("score", "<f8")]),
        np.arange(6, dtype=">f8").reshape(2, 3),
        np.asfortranarray(np.arange(12, dtype=np.int16).reshape(3, 4)),
        np.arange(20)[::3],
        np.zeros((2, 0)),
        np.array(["ab", "c"]),
        np.zeros(2, dtype=[(f"field_{i}", "<f8") for i in range(4000)]),
        np.array([(1.5,)], dtype=[("✓", "<f8")]),
    ],
    ids=[
        "structured",
        "big-endian",
        "fortran",
        "strided",
        "empty",
        "unicode",
        "huge-header",
        "utf8-field",
    ],
)
def test_numpy_layouts_round_trip_as_writable_arrays(value: np.ndarray) -> None:
    codec, payload = encode(value)
    assert codec == "numpy"
    saved = io.BytesIO()
    np.save(saved, value, allow_pickle=False)
    assert payload == saved.getvalue()  # the same .npy file as np.save writes
    for buffer in (payload, bytearray(payload)):  # read-only and writable sources
        back = decode(codec, buffer)
        assert isinstance(back, np.ndarray) and back.flags.writeable
        assert (back.dtype, back.shape) == (value.dtype, value.shape)
        np.testing.assert_array_equal(back, value)


def test_ndarray_subclasses_are_pickled_to_keep_their_type() -> None:
    value = np.ma.masked_array([1, 2, 3], mask=[False, True, False])
    codec, back = round_trip(value)
    assert codec == "pickle" and type(back) is np.ma.MaskedArray


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "bsr", "dia"])
def test_sparse_formats_that_npz_supports(fmt: str) -> None:
    value = sps.random(8, 6, 0.3, fmt, rng=1)
    codec, back = round_trip(value)
    assert codec == "sparse" and type(back) is type(value)
    assert sps.issparse(back)
    np.testing.assert_array_equal(back.toarray(), value.toarray())


@pytest.mark.parametrize(
    "value",
    [
        *(sps.random(40, 30, 0.2, fmt, rng=2) for fmt in ("csr", "csc", "coo", "bsr", "dia")),
        sps.csr_array(sps.random(40, 30, 0.2, "csr", rng=3)),
        sps.coo_array(sps.random(40, 30, 0.2, "coo", rng=4)),
        sps.csr_matrix((5, 7)),  # no entries at all
    ],
    ids=["csr", "csc", "coo", "bsr", "dia", "csr_array", "coo_array", "empty"],
)
def test_a_sparse_value_decodes_over_a_writable_payload_without_a_copy(value) -> None:
    """What the store and the hot tier hand the codec is a buffer nobody else holds (a
    fresh decompressed one, or a copy-on-write map): its arrays are views of it, and the
    value is what ``scipy.sparse.load_npz`` makes of the same bytes."""
    codec, raw = encode(value)
    payload = bytearray(raw)
    back = decode(codec, memoryview(payload))
    expected = sps.load_npz(io.BytesIO(raw))
    assert type(back) is type(expected) and back.format == expected.format
    assert back.shape == expected.shape and back.dtype == expected.dtype
    np.testing.assert_array_equal(back.toarray(), expected.toarray())
    if value.nnz:
        data = np.frombuffer(payload, np.uint8)
        assert np.shares_memory(back.data, data)  # a view, not a copy
        back.data[...] = 0  # and writable: an operator may change its own input
    read_only = decode(codec, memoryview(bytes(raw)))  # bytes: copied, as before
    np.testing.assert_array_equal(read_only.toarray(), expected.toarray())


def test_other_sparse_formats_fall_back_to_pickle() -> None:
    value = sps.lil_matrix(np.eye(3))
    codec, back = round_trip(value)
    assert codec == "pickle" and type(back) is sps.lil_matrix


# --- pandas: Arrow only when the round trip is exact ----------------------------------


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame({"a": [1, 2]}, index=pd.RangeIndex(5, 9, 2, name="r")),
        pd.DataFrame({0: [1.5], 1: [2.5]}),
        pd.DataFrame(
            {"v": [1, 2]},
            index=pd.MultiIndex.from_tuples([("a", 1), ("b", 2)], names=["k", "n"]),
        ),
        pd.DataFrame({"i": pd.array([1, None], dtype="Int64"), "u": pd.array([True, None])}),
        pd.DataFrame({"t": pd.to_datetime(["2024-01-01", "2024-06-01"]).tz_localize("UTC")}),
        pd.DataFrame({"a": [1]}).set_flags(allows_duplicate_labels=True),
    ],
    ids=["range-index", "int-labels", "multi-index", "nullable", "tz-aware", "flags"],
)
def test_frames_that_arrow_keeps_exactly(frame: pd.DataFrame) -> None:
    codec, back = round_trip(frame)
    assert codec == "pandas"
    assert isinstance(back, pd.DataFrame)
    pd.testing.assert_frame_equal(back, frame, check_exact=True)
    assert type(back.index) is type(frame.index)


def test_frame_attrs_survive() -> None:
    frame = pd.DataFrame({"a": [1]})
    frame.attrs["source"] = "census"
    codec, back = round_trip(frame)
    assert codec == "pandas"
    assert isinstance(back, pd.DataFrame) and back.attrs == {"source": "census"}


def lossy_frames() -> dict[str, pd.DataFrame]:
    mixed = pd.Series([1, "a", None], dtype=object)
    late_nan = pd.Series(["x"] * 100 + [float("nan")], dtype=object)
    late_list = pd.Series([None] * 100 + [[1, 2]], dtype=object)
    dated = pd.DataFrame({"a": [1, 2, 3]}, index=pd.date_range("2024", periods=3, freq="D"))
    return {
        "mixed-object-column": pd.DataFrame({"o": mixed}),
        "nan-beyond-the-sample": pd.DataFrame({"o": late_nan}),
        "list-beyond-the-sample": pd.DataFrame({"o": late_list}),
        "index-freq": dated,
        "duplicate-labels": pd.DataFrame([[1, 2]], columns=["a", "a"]),
        "mixed-object-index": pd.DataFrame({"a": [1, 2]}, index=pd.Index([1, "x"], dtype=object)),
    }


@pytest.mark.parametrize("name", sorted(lossy_frames()))
def test_frames_arrow_would_change_are_pickled(name: str) -> None:
    frame = lossy_frames()[name]
    codec, back = round_trip(frame)
    assert codec == "pickle"
    assert isinstance(back, pd.DataFrame)
    pd.testing.assert_frame_equal(back, frame, check_exact=True, check_freq=True)
    assert back.index.equals(frame.index)
    if name == "nan-beyond-the-sample":
        assert isinstance(back["o"].iloc[-1], float)


def test_pandas_series_is_pickled() -> None:
    series = pd.Series([1, 2], name="s")
    codec, back = round_trip(series)
    assert codec == "pickle"
    assert isinstance(back, pd.Series)
    pd.testing.assert_series_equal(back, series)


# --- values that cannot be stored -------------------------------------------------


def test_unpicklable_value() -> None:
    with pytest.raises(UnstorableValue) as caught:
        encode(threading.Lock())
    assert caught.value.type_name == "_thread.lock"
    assert str(caught.value).startswith("cannot store a value of type _thread.lock: TypeError")


def test_local_function_is_unstorable() -> None:
    def helper() -> None: ...

    with pytest.raises(UnstorableValue, match="type function"):
        encode(helper)


# --- estimate_size --------------------------------------------------------------------


def test_estimate_size_of_containers_uses_their_buffers() -> None:
    table = pa.table({"a": np.arange(1000), "s": ["x"] * 1000})
    array = np.zeros((100, 10))
    matrix = sps.random(100, 100, 0.05, "csr", rng=0)
    frame = pd.DataFrame({"a": np.arange(10)}, index=np.arange(10) * 2)
    assert estimate_size(table) == table.nbytes
    assert estimate_size(array) == 8000
    assert (
        estimate_size(matrix) == matrix.data.nbytes + matrix.indices.nbytes + matrix.indptr.nbytes
    )
    assert estimate_size(frame) == frame.memory_usage(deep=False).sum()
    assert estimate_size(pd.Series(np.arange(5))) > 0


def test_estimate_size_of_small_objects_is_their_pickle() -> None:
    value = {"a": list(range(100))}
    assert estimate_size(value) == len(encode(value)[1])


def test_estimate_size_counts_nested_arrays_without_copying_them() -> None:
    big = np.zeros(2_000_000)
    estimate = estimate_size({"weights": big, "name": "m"})
    assert big.nbytes <= estimate < big.nbytes + 1000


def test_estimate_size_of_unpicklable_value_falls_back_to_getsizeof() -> None:
    lock = threading.Lock()
    assert estimate_size(lock) == sys.getsizeof(lock)


# --- import cost ----------------------------------------------------------------------

IMPORT_PROBE = """
import json, sys
import helixvcs
before = set(sys.modules)
from helixvcs.store import MemoryObjectStore, estimate_size
after_import = set(sys.modules) - before
store = MemoryObjectStore()
store.put("a" * 40, {"plain": [1, 2.0, "three"]})
store.get("a" * 40)
estimate_size({"x": 1})
after_use = set(sys.modules) - before
heavy = ("numpy", "pyarrow", "pandas", "scipy", "zstandard", "sklearn")
print(json.dumps({
    "import": sorted(m for m in after_import if m.split(".")[0] in heavy),
    "use": sorted({m.split(".")[0] for m in after_use if m.split(".")[0] in heavy}),
}))
"""


def test_importing_and_storing_plain_data_stays_light() -> None:
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE], capture_output=True, text=True, check=True
    )
    loaded = json.loads(result.stdout)
    assert loaded["import"] == []
    assert loaded["use"] == ["zstandard"]


def test_estimators_take_skops_when_the_round_trip_is_exact() -> None:
    import pickle

    model = LogisticRegression().fit(np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0]]), [0, 1, 1])
    codec, back = round_trip(model)
    assert codec == "skops"
    assert pickle.dumps(back) == pickle.dumps(model)
    assert encode(LogisticRegression)[0] == "pickle"  # a class, not an estimator


ESTIMATOR_BYTES = """
import hashlib
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from helixvcs.store import encode
X = np.arange(40.0).reshape(20, 2)
codec, data = encode(make_pipeline(StandardScaler(), LogisticRegression()).fit(X, [0, 1] * 10))
print(codec, hashlib.blake2b(data).hexdigest())
"""


def test_an_estimator_gives_the_same_bytes_in_every_process() -> None:
    """Checksums compare values (early cutoff, remotes): skops names objects by id() and
    dates its zip members, which helix makes canonical."""
    seen = {
        subprocess.run(
            [sys.executable, "-c", ESTIMATOR_BYTES], capture_output=True, text=True, check=True
        ).stdout
        for _ in range(2)
    }
    assert len(seen) == 1 and next(iter(seen)).startswith("skops ")
