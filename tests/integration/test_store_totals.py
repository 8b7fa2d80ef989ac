"""The store's size comes from the index's running totals, and they match a count of the
store after runs, gc, a killed run and objects removed behind helix's back."""

from __future__ import annotations

import signal

import pytest

from helixvcs.index import Index
from helixvcs.store import DiskObjectStore
from tests.integration.test_processes import SLOW, _running, _wait_for
from tests.integration.toy import FILES


def _store(repo) -> DiskObjectStore:
    return DiskObjectStore(repo.path / ".helix" / "objects")


def _totals(repo):
    return Index(repo.path / ".helix" / "index.duckdb").store_totals()


def _scanned(repo) -> int:
    return _store(repo).total_bytes()  # a stat of every object: what the totals replace


@pytest.fixture
def slow_toy(git_repo):
    git_repo.gen({**FILES, "workflow.py": SLOW, ".gitignore": "data/hold\n"}, commit="slow toy")
    git_repo.helix("init")
    git_repo.commit("ignore .helix/")
    return git_repo


def test_totals_follow_runs_and_gc(slow_toy):
    slow_toy.helix("run")
    totals = _totals(slow_toy)
    assert not totals.stale
    assert totals.used == _scanned(slow_toy) > 0
    assert totals.objects == len(list(_store(slow_toy).keys()))
    slow_toy.edit(
        "workflow.py", "def total(scaled, shifted):\n", "def total(scaled, shifted):\n    x = 1\n"
    )
    slow_toy.helix("run")
    assert _totals(slow_toy).used == _scanned(slow_toy)
    report = slow_toy.helix_json("gc", "--max-size", "1")
    assert report["before_bytes"] > report["after_bytes"]
    totals = _totals(slow_toy)
    assert totals.used == _scanned(slow_toy) == report["after_bytes"]


def test_a_killed_run_is_counted_by_the_next_run_and_by_gc(slow_toy):
    hold = slow_toy.path / "data/hold"
    hold.touch()
    proc = slow_toy.helix_proc("run")
    _wait_for(lambda: _running(slow_toy))
    objects = slow_toy.path / ".helix" / "objects"
    _wait_for(lambda: sum(1 for p in objects.glob("??/*")) >= 4)  # written, never recorded
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    orphans = _scanned(slow_toy)
    assert orphans > 0 and _totals(slow_toy).bytes == 0  # the index never heard of them
    report = slow_toy.helix_json("gc", "--max-size", "10GB", "--dry-run")
    assert report["before_bytes"] == orphans  # gc counts what the index does not know
    assert _totals(slow_toy).used == orphans
    hold.unlink()
    slow_toy.helix("run")
    totals = _totals(slow_toy)
    assert not totals.stale and totals.used == _scanned(slow_toy)


def test_objects_removed_behind_helix_are_forgotten_by_gc(slow_toy):
    slow_toy.helix("run")
    store = _store(slow_toy)
    gone = next(iter(store.keys()))
    store.delete(gone)
    assert _totals(slow_toy).used > _scanned(slow_toy)  # until the totals are reconciled
    slow_toy.helix("gc", "--max-size", "10GB")
    assert _totals(slow_toy).used == _scanned(slow_toy)
