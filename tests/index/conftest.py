"""Fixtures for the index tests: a real index file in a temp ``.helix/``, record factories,
and a way to run ``worker.py`` in other processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from helixvcs.index import Index, NodeRecord, ObjectRecord, OperatorRecord, RunRecord

WORKER = Path(__file__).with_name("worker.py")
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def index_path(tmp_path: Path) -> Path:
    helix = tmp_path / ".helix"
    helix.mkdir()
    return helix / "index.duckdb"


@pytest.fixture
def index(index_path: Path) -> Index:
    return Index(index_path, lock_timeout=10)


@pytest.fixture
def make_run() -> Callable[..., RunRecord]:
    """``make_run("r1", minute=3, status="ok")``: a run started T0 + 3 minutes."""

    def make(run_id: str = "r1", *, minute: int = 0, **fields: Any) -> RunRecord:
        values: dict[str, Any] = {
            "run_id": run_id,
            "started": T0 + timedelta(minutes=minute),
            "finished": None,
            "status": "running",
            "revision": "HEAD",
            "commit": "c" * 40,
            "fingerprint": "f" * 16,
            "branch": "main",
            "subject": "try a smaller C",
            "author": "Ada <ada@example.com>",
            "workflow": "census",
            "sample": None,
            "materialize": "helix",
            "executor": "local",
            "pid": os.getpid(),
            "host": socket.gethostname(),
        }
        return RunRecord(**{**values, **fields})

    return make


@pytest.fixture
def operators() -> list[OperatorRecord]:
    return [
        OperatorRecord(
            "raw", "source", "k-raw", "h-raw", (), 0, "wf.py", 10, "def raw(path): ...",
            {"files": "d1"},
        ),
        OperatorRecord(
            "rows", "op", "k-rows", "h-rows", ("raw",), 1, "wf.py", 14,
            "def rows(raw):\n    return clean(raw)\n", {"body": "b1", "helper:clean": "c1"},
        ),
        OperatorRecord(
            "model", "op", "k-model", "h-model", ("rows",), 2, "wf.py", 18,
            "def model(rows, C=0.1): ...", {"body": "b2", "default:C": "0.1"},
        ),
        OperatorRecord(
            "accuracy", "metric", "k-acc", "h-acc", ("model", "rows"), 3, "wf.py", 22,
            "def accuracy(model, rows): ...", {},
        ),
    ]  # fmt: skip


@pytest.fixture
def make_nodes() -> Callable[..., list[NodeRecord]]:
    """Node records for the ``operators`` fixture; ``seconds`` scales compute times."""

    def make(seconds: float = 1.0, suffix: str = "") -> list[NodeRecord]:
        return [
            NodeRecord("raw", "k-raw", "load", 0.05, 0.05, 1_000, True, "ok"),
            NodeRecord("rows", f"k-rows{suffix}", "compute", 2 * seconds, None, 5_000, True, "ok"),
            NodeRecord(
                "model", f"k-model{suffix}", "compute", 3 * seconds, None, None, False, "ok"
            ),
            NodeRecord("accuracy", f"k-acc{suffix}", "prune", 0.0, None, None, False, "skipped"),
        ]

    return make


@pytest.fixture
def make_object() -> Callable[..., ObjectRecord]:
    def make(key: str, **fields: Any) -> ObjectRecord:
        values: dict[str, Any] = {
            "key": key,
            "name": "rows",
            "bytes": 1_234,
            "raw_bytes": 5_678,
            "codec": "arrow+zstd",
            "checksum": "sha256:" + "0" * 8,
            "compute_seconds": 2.5,
            "load_seconds": None,
            "created": T0,
            "last_used": T0,
        }
        return ObjectRecord(**{**values, **fields})

    return make


@pytest.fixture
def worker() -> Callable[..., subprocess.Popen[str]]:
    """Start ``worker.py`` with the given arguments in a new process."""

    def start(*args: object, lock_timeout: float = 30) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, str(WORKER), *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "INDEX_LOCK_TIMEOUT": str(lock_timeout)},
        )

    return start


def finished_ok(process: subprocess.Popen[str], timeout: float = 60) -> dict[str, Any]:
    """Wait for a worker; fail the test with its stderr unless it succeeded."""
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, f"worker failed:\n{err}"
    result: dict[str, Any] = json.loads(out)
    return result


@pytest.fixture
def wait_ok() -> Callable[..., dict[str, Any]]:
    return finished_ok
