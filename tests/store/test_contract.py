"""The ``ObjectStore`` contract, run against every backend in ``IMPLEMENTATIONS``."""

from __future__ import annotations

import hashlib
import importlib
import io
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import scipy.sparse as sps
import zstandard
from sklearn.linear_model import LogisticRegression

from helixvcs.errors import HelixError, UserInputError
from helixvcs.store import (
    CorruptObject,
    DiskObjectStore,
    InvalidKey,
    MissingObject,
    ObjectInfo,
    ObjectStore,
    UnstorableValue,
)
from helixvcs.store.objectfile import HEADER_SIZE

KEY = "0123456789abcdef0123456789abcdef01234567"
OTHER = "f" * 40


def make_key(n: int) -> str:
    return f"{n:040x}"


# --- values of every codec, each with how to compare it ------------------------------


def arrow_table() -> pa.Table:
    return pa.table(
        {
            "i": pa.array([1, None, 3], pa.int64()),
            "f": [0.5, float("nan"), None],
            "s": ["a", None, "ccc"],
            "b": [True, False, None],
            "d": pa.array([1, 2, None], pa.date32()),
            "cat": pa.array(["x", "y", "x"]).dictionary_encode(),
        },
        metadata={"origin": "test"},
    )


def pandas_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "n": [3, 1, 2],
            "x": [0.25, float("nan"), -1.0],
            "s": ["a", "b", None],
            "c": pd.Categorical(["lo", "hi", "lo"], categories=["lo", "hi"], ordered=True),
            "t": pd.to_datetime(["2024-01-01", "2024-02-01", None]),
        },
        index=pd.Index([10, 20, 30], name="row_id"),
    )


def fitted_model() -> LogisticRegression:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, 4))
    labels = (features[:, 0] + features[:, 1] > 0).astype(int)
    return LogisticRegression().fit(features, labels)


def same_table(a: pa.Table, b: object) -> None:
    assert isinstance(b, pa.Table)
    assert b.schema.equals(a.schema, check_metadata=True)
    assert repr(b.to_pylist()) == repr(a.to_pylist())  # repr, because NaN != NaN


def same_frame(a: pd.DataFrame, b: object) -> None:
    assert isinstance(b, pd.DataFrame)
    pd.testing.assert_frame_equal(b, a, check_exact=True)
    assert type(b.index) is type(a.index)


def same_array(a: np.ndarray, b: object) -> None:
    assert isinstance(b, np.ndarray)
    assert (b.dtype, b.shape) == (a.dtype, a.shape)
    np.testing.assert_array_equal(b, a)


def same_sparse(a: Any, b: Any) -> None:
    assert type(b) is type(a)
    assert (b.dtype, b.shape) == (a.dtype, a.shape)
    assert (a != b).nnz == 0


def same_predictions(a: LogisticRegression, b: object) -> None:
    assert isinstance(b, LogisticRegression)
    probe = np.random.default_rng(1).normal(size=(50, 4))
    np.testing.assert_array_equal(b.predict(probe), a.predict(probe))
    np.testing.assert_array_equal(b.predict_proba(probe), a.predict_proba(probe))


def same_value(a: object, b: object) -> None:
    assert b == a
    assert type(b) is type(a)


