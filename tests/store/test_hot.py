"""The hot tier: values in memory for the next run, verified, copy-on-write, bounded, and
gone with the user's last warm server.

A warm server is what keeps the tier alive; here a real process (``sleep``) is
registered as one in the user's server registry, as a server registers itself.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from helixvcs import servers
from helixvcs.exec.guard import immutable
from helixvcs.store import DiskObjectStore
from helixvcs.store.hot import HEADER_SIZE, MISS, HotTier, clear, tier_folder

KEY = "ab" * 20
OTHER = "cd" * 20


@pytest.fixture
def alive(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A live process registered as a warm server of this user."""
    process = subprocess.Popen(["sleep", "300"])
    servers.register(process.pid, tmp_path, "test")
    try:
        yield process
    finally:
        servers.unregister(process.pid)
        process.kill()
        process.wait()
        clear()


def _store(tmp_path: Path) -> DiskObjectStore:
    return DiskObjectStore(tmp_path / "objects")


def test_a_stored_value_loads_from_memory_without_a_copy(alive, tmp_path: Path) -> None:
    store = _store(tmp_path)
    array = np.arange(1_000_000, dtype=np.float64)
    store.put(KEY, array)
    assert store.hot is not None and store.hot.has(KEY)
    assert store.hot_load_seconds(KEY) is not None
    (store.root / KEY[:2] / KEY[2:]).unlink()  # gone from disk: only memory can serve it
    loaded = store.get(KEY)
    assert isinstance(loaded, np.ndarray) and np.array_equal(loaded, array)
    assert loaded.flags.writeable  # never read-only: operators may change their own input
    assert not loaded.flags.owndata  # a view of the mapped entry, not a copy


def test_changing_a_loaded_value_in_place_never_changes_the_entry(alive, tmp_path) -> None:
    store = _store(tmp_path)
    store.put(KEY, np.zeros(1000))
    first = store.get(KEY)
    first[:] = 7.0  # an operator changes its input in place
    again = _store(tmp_path).get(KEY)  # a later run, another process's view
    assert float(np.abs(again).sum()) == 0.0


@pytest.mark.parametrize(
    "value",
    [
        pa.table({"a": [1, 2, 3], "b": ["x", "y", "z"]}),
        {"weights": [0.5, 0.25], "name": "model"},
        None,
    ],
    ids=["arrow", "pickle", "none"],
)
def test_values_of_every_codec_come_back_equal(alive, tmp_path: Path, value) -> None:
    store = _store(tmp_path)
    store.put(KEY, value)
    (store.root / KEY[:2] / KEY[2:]).unlink()
    loaded = store.get(KEY)
    assert loaded == value if not isinstance(value, pa.Table) else loaded.equals(value)


def test_a_table_comes_back_immutable_from_memory_and_from_disk(alive, tmp_path) -> None:
    """What lets a run share a loaded table between its children without fingerprinting
    it before and after each (``exec/guard.py``)."""
    table = pa.table({"x": np.arange(10_000.0), "s": [str(i) for i in range(10_000)]})
    assert not immutable(table)  # made over a numpy array's memory
    store = _store(tmp_path)
    store.put(KEY, table)
    assert store.hot is not None and store.hot.has(KEY)
    from_memory = store.get(KEY)
    assert from_memory.equals(table) and immutable(from_memory)
    store.hot.path(KEY).unlink()
    from_disk = store.get(KEY)
    assert from_disk.equals(table) and immutable(from_disk)


