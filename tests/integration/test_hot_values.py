"""Values in memory between runs (the hot tier) while a warm server runs: later runs get
exactly what was stored, whatever an operator did to its input in place, and the same
results cold after the server stops."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from helixvcs.store.hot import HotTier, tier_folder
from tests.conftest import GitRepo
from tests.integration.test_server import _serving

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="helix server is Linux-only")

WORKFLOW = """\
import time

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from helixvcs import Workflow

wf = Workflow("mutating")


@wf.op
def arr():
    time.sleep(0.05)
    return np.arange(100_000, dtype=np.float64)


@wf.op
def frame():
    time.sleep(0.05)
    return pd.DataFrame({"a": np.arange(1000, dtype=np.float64), "b": np.ones(1000)})


@wf.op
def model():
    time.sleep(0.05)
    x = np.array([[0.0], [1.0], [2.0], [3.0]])
    return LogisticRegression().fit(x, [0, 0, 1, 1])


@wf.metric
def from_arr(arr, k=1):
    seen = float(arr.sum()) + k
    arr[:] = -1.0  # in place: this operator is its only consumer, so it may
    return seen


@wf.metric
def from_frame(frame, k=1):
    seen = float(frame["a"].sum()) + k
    frame["a"] *= 0
    return seen


@wf.metric
def from_model(model, k=1):
    seen = float(model.coef_.sum()) + k
    model.coef_[:] = 0.0
    return seen
"""


def _metrics(repo: GitRepo) -> dict[str, float]:
    doc = repo.helix_json("run")
    assert doc["status"] == "ok"
    return dict(doc["metrics"])


def _plus(metrics: dict[str, float], k: int) -> dict[str, object]:
    """The first run's metrics with ``k`` added, as a later run computes them from the
    same stored values: ``sum + 3`` and ``(sum + 1) + 2`` may differ in the last bit, so
    to 1e-12 (a value an operator changed in place would be off by one or more)."""
    return {m: pytest.approx(v + k, rel=1e-12, abs=0.0) for m, v in metrics.items()}


def test_in_place_changes_never_reach_a_later_run_hot_or_cold(git_repo: GitRepo) -> None:
    git_repo.gen({"workflow.py": WORKFLOW, ".gitignore": ".helix/\n"}, commit="mutating")
    git_repo.helix("init")
    with _serving(git_repo):
        first = _metrics(git_repo)
        keys = {n["name"]: n["key"] for n in git_repo.helix_json("plan")["nodes"]}
        folder = tier_folder()
        assert folder is not None
        tier = HotTier(folder, 2**30)
        assert all(tier.has(keys[n]) for n in ("arr", "frame", "model"))
        for k in (2, 3):  # the consumers change; their inputs load from memory
            git_repo.write({"workflow.py": WORKFLOW.replace("k=1", f"k={k}")})
            doc = git_repo.helix_json("run")
            assert {n["name"]: n["state"] for n in doc["nodes"]}["arr"] == "load"
            assert doc["metrics"] == _plus(first, k - 1)
    assert not (folder / keys["arr"]).exists()  # the tier went with the last server
    git_repo.write({"workflow.py": WORKFLOW.replace("k=1", "k=4")})
    cold = git_repo.helix_json("run")  # from the store on disk: the same values
    assert cold["metrics"] == _plus(first, 3)


KEEP = """\
import time

import numpy as np

from helixvcs import Workflow

wf = Workflow("keep")


@wf.op
def big():
    time.sleep(0.3)  # cheaper than reading 48 MB back from disk twice, dearer from memory
    return np.random.default_rng(0).random(6_000_000)


@wf.metric
def m(big):
    return float(big[:10].sum())
"""


def _kept(repo: GitRepo) -> bool:
    doc = repo.helix_json("run")
    return {n["name"]: n["materialized"] for n in doc["nodes"]}["big"]


def test_the_keep_rule_prices_the_next_load_from_memory_while_a_server_runs(
    git_repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a registry of its own: a server another test of this worker left running would
    # give the first run a hot tier (any server of the user's makes one)
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    git_repo.gen({"workflow.py": KEEP, ".gitignore": ".helix/\n"}, commit="keep")
    git_repo.helix("init")
    assert not _kept(git_repo)  # no warm server: a load from disk would cost too much
    git_repo.edit("workflow.py", "random(6_000_000)", "random(6_000_001)")
    with _serving(git_repo):
        assert _kept(git_repo)  # its next load comes from memory