Case = tuple[Callable[[], object], str, Callable[[Any, Any], None]]
CASES: dict[str, Case] = {
    "arrow-table": (arrow_table, "arrow", same_table),
    "pandas-frame": (pandas_frame, "pandas", same_frame),
    "pandas-range-index": (lambda: pd.DataFrame({"a": [1, 2]}), "pandas", same_frame),
    "numpy-int": (lambda: np.arange(-5, 5, dtype=np.int32), "numpy", same_array),
    "numpy-float": (lambda: np.linspace(0, 1, 11), "numpy", same_array),
    "numpy-bool": (lambda: np.array([True, False, True]), "numpy", same_array),
    "numpy-2d": (lambda: np.arange(12.0).reshape(3, 4), "numpy", same_array),
    "numpy-fortran": (lambda: np.asfortranarray(np.eye(3)), "numpy", same_array),
    "numpy-empty": (lambda: np.empty((0, 3)), "numpy", same_array),
    "numpy-scalar": (lambda: np.array(7.5), "numpy", same_array),
    "scipy-csr": (
        lambda: sps.random(30, 20, density=0.1, format="csr", rng=0),
        "sparse",
        same_sparse,
    ),
    "scipy-csr-array": (lambda: sps.csr_array(np.eye(4)), "sparse", same_sparse),
    "bundle-csr-pair": (
        lambda: (sps.random(30, 20, 0.1, "csr", rng=1), sps.random(9, 20, 0.1, "csr", rng=2)),
        "bundle",
        lambda a, b: [same_sparse(x, y) for x, y in zip(a, b, strict=True)],
    ),
    "bundle-dict-of-arrays": (
        lambda: {"X": np.arange(12.0).reshape(3, 4), "y": np.arange(3), "n": 3},
        "bundle",
        lambda a, b: [
            same_array(a["X"], b["X"]),
            same_array(a["y"], b["y"]),
            same_value(a["n"], b["n"]),
            same_value(list(a), list(b)),
        ],
    ),
    "sklearn-model": (fitted_model, "skops", same_predictions),
    "dict": (lambda: {"a": [1, 2.5, "x"], "b": {"nested": (1, 2)}}, "pickle", same_value),
    "list": (lambda: [1, "two", 3.0, None], "pickle", same_value),
    "float": (lambda: 0.1 + 0.2, "pickle", same_value),
    "none": (lambda: None, "pickle", same_value),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_round_trip(store: ObjectStore, case: str) -> None:
    make, codec, check = CASES[case]
    value = make()
    info = store.put(KEY, value)
    assert info.codec == codec
    check(value, store.get(KEY))


def test_get_returns_a_fresh_copy(store: ObjectStore) -> None:
    store.put(KEY, np.zeros(4))
    first = store.get(KEY)
    assert isinstance(first, np.ndarray)
    first[0] = 99
    again = store.get(KEY)
    assert isinstance(again, np.ndarray) and again[0] == 0


def test_info_describes_the_object(store: ObjectStore) -> None:
    payload = np.arange(10_000, dtype=np.int64)
    written = store.put(KEY, payload)
    assert written.key == KEY and written.codec == "numpy"
    assert written.raw_bytes > payload.nbytes  # plus the .npy header
    assert 0 < written.bytes < written.raw_bytes
    assert len(written.checksum) == 40 and int(written.checksum, 16) >= 0
    assert written.write_seconds > 0
    read = store.info(KEY)
    assert read == ObjectInfo(**{**written.__dict__, "write_seconds": 0.0})


def test_stored_form_is_header_then_zstd_payload(
    store: ObjectStore, stored: Callable[[ObjectStore, str], bytes]
) -> None:
    info = store.put(KEY, "some text")
    data = stored(store, KEY)
    assert info.bytes == store.total_bytes() >= len(data)
    assert data[:5] == b"HLXO\x01"
    payload = data[53:]
    assert hashlib.blake2b(payload, digest_size=20).hexdigest() == info.checksum
    assert len(zstandard.ZstdDecompressor().decompress(payload)) == info.raw_bytes


def test_put_is_idempotent(store: ObjectStore) -> None:
    first = store.put(KEY, {"v": 1})
    again = store.put(KEY, {"v": 2})
    assert again.checksum == first.checksum
    assert again.write_seconds == 0.0
    assert store.get(KEY) == {"v": 1}
    assert list(store.keys()) == [KEY]


def test_missing_key(store: ObjectStore) -> None:
    assert not store.has(KEY)
    assert KEY not in store
    assert store.info(KEY) is None
    assert store.delete(KEY) is False
    with pytest.raises(MissingObject) as caught:
        store.get(KEY)
    assert caught.value.key == KEY
    assert isinstance(caught.value, HelixError)


def test_keys_delete_and_total_bytes(store: ObjectStore) -> None:
    assert list(store.keys()) == [] and store.total_bytes() == 0
    sizes = [store.put(make_key(n), list(range(n * 100))).bytes for n in range(5)]
    assert sorted(store.keys()) == [make_key(n) for n in range(5)]
    assert store.total_bytes() == sum(sizes)
    assert store.delete(make_key(2)) is True
    assert not store.has(make_key(2))
    assert store.total_bytes() == sum(sizes) - sizes[2]


def test_put_group_writes_each_value_as_put_would(store: ObjectStore) -> None:
    from helixvcs.store.objectfile import encode_value

    store.put(make_key(0), "there before")
    values = {make_key(n): list(range(n * 10)) for n in range(6)}  # key 0: stored already
    values[make_key(9)] = np.arange(20_000.0)  # a large one among the small
    group = [(k, encode_value(v)) for k, v in values.items()]
    group.append((make_key(7), store.pack({"packed": True})))  # packed already
    infos = store.put_group(group)
    assert set(infos) == {k for k, _ in group}
    assert store.get(make_key(0)) == "there before"  # an existing key is kept
    assert infos[make_key(0)].write_seconds == 0.0
    for k, value in values.items():
        if k != make_key(0):
            assert ObjectInfo(**{**infos[k].__dict__, "write_seconds": 0.0}) == store.info(k)
            np.testing.assert_array_equal(store.get(k), value)  # type: ignore[arg-type]
    assert store.get(make_key(7)) == {"packed": True}
    assert store.has_many([make_key(n) for n in range(12)]) == {
        make_key(n) for n in (0, 1, 2, 3, 4, 5, 7, 9)
    }
    assert store.total_bytes() == sum(store.info(k).bytes for k in infos)  # type: ignore[union-attr]


BAD_KEYS = ["../etc", "AB" * 20, "ab" * 19, "a" * 41, "a" * 40 + "\n", "g" * 40, "", None, 42]
OPERATIONS: dict[str, Callable[[ObjectStore, Any], object]] = {
    "has": lambda s, k: s.has(k),
    "has_many": lambda s, k: s.has_many([k]),
    "put": lambda s, k: s.put(k, 1),
    "get": lambda s, k: s.get(k),
    "info": lambda s, k: s.info(k),
    "delete": lambda s, k: s.delete(k),
    "contains": lambda s, k: k in s,
}


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@pytest.mark.parametrize("key", BAD_KEYS, ids=repr)
def test_invalid_keys_are_rejected(store: ObjectStore, operation: str, key: object) -> None:
    with pytest.raises(InvalidKey) as caught:
        OPERATIONS[operation](store, key)
    assert isinstance(caught.value, UserInputError)
    assert "40 lowercase hexadecimal" in str(caught.value)
    assert list(store.keys()) == []


def test_compression_shrinks_a_repetitive_array(store: ObjectStore) -> None:
    repetitive = np.tile(np.arange(1000, dtype=np.float64), 1000)
    info = store.put(KEY, repetitive)
    assert info.raw_bytes > repetitive.nbytes
    assert info.bytes * 20 < info.raw_bytes
    assert info.compression_ratio > 20


def test_unstorable_value_names_its_type(store: ObjectStore) -> None:
    with pytest.raises(UnstorableValue) as caught:
        store.put(KEY, {"lock": threading.Lock()})
    message = str(caught.value)
    assert message.startswith("cannot store a value of type dict: TypeError: cannot pickle")
    assert "lock" in message and "\n" not in message
    assert not store.has(KEY)


def test_concurrent_puts_from_threads(store: ObjectStore) -> None:
    value = np.arange(100_000)
    with ThreadPoolExecutor(max_workers=8) as pool:
        infos = list(pool.map(lambda _: store.put(KEY, value), range(16)))
    assert {info.key for info in infos} == {KEY}
    assert list(store.keys()) == [KEY]
    same_array(value, store.get(KEY))


# --- corruption -----------------------------------------------------------------------


def flip_byte(offset: int) -> Callable[[bytes], bytes]:
    def change(data: bytes) -> bytes:
        damaged = bytearray(data)
        damaged[offset] ^= 0xFF
        return bytes(damaged)

    return change


def with_version(version: int) -> Callable[[bytes], bytes]:
    """A well-formed header (valid header digest) announcing another format version."""

    def change(data: bytes) -> bytes:
        fields = data[:4] + bytes([version]) + data[5:49]
        return fields + hashlib.blake2b(fields, digest_size=4).digest() + data[53:]

    return change


CORRUPTIONS: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "payload-last-byte": (flip_byte(-1), "checksum mismatch"),
    "payload-first-byte": (flip_byte(53), "checksum mismatch"),
    "truncated-payload": (lambda d: d[:-10], "truncated"),
    "truncated-header": (lambda d: d[:20], "truncated header"),
    "empty": (lambda d: b"", "truncated header"),
    "trailing-bytes": (lambda d: d + b"junk", "unexpected bytes after the payload"),
    "garbage-header": (lambda d: b"\x00\xff" * 40 + d[80:], "not a helix object"),
    "bad-magic": (lambda d: b"HLXP" + d[4:], "not a helix object"),
    "raw-size-field": (flip_byte(14), "header checksum mismatch"),
    "codec-field": (flip_byte(6), "header checksum mismatch"),
    "future-version": (with_version(9), "unsupported format version 9"),
}


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_corrupt_object_is_removed_on_get(
    store: ObjectStore, damage: Callable[..., None], kind: str
) -> None:
    change, reason = CORRUPTIONS[kind]
    store.put(KEY, np.arange(50_000))
    damage(store, KEY, change)
    with pytest.raises(CorruptObject) as caught:
        store.get(KEY)
    assert reason in caught.value.reason
    assert caught.value.key == KEY
    assert not store.has(KEY)
    assert list(store.keys()) == []
    store.put(KEY, np.arange(3))  # recomputing and storing again works
    same_array(np.arange(3), store.get(KEY))


