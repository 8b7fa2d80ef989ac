"""Packs of small objects (``objects/pack/``): few files, bytes on disk counted, one bad
byte losing one value, kills losing at most the batch being written, loose stores packed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from helixvcs.store import CorruptObject, DiskObjectStore, MissingObject
from helixvcs.store.check import Walk, find_damage, repair
from helixvcs.store.disk import BLOCK, loose_bytes
from helixvcs.store.packfile import FRAME_SIZE, PACK_THRESHOLD, RECORD_SIZE
from helixvcs.store.packs import MAX_PACKS

ROOT = Path(__file__).resolve().parents[2]


def key(n: int) -> str:
    return f"{n:040x}"


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and p.parent.name != "tmp"]


def disk_usage(root: Path) -> int:
    """Bytes the file system allocated for the files under ``root``."""
    return sum(p.stat().st_blocks * 512 for p in files_under(root))


def small_store(tmp_path: Path, count: int) -> DiskObjectStore:
    store = DiskObjectStore(tmp_path / "objects", hot=False)
    with store.batch():
        for n in range(count):
            store.put(key(n), os.urandom(300))
    return store


def test_a_batch_of_small_objects_is_one_pack_counted_as_it_lies_on_disk(
    tmp_path: Path,
) -> None:
    store = DiskObjectStore(tmp_path / "objects", hot=False)
    with store.batch():
        written = [store.put(key(n), os.urandom(300)).bytes for n in range(2000)]
    files = files_under(store.root)
    assert sorted(p.suffix for p in files if p.name != "lock") == [".idx", ".pack"]
    assert sorted(store.keys()) == [key(n) for n in range(2000)]
    on_disk = disk_usage(store.root)
    counted = store.total_bytes()
    assert [store.info(key(n)).bytes for n in range(2000)] == written  # type: ignore[union-attr]
    assert sum(written) == counted
    assert on_disk * 0.9 <= counted <= on_disk * 1.1  # the budget counts what the disk holds
    assert on_disk < 2000 * 1000  # loose, each would take a 4 KiB block at least

    loose = DiskObjectStore(tmp_path / "loose", hot=False)
    for n in range(200):
        info = loose.put(key(n), os.urandom(300))
        assert info.bytes == BLOCK  # a loose small object is counted as its block
    assert loose.total_bytes() == 200 * BLOCK


def test_one_flipped_byte_in_a_pack_loses_that_value_only(tmp_path: Path) -> None:
    store = small_store(tmp_path, 50)
    pack, record = store.packs.find(key(7))  # type: ignore[misc]
    data = bytearray(pack.pack_path.read_bytes())
    data[record.offset + FRAME_SIZE + record.length - 3] ^= 0x01  # in key 7's payload
    pack.pack_path.write_bytes(bytes(data))

    fresh = DiskObjectStore(store.root, hot=False)
    with pytest.raises(CorruptObject, match="checksum mismatch") as caught:
        fresh.get(key(7))
    assert caught.value.path == pack.pack_path
    assert not fresh.has(key(7)) and fresh.info(key(7)) is None
    for n in set(range(50)) - {7}:
        assert len(fresh.get(key(n))) == 300  # type: ignore[arg-type]
    fresh.put(key(7), b"recomputed")  # recomputing it works
    assert fresh.get(key(7)) == b"recomputed"


def test_a_damaged_frame_loses_its_entry_and_a_damaged_index_is_rebuilt(tmp_path: Path) -> None:
    store = small_store(tmp_path, 50)
    pack, record = store.packs.find(key(9))  # type: ignore[misc]
    data = bytearray(pack.pack_path.read_bytes())
    data[record.offset + 2] ^= 0xFF  # in key 9's frame
    pack.pack_path.write_bytes(bytes(data))
    index = bytearray(pack.index_path.read_bytes())
    index[-1] ^= 0xFF  # the index's own checksum
    pack.index_path.write_bytes(bytes(index))

    fresh = DiskObjectStore(store.root, hot=False)
    walk = Walk()
    found = list(find_damage(fresh, {}, walk))
    assert [d.problem for d in found] == ["a damaged pack index (checksum mismatch)"]
    for damage in found:
        repair(damage)
    again = list(find_damage(fresh, {}, Walk()))
    assert again == []  # rebuilt from the frames: key 9's frame is lost with its entry
    assert not fresh.has(key(9))
    assert sorted(fresh.keys()) == sorted(key(n) for n in range(50) if n != 9)
    for n in set(range(50)) - {9}:
        assert len(fresh.get(key(n))) == 300  # type: ignore[arg-type]


def test_fsck_reports_and_drops_a_bad_packed_object(tmp_path: Path) -> None:
    store = small_store(tmp_path, 20)
    pack, record = store.packs.find(key(3))  # type: ignore[misc]
    data = bytearray(pack.pack_path.read_bytes())
    data[record.offset + FRAME_SIZE + 60] ^= 0x10
    pack.pack_path.write_bytes(bytes(data))
    walk = Walk()
    found = list(find_damage(store, {}, walk))
    assert walk.objects == 20
    assert [(d.key, d.action) for d in found] == [(key(3), "drop")]
    assert "a damaged packed object" in found[0].problem
    assert pack.pack_path.read_bytes() == bytes(data)  # finding changes nothing
    repair(found[0])
    assert list(find_damage(store, {}, Walk())) == []
    assert not store.has(key(3)) and store.has(key(4))


def test_delete_and_repack_rewrite_a_pack_without_its_dead_objects(tmp_path: Path) -> None:
    store = small_store(tmp_path, 100)
    before = store.total_bytes()
    for n in range(40):
        assert store.delete(key(n)) is True
    assert store.delete(key(0)) is False
    assert not store.has(key(5)) and store.has(key(50))
    assert store.total_bytes() == before * 60 // 100
    (old,) = store.packs.indexes()
    assert store.repack().sizes == {}  # nothing loose to pack
    (new,) = store.packs.indexes()
    assert new.name != old.name and not old.pack_path.exists()
    assert new.count == 60 and not new.dead_path.exists()
    assert sorted(store.keys()) == [key(n) for n in range(40, 100)]
    assert all(len(store.get(key(n))) == 300 for n in range(40, 100))  # type: ignore[arg-type]


def test_a_loose_store_from_before_is_packed_by_repack_and_still_loads(tmp_path: Path) -> None:
    store = DiskObjectStore(tmp_path / "objects", hot=False)  # loose, as stores were
    values = {key(n): list(range(n)) for n in range(30)}
    for k, v in values.items():
        store.put(k, v)
    big = key(999)
    store.put(big, os.urandom(PACK_THRESHOLD * 2))  # incompressible: stays loose
    assert len(files_under(store.root)) == 31
    before = store.total_bytes()
    repacked = store.repack()
    sizes = repacked.sizes
    assert repacked.freed == before - store.total_bytes() > 0
    assert set(sizes) == set(values)
    assert sizes[key(3)] == store.info(key(3)).bytes  # type: ignore[union-attr]
    assert all(size < BLOCK for size in sizes.values())
    assert store.path(big).is_file() and not store.path(key(3)).exists()
    reopened = DiskObjectStore(tmp_path / "objects", hot=False)
    assert {k: reopened.get(k) for k in values} == values
    assert sorted(reopened.keys()) == sorted([*values, big])


def test_too_many_packs_are_merged_and_other_stores_follow(tmp_path: Path) -> None:
    writer = DiskObjectStore(tmp_path / "objects", hot=False, pack_small=True)
    reader = DiskObjectStore(tmp_path / "objects", hot=False)
    for n in range(MAX_PACKS):
        writer.put(key(n), n)
    assert len(reader.packs.indexes()) == MAX_PACKS  # one pack per write, for now
    assert reader.get(key(0)) == 0
    writer.put(key(MAX_PACKS), MAX_PACKS)  # one too many: the smallest are merged
    assert len(writer.packs.indexes()) <= MAX_PACKS // 2 + 1
    assert [reader.get(key(n)) for n in range(MAX_PACKS + 1)] == list(range(MAX_PACKS + 1))


def test_a_batch_is_seen_by_its_store_and_by_others_once_it_ends(tmp_path: Path) -> None:
    store = DiskObjectStore(tmp_path / "objects", hot=False)
    other = DiskObjectStore(tmp_path / "objects", hot=False)
    with store.batch():
        store.put(key(1), "one")
        assert store.get(key(1)) == "one" and store.has(key(1))
        assert not other.has(key(1))  # not written yet: not there for anyone else
        with pytest.raises(MissingObject):
            other.get(key(1))
    assert other.get(key(1)) == "one"
    assert packed_size(store, key(1)) == store.info(key(1)).bytes  # type: ignore[union-attr]


def packed_size(store: DiskObjectStore, k: str) -> int:
    _, record = store.packs.find(k)  # type: ignore[misc]
    return FRAME_SIZE + record.length + RECORD_SIZE


WRITER = textwrap.dedent(
    """
    import os, sys
    from helixvcs.store import DiskObjectStore
    store = DiskObjectStore(sys.argv[1], hot=False)
    batch = 0
    while True:
        with store.batch():
            keys = [f"{batch:08x}{n:032x}" for n in range(3000)]
            for k in keys:
                store.put(k, os.urandom(200))
        print(" ".join(keys), flush=True)
        batch += 1
    """
)


def _kill_while_writing_a_pack(process: subprocess.Popen[str], tmp: Path) -> None:
    """SIGKILL as soon as the next pack's temp file appears: in the middle of its write."""
    deadline = time.monotonic() + 30
    while not any(name.endswith(".part") for name in os.listdir(tmp)):
        assert time.monotonic() < deadline and process.poll() is None
    time.sleep(0.002)  # into the write: entries, fsync, index
    process.send_signal(signal.SIGKILL)


