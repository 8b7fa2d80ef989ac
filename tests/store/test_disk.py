"""What only the disk store promises: layout, permissions, crash safety, full disks."""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from helixvcs.store import DiskObjectStore, InvalidKey, StoreUnavailable, StoreWriteError
from helixvcs.store.disk import loose_bytes

KEY = "ab" + "cd" * 19


def make_key(n: int) -> str:
    return f"{n:040x}"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def temp_files(store: DiskObjectStore) -> list[Path]:
    return sorted((store.root / "tmp").iterdir())


def test_layout_and_permissions(tmp_path: Path) -> None:
    store = DiskObjectStore(tmp_path / "repo" / ".helix" / "objects")
    store.put(KEY, [1, 2, 3])
    path = tmp_path / "repo" / ".helix" / "objects" / "ab" / ("cd" * 19)
    assert store.path(KEY) == path and path.is_file()
    assert mode(path) == 0o600
    for folder in (store.root, store.root / "ab", store.root / "tmp"):
        assert mode(folder) == 0o700
    assert temp_files(store) == []


def test_private_modes_do_not_depend_on_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o000)
    try:
        store = DiskObjectStore(tmp_path / "objects")
        store.put(KEY, "x")
    finally:
        os.umask(previous)
    assert mode(store.root) == mode(store.path(KEY).parent) == 0o700
    assert mode(store.path(KEY)) == 0o600


def test_objects_persist_across_instances(tmp_path: Path) -> None:
    DiskObjectStore(tmp_path / "objects").put(KEY, {"kept": True})
    reopened = DiskObjectStore(tmp_path / "objects")
    assert reopened.get(KEY) == {"kept": True}
    assert list(reopened.keys()) == [KEY]


def test_keys_ignore_stray_files(disk_store: DiskObjectStore) -> None:
    disk_store.put(KEY, 1)
    (disk_store.root / "README").write_text("not an object")
    (disk_store.root / "ab" / "short").write_text("not an object")
    (disk_store.root / "zz").mkdir()
    (disk_store.root / "zz" / ("0" * 38)).write_text("not an object")
    (disk_store.root / "tmp" / "note.txt").write_text("not a temp file of ours")
    assert list(disk_store.keys()) == [KEY]
    assert disk_store.total_bytes() == loose_bytes(disk_store.path(KEY).stat().st_size)


def test_a_key_cannot_address_a_path_outside_the_store(disk_store: DiskObjectStore) -> None:
    for bad in ("../" + "a" * 37, "..", "/" + "a" * 39, "a" * 38 + "/.", "a" * 40 + "/.."):
        with pytest.raises(InvalidKey):
            disk_store.path(bad)


def test_unusable_root_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(StoreUnavailable) as caught:
        DiskObjectStore(tmp_path / "file" / "objects")
    message = str(caught.value)
    assert message.startswith(f"cannot open the object store at {tmp_path / 'file' / 'objects'}: ")
    assert "Not a directory" in message and "\n" not in message


# --- abandoned temp files -------------------------------------------------------------


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_open_removes_temp_files_of_dead_writers_only(tmp_path: Path) -> None:
    temp = tmp_path / "objects" / "tmp"
    temp.mkdir(parents=True)
    dead = temp / f"{dead_pid()}-0123abcd.part"
    mine = temp / f"{os.getpid()}-4567abcd.part"
    foreign = temp / "notes.part"
    for path in (dead, mine, foreign):
        path.write_bytes(b"partial")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        alive = temp / f"{sleeper.pid}-89abcdef.part"
        alive.write_bytes(b"partial")
        store = DiskObjectStore(tmp_path / "objects")
        assert store.removed_temp_files == 1
        assert sorted(p.name for p in temp.iterdir()) == sorted(
            p.name for p in (mine, foreign, alive)
        )
    finally:
        sleeper.kill()
        sleeper.wait()


KILLED_WRITER = """
import sys
import numpy as np
from helixvcs.store import DiskObjectStore

store = DiskObjectStore(sys.argv[1])
big = np.random.default_rng(0).random(50 * 2**20 // 8)  # 50 MB that do not compress
print("ready", flush=True)
for n in range(10**6):
    store.put(f"{n:040x}", big)
"""