def test_corruption_message_is_one_line(store: ObjectStore, damage: Callable[..., None]) -> None:
    store.put(KEY, "value")
    damage(store, KEY, flip_byte(-1))
    with pytest.raises(CorruptObject) as caught:
        store.get(KEY)
    assert str(caught.value) == (
        "stored object 0123456789ab is corrupt (checksum mismatch); "
        "it was removed and will be recomputed"
    )


@pytest.mark.parametrize("kind", ["garbage-header", "truncated-header", "truncated-payload"])
def test_info_reports_a_bad_header_as_corruption(
    store: ObjectStore, damage: Callable[..., None], kind: str
) -> None:
    store.put(KEY, [1, 2, 3])
    damage(store, KEY, CORRUPTIONS[kind][0])
    with pytest.raises(CorruptObject):
        store.info(KEY)
    assert not store.has(KEY)


def test_info_reads_only_the_header(store: ObjectStore, damage: Callable[..., None]) -> None:
    written = store.put(KEY, [1, 2, 3])
    damage(store, KEY, flip_byte(-1))
    assert store.info(KEY) == ObjectInfo(**{**written.__dict__, "write_seconds": 0.0})


def test_put_replaces_an_object_with_a_bad_header(
    store: ObjectStore, damage: Callable[..., None]
) -> None:
    store.put(KEY, "old")
    damage(store, KEY, lambda d: b"garbage")
    info = store.put(KEY, "new")
    assert info.write_seconds > 0
    assert store.get(KEY) == "new"