@pytest.mark.parametrize("delay", [None, 0.0, 0.01, 0.03, 0.06])
def test_a_kill_during_a_pack_write_loses_only_the_batch_being_written(
    tmp_path: Path, delay: float | None
) -> None:
    """SIGKILL of a real process writing batches: every batch it reported is whole, no
    object of the killed batch is half there, and the store verifies. ``None``: killed
    while its pack's temp file is being written."""
    root = tmp_path / "objects"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(root)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert process.stdout is not None
    done = [process.stdout.readline().split() for _ in range(3)]
    if delay is None:
        _kill_while_writing_a_pack(process, root / "tmp")
        assert process.wait() == -signal.SIGKILL
    else:
        time.sleep(delay)  # somewhere in the next batch: staging, or writing its pack
        process.send_signal(signal.SIGKILL)
    process.wait()
    store = DiskObjectStore(root, hot=False)  # opening removes the dead writer's temp files
    assert list((root / "tmp").iterdir()) == []
    confirmed = {k for keys in done for k in keys}
    present = set(store.keys())
    assert confirmed <= present
    for k in present:  # whatever is there is whole
        assert len(store.get(k)) == 200  # type: ignore[arg-type]
    assert present - confirmed == set() or len(present - confirmed) % 3000 == 0
    assert list(find_damage(store, {}, Walk())) == []
    store.put("f" * 40, "next")  # the store goes on
    assert store.get("f" * 40) == "next"


def test_sizes_follow_the_file_system_block_for_loose_objects() -> None:
    assert loose_bytes(0) == 0
    assert loose_bytes(1) == BLOCK
    assert loose_bytes(BLOCK) == BLOCK
    assert loose_bytes(BLOCK + 1) == 2 * BLOCK