def kill_while_writing(root: Path, *, after: int) -> int:
    """Start a writer, let it store ``after`` objects, then SIGKILL it while a temp file
    is being filled; return its pid."""
    writer = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(root)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline() == "ready\n"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            stored = len(list(root.glob("[0-9a-f][0-9a-f]/*")))
            parts = list((root / "tmp").glob(f"{writer.pid}-*.part"))
            with contextlib.suppress(FileNotFoundError):
                if stored >= after and any(p.stat().st_size > 0 for p in parts):
                    break
            time.sleep(0.001)
        writer.send_signal(signal.SIGKILL)
    finally:
        writer.kill()
        writer.wait()
    assert writer.returncode == -signal.SIGKILL
    return writer.pid


@pytest.mark.slow
def test_sigkilled_writer_leaves_no_partial_object(tmp_path: Path) -> None:
    root = tmp_path / "objects"
    for _attempt in range(5):  # the kill may land between two writes; try again then
        pid = kill_while_writing(root, after=2)
        leftovers = list((root / "tmp").glob(f"{pid}-*.part"))
        if leftovers:
            break
    assert leftovers, "the writer was never killed in the middle of a write"
    store = DiskObjectStore(root)
    assert store.removed_temp_files >= len(leftovers)
    assert temp_files(store) == []
    keys = sorted(store.keys())
    assert len(keys) >= 2
    for key in keys:  # every file under a key path is complete and verifies
        value = store.get(key)
        assert isinstance(value, np.ndarray) and value.nbytes == 50 * 2**20


# --- two processes, one key -----------------------------------------------------------

RACING_WRITER = """
import os, sys, time
import numpy as np
from helixvcs.store import DiskObjectStore

root, start = sys.argv[1], sys.argv[2]
store = DiskObjectStore(root)
value = np.arange(4_000_000, dtype=np.float64) % 977
print("ready", flush=True)
while not os.path.exists(start):
    time.sleep(0.0005)
wrote = sum(store.put(f"{n:040x}", value).write_seconds > 0 for n in range(6))
print(wrote, flush=True)
"""


@pytest.mark.slow
def test_concurrent_puts_of_the_same_keys_from_two_processes(tmp_path: Path) -> None:
    root, start = tmp_path / "objects", tmp_path / "start"
    DiskObjectStore(root)
    command = [sys.executable, "-c", RACING_WRITER, str(root), str(start)]
    writers = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    for writer in writers:
        assert writer.stdout is not None and writer.stdout.readline() == "ready\n"
    start.touch()
    outputs = [writer.communicate(timeout=120)[0] for writer in writers]
    assert [writer.returncode for writer in writers] == [0, 0]
    assert sum(int(out) for out in outputs) >= 6  # every key written at least once
    store = DiskObjectStore(root)
    assert sorted(store.keys()) == [make_key(n) for n in range(6)]
    assert temp_files(store) == []
    expected = np.arange(4_000_000, dtype=np.float64) % 977
    for key in sorted(store.keys()):
        np.testing.assert_array_equal(store.get(key), expected)


# --- a full disk ----------------------------------------------------------------------


def test_full_disk_raises_store_write_error_and_leaves_nothing(tiny_filesystem: Path) -> None:
    store = DiskObjectStore(tiny_filesystem / "objects")
    kept = store.put(make_key(1), np.random.default_rng(1).random(40_000))  # ~320 kB
    too_big = np.random.default_rng(2).random(200_000)  # ~1.6 MB that do not compress
    with pytest.raises(StoreWriteError) as caught:
        store.put(KEY, too_big)
    assert str(caught.value).startswith(
        f"could not write object {KEY[:12]} to {store.path(KEY)}: No space left on device; "
        "free space on that file system"
    )
    assert caught.value.path == store.path(KEY)
    assert not store.has(KEY)
    assert temp_files(store) == []
    assert list(store.keys()) == [make_key(1)]
    assert store.total_bytes() == kept.bytes
    assert store.info(make_key(1)) is not None
    store.put(KEY, "small enough")  # the space of the failed write was given back
    assert store.get(KEY) == "small enough"