def test_a_damaged_entry_is_a_miss_and_is_removed(alive, tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.put(KEY, np.ones(1000))
    assert store.hot is not None
    entry = store.hot.path(KEY)
    data = bytearray(entry.read_bytes())
    data[HEADER_SIZE + 100] ^= 0xFF
    entry.write_bytes(bytes(data))
    assert store.hot.get(KEY) is MISS and not entry.exists()
    assert np.array_equal(store.get(KEY), np.ones(1000))  # the store still has it
    assert store.hot.has(KEY)  # and the load put it back


def test_the_budget_evicts_the_least_benefit_per_byte_first(alive, tmp_path, monkeypatch):
    monkeypatch.setenv("HELIX_HOT_MEMORY", str(2 * (8000 + 200 + HEADER_SIZE)))
    tier = HotTier.open()
    assert tier is not None
    raw = memoryview(bytes(8200))
    assert tier.put(KEY, "pickle", raw, benefit=10.0)
    assert tier.put(OTHER, "pickle", raw, benefit=0.1)
    third = "ef" * 20
    assert tier.put(third, "pickle", raw, benefit=5.0)
    assert tier.has(KEY) and tier.has(third) and not tier.has(OTHER)
    assert tier.total_bytes() <= tier.budget
    assert not tier.put("01" * 20, "pickle", memoryview(bytes(10**6)))  # never fits


def test_without_a_live_server_the_tier_is_emptied_and_unused(alive, tmp_path) -> None:
    store = _store(tmp_path)
    store.put(KEY, np.ones(10))
    folder = tier_folder()
    assert folder is not None and any(folder.iterdir())
    alive.kill()
    alive.wait()  # a SIGKILLed server leaves its entries behind
    assert HotTier.open() is None
    assert not folder.exists()
    assert _store(tmp_path).hot is None


def test_a_store_opened_before_the_server_came_up_uses_the_tier_once_it_is(
    tmp_path: Path, monkeypatch
) -> None:
    """The first command starts the server and runs in its own process meanwhile: what it
    keeps after the server is up is hot for the next run."""
    from helixvcs.store import disk

    monkeypatch.setattr(disk, "HOT_RETRY_SECONDS", 0.2)
    monkeypatch.setattr(servers, "_coming", False)  # no server was seen starting
    store = _store(tmp_path)
    store.put(KEY, np.ones(10))
    assert store.hot is None  # no server yet
    process = subprocess.Popen(["sleep", "300"])
    servers.register(process.pid, tmp_path, "test")  # the server is up
    try:
        store.put(OTHER, np.ones(10))  # looked for within the last 0.2 s: not yet
        assert store.hot is None
        time.sleep(0.25)
        third = "ef" * 20
        store.put(third, np.zeros(10))
        assert store.hot is not None and store.hot.has(third)
        assert not store.hot.has(KEY)
        no_tier = DiskObjectStore(tmp_path / "other", hot=False)
        time.sleep(0.25)
        assert no_tier.hot is None  # a store opened without a tier never looks
    finally:
        servers.unregister(process.pid)
        process.kill()
        process.wait()
        clear()


def test_values_kept_while_a_server_starts_go_hot_once_it_is_up(tmp_path, monkeypatch):
    """A command that started a server (or found one starting) keeps what it stores for
    the tier, and hands it over when the tier is there."""
    from helixvcs.store import disk

    monkeypatch.setattr(disk, "HOT_RETRY_SECONDS", 0.1)
    monkeypatch.setattr(servers, "_coming", False)
    servers.expect_one()
    store = _store(tmp_path)
    store.put(KEY, np.arange(10.0))  # the server is still preloading
    assert store.hot is None
    process = subprocess.Popen(["sleep", "300"])
    servers.register(process.pid, tmp_path, "test")
    try:
        time.sleep(0.15)
        store.put(OTHER, np.zeros(10))
        assert store.hot is not None and store.hot.has(OTHER)
        assert store.hot.has(KEY)  # handed over
        (store.root / KEY[:2] / KEY[2:]).unlink()
        np.testing.assert_array_equal(store.get(KEY), np.arange(10.0))  # from memory
    finally:
        servers.unregister(process.pid)
        process.kill()
        process.wait()
        clear()


def test_a_folder_open_to_others_is_not_used(alive, tmp_path: Path) -> None:
    folder = tier_folder()
    assert folder is not None
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o777)
    try:
        assert HotTier.open() is None
    finally:
        os.chmod(folder, 0o700)
    assert HotTier.open() is not None


def test_off_when_the_budget_is_zero(alive, monkeypatch) -> None:
    monkeypatch.setenv("HELIX_HOT_MEMORY", "0")
    assert HotTier.open() is None


def test_a_bad_budget_is_one_clear_error(alive, monkeypatch) -> None:
    from helixvcs.errors import UserInputError

    monkeypatch.setenv("HELIX_HOT_MEMORY", "lots")
    with pytest.raises(UserInputError, match="HELIX_HOT_MEMORY='lots' is not a size"):
        HotTier.open()
    monkeypatch.setenv("HELIX_HOT_MEMORY", "64MiB")
    tier = HotTier.open()
    assert tier is not None and tier.budget == 64 * 2**20