def test_undecodable_pickle_counts_as_corrupt(
    store: ObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module_dir = tmp_path / "modules"
    module_dir.mkdir()
    (module_dir / "helix_vanishing_module.py").write_text("class Thing:\n    pass\n")
    monkeypatch.syspath_prepend(str(module_dir))
    module = importlib.import_module("helix_vanishing_module")

    store.put(KEY, module.Thing())
    monkeypatch.delitem(sys.modules, "helix_vanishing_module")
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(module_dir)])
    with pytest.raises(CorruptObject) as caught:
        store.get(KEY)
    assert "cannot decode pickle payload: ModuleNotFoundError" in caught.value.reason
    assert not store.has(KEY)


def test_every_flipped_byte_and_every_truncation_is_caught(
    store: ObjectStore,
    stored: Callable[[ObjectStore, str], bytes],
    damage: Callable[..., None],
) -> None:
    """The header digest covers the header and the checksum the payload: no byte of an
    object can change unnoticed."""
    store.put(KEY, "tiny")
    original = stored(store, KEY)
    damaged = [flip_byte(i)(original) for i in range(len(original))]
    damaged += [original[:n] for n in range(len(original))]
    for data in damaged:
        damage(store, KEY, lambda _, data=data: data)
        with pytest.raises(CorruptObject):
            store.get(KEY)
        assert not store.has(KEY)
        store.put(KEY, "tiny")


# --- objects as bytes: what travels to and from a remote ------------------------------


