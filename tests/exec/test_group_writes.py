"""Group commit: a run that keeps many small values writes those waiting together.

In process: once a run has handed ``GROUP_AFTER`` values to its writer, the small values
waiting behind a slow write go into one pack, fsynced once, and each reads back equal; a
run that keeps fewer writes each one loose whatever the timing; a group the store refuses
fails the run and none of its values is recorded. As real processes: ``helix run``
killed with SIGKILL while it writes a group leaves complete objects only, and the next
run gives the right metric.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from helixvcs.store import DiskObjectStore, ObjectInfo, StoreWriteError
from helixvcs.store.objectfile import Encoded, Packed
from helixvcs.store.packfile import INDEX_MAGIC, PACK_MAGIC
from helixvcs.store.writer import GROUP_AFTER
from tests.exec.test_background_writes import execute_all
from tests.reliability.conftest import check_store, helix_cmd, helix_json_proc, objects_dir


def chain(count: int, *, sleep: float = 0.0) -> str:
    """``count`` operators in a chain, each returning a small list of its own, and a
    metric over the last; with ``sleep``, each operator takes that long."""
    lines = ["import time\n\nfrom helixvcs import Workflow\n\nwf = Workflow('chain')\n"]
    for i in range(count):
        parent = f"o{i - 1}" if i else ""
        body = f"o{i - 1}[0] + 1" if i else "SEED"
        pause = f"    time.sleep({sleep})\n" if sleep else ""
        lines.append(
            f"\n\n@wf.op\ndef o{i}({parent}):\n{pause}    return [{body}, {i}, 'value {i}']\n"
        )
    lines.append(f"\n\n@wf.metric\ndef last(o{count - 1}):\n    return float(o{count - 1}[0])\n")
    return "SEED = 0\n" + "".join(lines)


def expected_value(i: int, seed: int = 0) -> list[Any]:
    return [seed + i, i, f"value {i}"]


class SlowFirstWrite(DiskObjectStore):
    """The disk store on a medium whose first write takes 0.3 s: every value the run keeps
    meanwhile waits for the writer (what a slow fsync does to a run of fast operators).
    Records the writes that reach the disk: a loose object each, or a group."""

    def __init__(self, root: Path) -> None:
        super().__init__(root, hot=False)
        self.loose: list[str] = []
        self.groups: list[list[str]] = []

    def _slow_first(self) -> None:
        if not self.loose and not self.groups:
            time.sleep(0.3)

    def put_packed(self, key: str, packed: Packed) -> ObjectInfo:
        self._slow_first()
        self.loose.append(key)
        return super().put_packed(key, packed)

    def put_group(self, values: Sequence[tuple[str, Encoded | Packed]]) -> dict[str, ObjectInfo]:
        self._slow_first()
        self.groups.append([key for key, _ in values])
        return super().put_group(values)


def run_chain(tmp_path: Path, count: int, store: DiskObjectStore) -> tuple[Any, Any]:
    return execute_all(tmp_path, chain(count), store)


def loose_files(root: Path) -> list[Path]:
    return [p for p in root.glob("??/*") if p.is_file()]


def test_many_small_values_kept_by_a_run_are_written_together(tmp_path):
    store = SlowFirstWrite(tmp_path / "objects")
    dag, result = run_chain(tmp_path, 200, store)
    assert result.failure is None
    kept = [n for n in dag.nodes if result.outcomes[n].materialized]
    assert len(kept) == 201  # every operator and the metric
    # the first write (loose, or a group if the run had handed over GROUP_AFTER values
    # before the writer started), then one group of every value that waited meanwhile
    assert len(store.loose) + len(store.groups) <= 2, (store.loose, store.groups)
    assert sorted(store.loose + [k for g in store.groups for k in g]) == sorted(
        dag[n].key for n in kept
    )
    assert len(loose_files(store.root)) == len(store.loose) <= 1
    assert len(list((store.root / "pack").glob("*.pack"))) == len(store.groups)
    fresh = DiskObjectStore(store.root, hot=False)  # as the next process reads them
    for i in range(200):
        key = dag[f"o{i}"].key
        assert fresh.get(key) == expected_value(i)
        info = result.outcomes[f"o{i}"].info
        assert info is not None and fresh.info(key) == ObjectInfo(
            **{**info.__dict__, "write_seconds": 0.0}
        )
    assert fresh.get(dag["last"].key) == 199.0
    assert result.metrics == {"last": 199.0}


def test_a_run_keeping_fewer_values_writes_each_loose(tmp_path):
    store = SlowFirstWrite(tmp_path / "objects")
    dag, result = run_chain(tmp_path, GROUP_AFTER - 2, store)  # and the metric: one short
    assert result.failure is None
    assert store.groups == []
    assert len(loose_files(store.root)) == GROUP_AFTER - 1
    assert not list((store.root / "pack").glob("*"))
    for i in range(GROUP_AFTER - 2):
        assert store.get(dag[f"o{i}"].key) == expected_value(i)


class RefusedGroup(SlowFirstWrite):
    """The disk store on a medium that refuses the group's write (a full disk)."""

    def put_group(self, values: Sequence[tuple[str, Encoded | Packed]]) -> dict[str, ObjectInfo]:
        super().put_group([])  # counted
        raise StoreWriteError(values[0][0], self.root / "pack", OSError(28, "No space left"))


