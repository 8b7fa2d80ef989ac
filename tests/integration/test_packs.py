"""A store of loose objects (as every store was before packs) packed by ``helix gc``: the
values load as before, the index counts what they take on disk, and gc drops packed
objects like loose ones. ``helix gc`` killed while it packs loses nothing."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from helixvcs.index import Index
from helixvcs.store import DiskObjectStore
from tests.integration.toy import TOTAL, computed, states


def _store(repo) -> DiskObjectStore:
    return DiskObjectStore(repo.path / ".helix" / "objects", hot=False)


def _loose(repo) -> list:
    return [p for p in (repo.path / ".helix" / "objects").glob("??/*") if p.is_file()]


def _recorded(repo) -> dict[str, int]:
    return Index(repo.path / ".helix" / "index.duckdb").object_sizes()


def test_gc_packs_a_loose_store_and_every_value_still_loads(toy):
    first = toy.helix_json("run")
    kept = {n["key"] for n in first["nodes"] if n["materialized"]}
    assert {p.parent.name + p.name for p in _loose(toy)} == kept  # the store as it was
    before = _store(toy).total_bytes()
    assert before == 4096 * len(kept)  # a block each

    report = toy.helix_json("gc", "--max-size", "1TB")
    store = _store(toy)
    assert _loose(toy) == [] and set(store.keys()) == kept
    assert report["dropped"] == [] and report["before_bytes"] == before
    assert report["after_bytes"] == store.total_bytes() < before // 4
    assert report["freed_bytes"] == before - store.total_bytes()
    recorded = _recorded(toy)
    assert {k: store.info(k).bytes for k in kept} == {k: recorded[k] for k in kept}
    totals = Index(toy.path / ".helix" / "index.duckdb").store_totals()
    assert not totals.stale and totals.used == store.total_bytes()

    again = toy.helix_json("run")
    assert computed(again) == set() and again["metrics"]["total"] == TOTAL
    assert states(again)["total"] == "load"


def test_gc_drops_packed_objects_and_rewrites_their_pack(toy):
    first = toy.helix_json("run")
    toy.helix_json("gc", "--max-size", "1TB")
    (pack,) = _store(toy).packs.indexes()
    report = toy.helix_json("gc", "--max-size", "0")
    assert {d["key"] for d in report["dropped"]} == {
        n["key"] for n in first["nodes"] if n["materialized"]
    }
    store = _store(toy)
    assert list(store.keys()) == [] and store.total_bytes() == 0
    assert not pack.pack_path.exists()  # all dead: rewritten to nothing
    assert _recorded(toy) == {}
    third = toy.helix_json("run")
    assert third["metrics"]["total"] == TOTAL and "total" in computed(third)


WRITE_LOOSE = """
import sys
from helixvcs.store import DiskObjectStore
store = DiskObjectStore(sys.argv[1], hot=False)
for n in range(int(sys.argv[2])):
    store.put(f"{n:040x}", list(range(n % 50)))
"""


@pytest.mark.parametrize("seed", [None, 0, 1])
def test_gc_killed_while_it_packs_loses_nothing(toy, seed):
    """``None``: killed 10 ms after its pack's temp file appears (while it copies the
    loose objects into it); otherwise at a seeded moment, wherever gc is."""
    first = toy.helix_json("run")
    objects = toy.path / ".helix" / "objects"
    subprocess.run([sys.executable, "-c", WRITE_LOOSE, str(objects), "1500"], check=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "helixvcs", "--repo", str(toy.path), "gc", "--max-size", "1TB"],
        env={k: v for k, v in os.environ.items() if k != "HELIX_DEBUG"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if seed is None:
        deadline = time.monotonic() + 60
        while not any(n.endswith(".part") for n in os.listdir(objects / "tmp")):
            assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.01)  # into the pack's write: reading and copying the loose objects
    else:
        time.sleep(random.Random(seed).uniform(0.3, 1.2))  # start-up, packing, or done
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL or seed is not None
    store = _store(toy)
    assert list((objects / "tmp").iterdir()) == []
    assert len(set(store.keys())) == 1500 + len(_recorded(toy))  # nothing lost
    assert all(store.get(f"{n:040x}") == list(range(n % 50)) for n in range(1500))
    ran = toy.helix_json("run")
    assert ran["metrics"] == first["metrics"] and computed(ran) == set()
    toy.helix_json("gc", "--max-size", "1TB")  # the next gc finishes the job
    assert _loose(toy) == [] and len(set(_store(toy).keys())) == 1500 + len(_recorded(toy))


def test_a_run_packs_the_loose_objects_once_there_are_many(toy):
    first = toy.helix_json("run")
    kept = len(_loose(toy))
    store = _store(toy)
    extra = {f"17{n:038x}": list(range(n)) for n in range(16)}  # 16 in one fan-out folder:
    for key, value in extra.items():  # about 4,096 loose objects, as git estimates it
        store.put(key, value)
    assert len(_loose(toy)) == kept + 16
    again = toy.helix_json("run")
    assert computed(again) == set() and again["metrics"] == first["metrics"]
    store = _store(toy)
    assert _loose(toy) == [] and len(store.packs.indexes()) == 1
    assert {k: store.get(k) for k in extra} == extra
    recorded = _recorded(toy)
    assert recorded and all(recorded[k] == store.info(k).bytes for k in recorded)
