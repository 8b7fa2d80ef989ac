"""The storage budget across an iteration sequence, and gc that never breaks a later run."""

from __future__ import annotations

import pytest

from helixvcs.store import DiskObjectStore
from tests.integration.toy import computed

WORKFLOW = """\
import time

import numpy as np

from helixvcs import Workflow

wf = Workflow("budget")


@wf.source("data/seed.txt")
def seed(path):
    return int(open(path).read())


@wf.op
def big(seed):
    time.sleep(0.05)
    return np.random.default_rng(seed).random(50_000)  # 400 kB that does not compress


@wf.op
def summary(big):
    time.sleep(0.3)
    return np.sort(big)[:10]


@wf.metric
def score(summary, offset=0):
    return float(summary.sum()) + offset
"""

BUDGET = 600_000  # one `big` fits, two do not


def _store(repo) -> DiskObjectStore:
    return DiskObjectStore(repo.path / ".helix" / "objects")


@pytest.fixture
def budget_repo(git_repo):
    git_repo.gen({"workflow.py": WORKFLOW, "data/seed.txt": "1"}, commit="budget")
    git_repo.helix("init")
    git_repo.commit("ignore .helix/")
    return git_repo


def test_small_budget_is_respected_across_ten_iterations(budget_repo):
    repo, store = budget_repo, _store(budget_repo)
    repo.helix("run", "--budget", str(BUDGET))
    offset = 0
    for i in range(10):
        if i % 3 == 2:  # a data change: a new `big` competes with the stored one
            (repo.path / "data/seed.txt").write_text(str(i))
        else:  # an evaluation change
            repo.edit("workflow.py", f"offset={offset}", f"offset={offset + 1}")
            offset += 1
        repo.commit(f"iteration {i}")
        doc = repo.helix_json("run", "--budget", str(BUDGET))
        keys = {n["name"]: n["key"] for n in doc["nodes"]}
        assert store.total_bytes() <= BUDGET, f"over budget after iteration {i}"
        # the current, valuable objects are the ones kept
        assert store.has(keys["summary"]) and store.has(keys["score"])
        if i % 3 != 2:
            assert computed(doc) == {"score"}
    stale_bigs = [
        k for k in list(store.keys()) if k != keys["big"] and store.info(k).raw_bytes > 100_000
    ]
    assert stale_bigs == []  # every older `big` made room for the current one


def test_a_value_worth_less_per_byte_than_everything_stored_is_not_kept(budget_repo):
    repo, store = budget_repo, _store(budget_repo)
    # room for the small values only, each in the 4 KiB block a loose file takes
    doc = repo.helix_json("run", "--budget", "20000")
    keys = {n["name"]: n["key"] for n in doc["nodes"]}
    assert not store.has(keys["big"])
    assert store.has(keys["summary"])
    assert store.total_bytes() <= 20000


def test_gc_frees_space_and_a_later_run_recomputes_what_it_dropped(budget_repo):
    repo, store = budget_repo, _store(budget_repo)
    first = repo.helix_json("run")
    before = store.total_bytes()
    dry = repo.helix_json("gc", "--max-size", "1000", "--dry-run")
    assert dry["dry_run"] and dry["freed_bytes"] > 0 and store.total_bytes() == before
    report = repo.helix_json("gc", "--max-size", "1000")
    assert report["after_bytes"] == store.total_bytes() <= 1000
    assert report["freed_bytes"] == before - store.total_bytes()
    assert {d["name"] for d in report["dropped"]} >= {"big"}
    again = repo.helix_json("run")
    assert again["metrics"] == first["metrics"]
    report = repo.helix_json("gc", "--max-size", "0")
    assert store.total_bytes() == 0 and report["after_bytes"] == 0
    third = repo.helix_json("run")
    assert third["metrics"] == first["metrics"]
    assert "summary" in computed(third)
    assert "dropped" in repo.helix("gc", "--max-size", "0").stdout


def test_gc_never_drops_what_a_running_run_needs(budget_repo):
    import json
    import time

    repo = budget_repo
    repo.helix("run")
    repo.edit("workflow.py", "time.sleep(0.3)", "time.sleep(3)")
    proc = repo.helix_proc("run", "--json")
    deadline = time.monotonic() + 30
    while not any(e["status"] == "running" for e in repo.helix_json("log")):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    report = repo.helix_json("gc", "--max-size", "0")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    names = {d["name"] for d in report["dropped"]}
    assert "big" not in names  # the running run loads `big`; its key is protected
    assert json.loads(out)["status"] == "ok"
