"""Shared pieces of the reliability matrix (docs/reliability.md).

Everything here is real: git repositories in temporary folders, ``helix`` as separate
processes where crashes and concurrency matter, DuckDB files, the disk store. The checks
that every case ends with live here, so that "the store is consistent" means the same
thing in every test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from helixvcs.index import Index
from helixvcs.store import DiskObjectStore


def helix_cmd(repo: Any, *args: str) -> list[str]:
    return [sys.executable, "-m", "helixvcs", "--repo", str(repo.path), *args]


def helix_run(
    repo: Any, *args: str, timeout: float = 120, **kwargs: Any
) -> subprocess.CompletedProcess:
    """``helix ARGS`` as a real process, to completion."""
    return subprocess.run(
        helix_cmd(repo, *args), capture_output=True, text=True, timeout=timeout, **kwargs
    )


def run_until_marker(
    repo: Any, marker: Path, *args: str, timeout: float = 120, **popen: Any
) -> subprocess.Popen:
    """``helix ARGS`` as a real process, returned once its workflow wrote ``marker`` (the
    workflow finds the path in ``HELIX_TEST_MARKER``); the run ending first fails the test."""
    env = {**os.environ, "HELIX_TEST_MARKER": str(marker)}
    process = subprocess.Popen(helix_cmd(repo, *args), env=env, **popen)
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise AssertionError(f"helix {' '.join(args)} ended before writing {marker}")
        time.sleep(0.005)
    return process


def helix_json_proc(repo: Any, *args: str) -> Any:
    done = helix_run(repo, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def error_line(stderr: str) -> str:
    """The one ``error:`` line a refused command prints, and nothing else."""
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


def warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("warning: ")]


def objects_dir(repo: Any) -> Path:
    return repo.path / ".helix" / "objects"


def object_path(repo: Any, key: str) -> Path:
    return objects_dir(repo) / key[:2] / key[2:]


def pack_all(repo: Any) -> None:
    """``helix gc`` with room for everything: the small loose objects go into a pack."""
    done = helix_run(repo, "gc", "--max-size", "1TB", "--json")
    assert done.returncode == 0, done.stderr
    assert list((objects_dir(repo) / "pack").glob("*.pack")), "gc packed nothing"


def packed_entry(repo: Any, key: str) -> tuple[Path, int, int]:
    """Where ``key``'s object lies in its pack: the pack, the object's offset, its length."""
    from helixvcs.store.packfile import FRAME_SIZE

    assert not object_path(repo, key).exists(), "the object is loose, not packed"
    found = DiskObjectStore(objects_dir(repo), hot=False).packs.find(key)
    assert found is not None, f"{key} is not packed"
    pack, record = found
    return pack.pack_path, record.offset + FRAME_SIZE, record.length


def check_store(repo: Any) -> dict[str, object]:
    """The store holds only complete, verifiable objects, each the one the index recorded.

    Opening the store removes temp files of dead writers; none may be left after that (no
    test leaves a writer running when it checks). Returns every key's value.
    """
    store = DiskObjectStore(objects_dir(repo))
    leftovers = list((objects_dir(repo) / "tmp").iterdir())
    assert leftovers == [], f"partial writes left behind: {leftovers}"
    recorded = Index(repo.path / ".helix" / "index.duckdb").objects()
    values = {}
    for key in list(store.keys()):
        checksum = recorded[key].checksum if key in recorded else None
        values[key] = store.get(key, checksum=checksum)  # raises if torn, corrupt or swapped
    return values


def check_index(repo: Any) -> list[Any]:
    """The index opens and reads; no run is left ``running`` once no helix is running."""
    runs = Index(repo.path / ".helix" / "index.duckdb").runs()
    return runs


@pytest.fixture
def clean_env() -> dict[str, str]:
    """The environment for helix child processes: no debug switches from the caller."""
    env = dict(os.environ)
    env.pop("HELIX_DEBUG", None)
    return env
