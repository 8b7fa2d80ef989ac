"""Fixtures for the store tests: every backend, a way to damage objects, a tiny disk."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from helixvcs.store import DiskObjectStore, MemoryObjectStore, ObjectStore
from helixvcs.store.packfile import FRAME_SIZE, Record, frame, write_index
from helixvcs.store.remote import Remote, RemoteSpec
from helixvcs.store.remote_store import RemoteObjectStore


def _remote(tmp: Path) -> RemoteObjectStore:
    """A folder remote as a store (what Dask workers without a shared disk use); trusted,
    so that values of any codec load as from the other backends."""
    spec = RemoteSpec("contract", str(tmp / "remote"), trusted=True)
    return RemoteObjectStore(Remote.open(spec, create=True))


#: Every backend; the contract tests run against each (as Hamilton does). ``packed`` is
#: the disk store writing each small object into a pack, as a batch does.
IMPLEMENTATIONS: dict[str, Callable[[Path], ObjectStore]] = {
    "disk": lambda tmp: DiskObjectStore(tmp / "objects"),
    "packed": lambda tmp: DiskObjectStore(tmp / "objects", pack_small=True),
    "memory": lambda tmp: MemoryObjectStore(),
    "remote": _remote,
}


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    return IMPLEMENTATIONS[request.param](tmp_path)


@pytest.fixture
def disk_store(tmp_path: Path) -> DiskObjectStore:
    return DiskObjectStore(tmp_path / "objects")


Damage = Callable[[ObjectStore, str, Callable[[bytes], bytes]], None]


def _stored_bytes(store: ObjectStore, key: str) -> bytes:
    if isinstance(store, DiskObjectStore):
        if store.path(key).is_file():
            return store.path(key).read_bytes()
        found = store.packs.read(key)
        assert found is not None, f"{key} is neither loose nor packed"
        return found[0]
    if isinstance(store, RemoteObjectStore):
        return Path(store.remote.object_path(key)).read_bytes()
    assert isinstance(store, MemoryObjectStore)
    return store._objects[key]


def damage_packed(store: DiskObjectStore, key: str, new: bytes) -> None:
    """Make the object bytes of ``key`` in its pack ``new``: the entry's frame and index
    record follow (a pack whose object bytes changed, not a pack whose frame broke)."""
    found = store.packs.find(key)
    assert found is not None
    pack, record = found
    data = pack.pack_path.read_bytes()
    start, end = record.offset, record.offset + FRAME_SIZE + record.length
    raw = bytes.fromhex(key)
    pack.pack_path.write_bytes(data[:start] + frame(raw, len(new)) + new + data[end:])
    shift = len(new) - record.length
    records = [
        Record(
            r.key,
            r.offset + (shift if r.offset > start else 0),
            len(new) if r.key == raw else r.length,
        )
        for r in pack.records()
    ]
    pack.index_path.unlink()
    write_index(pack.index_path, records)
    store.packs.refresh()
    store.packs._open.pop(pack.name, None)  # mapped before the change: opened again
    store.packs.refresh()


def _damage(store: ObjectStore, key: str, change: Callable[[bytes], bytes]) -> None:
    new = change(_stored_bytes(store, key))
    if isinstance(store, DiskObjectStore) and not store.path(key).is_file():
        damage_packed(store, key, new)
    elif isinstance(store, DiskObjectStore):
        store.path(key).write_bytes(new)
    elif isinstance(store, RemoteObjectStore):
        Path(store.remote.object_path(key)).write_bytes(new)
        store._infos.pop(key, None)  # what it read before is no longer there
    else:
        assert isinstance(store, MemoryObjectStore)
        store._objects[key] = new


@pytest.fixture
def stored() -> Callable[[ObjectStore, str], bytes]:
    """``stored(store, key)``: the stored form (header + payload) of ``key``."""
    return _stored_bytes


@pytest.fixture
def damage() -> Damage:
    """``damage(store, key, change)`` replaces the stored bytes (header + payload) of
    ``key`` by ``change(old)`` behind the store's back, whatever the backend."""
    return _damage


@pytest.fixture
def tiny_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB tmpfs, to get a genuine ENOSPC from the kernel instead of a mock."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    if os.name != "posix" or os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root and mount(8) to create a 1 MiB tmpfs that can fill up")
    command = ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a 1 MiB tmpfs to fill up: {result.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)
