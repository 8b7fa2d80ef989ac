"""What the keep rule expects a kept value's next load to run at (``repo/run.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from helixvcs import servers
from helixvcs.index import Index
from helixvcs.plan.costs import STORE_THROUGHPUT
from helixvcs.repo.run import _keep_throughput
from helixvcs.store import DiskObjectStore
from helixvcs.store.hot import HOT_THROUGHPUT


@pytest.fixture
def index(tmp_path: Path) -> Index:
    made = Index(tmp_path / "index.duckdb")
    made.ensure()
    return made


def test_without_a_server_loads_are_priced_from_the_disk(tmp_path, index, monkeypatch):
    monkeypatch.setattr(servers, "_coming", False)
    store = DiskObjectStore(tmp_path / "objects", hot=False)
    assert _keep_throughput(index, store) == STORE_THROUGHPUT


def test_a_command_that_saw_a_server_starting_prices_loads_from_memory(
    tmp_path, index, monkeypatch
):
    """Its store hands the tier what it keeps once the server is up (``store/disk.py``)."""
    monkeypatch.setattr(servers, "_coming", False)
    servers.expect_one()
    store = DiskObjectStore(tmp_path / "objects", hot=False)
    assert _keep_throughput(index, store) >= HOT_THROUGHPUT
    monkeypatch.setenv("HELIX_HOT_MEMORY", "0")  # no tier at all: the disk's speed
    assert _keep_throughput(index, store) == STORE_THROUGHPUT