def test_objects_copy_between_stores_as_bytes(store: ObjectStore, tmp_path: Path) -> None:
    from helixvcs.store import DiskObjectStore

    value = {"X": np.arange(12.0).reshape(3, 4), "n": 3}
    info = store.put(KEY, value)
    data = store.read_object(KEY)
    other = DiskObjectStore(tmp_path / "other", hot=False)
    copied = other.write_object(KEY, data, checksum=info.checksum)
    assert (copied.checksum, copied.raw_bytes, copied.codec) == (
        info.checksum,
        info.raw_bytes,
        "bundle",
    )
    assert copied.bytes == other.total_bytes()  # what it takes in that store
    same_array(value["X"], other.get(KEY)["X"])  # type: ignore[index]
    assert other.read_object(KEY) == data
    assert other.write_object(KEY, data).checksum == info.checksum  # kept, idempotent


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_write_object_refuses_damaged_bytes(store: ObjectStore, kind: str) -> None:
    change, reason = CORRUPTIONS[kind]
    packed = store.pack(np.arange(50_000))
    whole = packed.header_bytes + packed.payload
    with pytest.raises(CorruptObject) as caught:
        store.write_object(KEY, change(whole))
    assert reason in caught.value.reason and caught.value.key == KEY
    assert not store.has(KEY)


def _arriving(data: bytes, fail_after: int | None = None) -> Callable[[int], bytes]:
    """``read(n)`` over ``data`` in pieces of at most 100,000 bytes, as a download gives
    them; with ``fail_after``, the connection drops after that many pieces."""
    source = io.BytesIO(data)
    given = 0

    def read(size: int) -> bytes:
        nonlocal given
        if fail_after is not None and given >= fail_after:
            raise ConnectionResetError("the connection dropped")
        given += 1
        return source.read(min(size, 100_000))

    return read


def _temp_files(store: ObjectStore) -> list[Path]:
    if isinstance(store, DiskObjectStore):
        return list((store.root / "tmp").iterdir())
    return []


def test_write_stream_writes_an_object_as_it_arrives(store: ObjectStore) -> None:
    value = np.random.default_rng(0).random(200_000)  # 1.6 MB, incompressible: many pieces
    packed = store.pack(value)
    whole = packed.header_bytes + packed.payload
    info = store.write_stream(
        KEY, whole[:HEADER_SIZE], _arriving(whole[HEADER_SIZE:]), checksum=packed.header.checksum
    )
    assert (info.checksum, info.raw_bytes) == (packed.header.checksum, packed.header.raw_bytes)
    assert store.read_object(KEY) == whole
    same_array(value, store.get(KEY))
    again = store.write_stream(KEY, whole[:HEADER_SIZE], _arriving(whole[HEADER_SIZE:]))
    assert again.checksum == info.checksum  # kept, idempotent
    assert _temp_files(store) == []


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_write_stream_refuses_damaged_bytes(store: ObjectStore, kind: str) -> None:
    change, reason = CORRUPTIONS[kind]
    packed = store.pack(np.random.default_rng(0).random(200_000))
    damaged = change(packed.header_bytes + packed.payload)
    with pytest.raises(CorruptObject) as caught:
        store.write_stream(KEY, damaged[:HEADER_SIZE], _arriving(damaged[HEADER_SIZE:]))
    assert reason in caught.value.reason and caught.value.key == KEY
    assert not store.has(KEY)
    assert _temp_files(store) == []


def test_write_stream_checks_the_expected_checksum(store: ObjectStore) -> None:
    packed = store.pack(np.random.default_rng(0).random(200_000))
    head, rest = packed.header_bytes, packed.payload
    with pytest.raises(CorruptObject, match="does not match"):
        store.write_stream(KEY, head, _arriving(rest), checksum="0" * 40)
    assert not store.has(KEY)


def test_write_stream_leaves_nothing_when_the_bytes_stop_coming(store: ObjectStore) -> None:
    packed = store.pack(np.random.default_rng(0).random(200_000))
    with pytest.raises(ConnectionResetError):  # the reader's own error, not the store's
        store.write_stream(KEY, packed.header_bytes, _arriving(packed.payload, fail_after=3))
    assert not store.has(KEY)
    assert _temp_files(store) == []


def test_write_object_checks_the_expected_checksum(store: ObjectStore) -> None:
    packed = store.pack(np.arange(10))
    with pytest.raises(CorruptObject, match="does not match"):
        store.write_object(KEY, packed.header_bytes + packed.payload, checksum="0" * 40)
    assert not store.has(KEY)


def test_read_object_removes_a_damaged_object(
    store: ObjectStore, damage: Callable[..., None]
) -> None:
    store.put(KEY, np.arange(50_000))
    damage(store, KEY, flip_byte(-1))
    with pytest.raises(CorruptObject, match="checksum mismatch"):
        store.read_object(KEY)
    assert not store.has(KEY)
    with pytest.raises(MissingObject):
        store.read_object(KEY)