def test_a_refused_group_fails_the_run_and_records_none_of_it(tmp_path):
    store = RefusedGroup(tmp_path / "objects")
    with pytest.raises(StoreWriteError):
        run_chain(tmp_path, 40, store)
    # the values waiting behind the slow first write go as one group; on a slow machine
    # the run may hand over more before that group is refused, and they are refused too
    assert store.groups
    fresh = DiskObjectStore(store.root, hot=False)
    assert sorted(fresh.keys()) == sorted(store.loose)  # the loose first write only


# --- SIGKILL while a group is written (real processes) --------------------------------


def _part_files(objects: Path) -> list[Path]:
    try:
        return [p for p in (objects / "tmp").iterdir() if p.name.endswith(".part")]
    except FileNotFoundError:
        return []


def _a_pack(part: Path) -> bool:
    """Whether a temp file is a pack or a pack index being written (not a loose object)."""
    try:
        return part.read_bytes()[:4] in (PACK_MAGIC, INDEX_MAGIC)
    except FileNotFoundError:
        return False


def _kill_during_a_group(repo: Any, objects: Path) -> bool:
    """Start ``helix run`` and SIGKILL it as soon as a pack (or its index) is being written;
    whether it died writing one (False too when the run ended before one was seen)."""
    process = subprocess.Popen(
        helix_cmd(repo, "run", "--materialize", "all"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not any(_a_pack(part) for part in _part_files(objects)):
            if process.poll() is not None:
                return False  # it ended first: try again
            assert time.monotonic() < deadline, "the run neither wrote a pack nor ended"
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == -signal.SIGKILL
    return any(_a_pack(part) for part in _part_files(objects))


@pytest.mark.slow
def test_a_kill_during_a_group_write_leaves_complete_objects_and_the_next_run_is_right(
    git_repo,
):
    count = 400
    git_repo.gen({"workflow.py": chain(count, sleep=0.002)}, commit="a long chain")
    git_repo.helix("init")
    git_repo.commit("ignore .helix/")
    objects = objects_dir(git_repo)
    for attempt in range(8):  # the kill may land between two writes: try again then
        seed = attempt + 1
        git_repo.write(
            {"workflow.py": chain(count, sleep=0.002).replace("SEED = 0", f"SEED = {seed}")}
        )
        mid_write = _kill_during_a_group(git_repo, objects)
        values = check_store(git_repo)  # complete objects only; the dead run's temp files gone
        for value in values.values():
            assert isinstance(value, (list, float))
        if mid_write:
            break
    assert mid_write, "never killed in the middle of a group's write"
    done = helix_json_proc(git_repo, "run", "--materialize", "all")
    assert done["status"] == "ok"
    assert done["metrics"] == {"last": float(seed + count - 1)}
    loaded = sum(n["state"] == "load" for n in done["nodes"])
    assert loaded >= 1  # it resumed from what the killed run had written
    values = check_store(git_repo)
    for node in done["nodes"]:
        if node["name"].startswith("o"):
            i = int(node["name"][1:])
            assert values[node["key"]] == expected_value(i, seed)
