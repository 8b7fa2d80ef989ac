"""Kept values are written in the background, off the run's critical path.

In process: the children of a kept value start before its write ends, the write happens
on the writer's thread, and what is stored is the value as its operator returned it even
when a child changes it in place meanwhile. As a real process killed while a write is in
flight: the store holds complete objects only, and the next run gives the same metric.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from helixvcs.exec import Progress, RunSettings, execute, get_executor
from helixvcs.graph import compile_workflow
from helixvcs.hashing import StatCache
from helixvcs.plan import COMPUTE, MaterializePolicy
from helixvcs.store import DiskObjectStore, ObjectInfo
from helixvcs.store.objectfile import Packed
from tests.reliability.conftest import check_store, helix_json_proc, run_until_marker

WORKFLOW = """\
import time

import numpy as np

from helixvcs import Workflow

wf = Workflow("writes")
STARTED = {}


@wf.op
def base():
    return np.arange(1_000_000, dtype=np.float64)


@wf.op
def doubled(base):
    STARTED["doubled"] = time.monotonic()
    base *= 2.0  # its only receiver: it may change it in place
    return base


@wf.metric
def total(doubled):
    return float(doubled.sum())
"""


class SlowDiskStore(DiskObjectStore):
    """The disk store, with a slow medium: every write takes 0.3 s more, and says which
    thread wrote it and when it ended."""

    def __init__(self, root: Path) -> None:
        super().__init__(root, hot=False)
        self.writes: dict[str, tuple[str, float]] = {}

    def put_packed(self, key: str, packed: Packed) -> ObjectInfo:
        time.sleep(0.3)
        info = super().put_packed(key, packed)
        self.writes[key] = (threading.current_thread().name, time.monotonic())
        return info


def execute_all(
    tmp_path: Path, text: str, store: DiskObjectStore, executor: str = "local"
) -> tuple[Any, Any]:
    """Compile ``text`` and run every operator, keeping every value: (dag, result)."""
    (tmp_path / "workflow.py").write_text(text, encoding="utf-8")
    dag = compile_workflow(tmp_path, tmp_path / "workflow.py", StatCache(None))
    result = execute(
        dag,
        dict.fromkeys(dag.nodes, COMPUTE),
        store=store,
        executor=get_executor(executor),
        replan=lambda held, lost: {},
        compute_estimates={},
        settings=RunSettings(policy=MaterializePolicy.ALL),
        progress=Progress(io.StringIO()),
    )
    return dag, result


def run_all(tmp_path: Path, executor: str) -> tuple[Any, Any, SlowDiskStore, dict[str, Any]]:
    store = SlowDiskStore(tmp_path / "objects")
    dag, result = execute_all(tmp_path, WORKFLOW, store, executor)
    started = dag["doubled"].spec.func.__globals__["STARTED"]
    return dag, result, store, started


@pytest.mark.parametrize("executor", ["local", "threads"])
def test_children_start_before_the_write_of_their_input_ends(tmp_path, executor):
    dag, result, store, started = run_all(tmp_path, executor)
    assert result.failure is None
    base = dag["base"].key
    thread, written = store.writes[base]
    assert thread.startswith("helix-writer"), thread
    assert started["doubled"] < written  # the child did not wait for the write
    assert all(result.outcomes[n].materialized for n in ("base", "doubled", "total"))


@pytest.mark.parametrize("executor", ["local", "threads"])
def test_what_is_stored_is_the_value_before_a_child_changed_it(tmp_path, executor):
    dag, result, store, _ = run_all(tmp_path, executor)
    original = np.arange(1_000_000, dtype=np.float64)
    np.testing.assert_array_equal(store.get(dag["base"].key), original)
    np.testing.assert_array_equal(store.get(dag["doubled"].key), original * 2)
    assert result.metrics == {"total": float((original * 2).sum())}
    info = result.outcomes["base"].info
    assert info is not None and info.checksum == store.info(dag["base"].key).checksum


def test_an_encoded_value_is_detached_from_the_value():
    from helixvcs.store.objectfile import encode_value

    values: list[Any] = [
        np.arange(10.0),
        np.asfortranarray(np.ones((3, 4))),
        (np.zeros(4), {"b": np.ones(2)}),
    ]
    for value in values:
        encoded = encode_value(value)
        before = bytes(encoded.raw)
        if isinstance(value, np.ndarray):
            value += 1
        else:
            value[0][:] = 7
            value[1]["b"][:] = 7
        assert bytes(encoded.raw) == before


TABLES = """\
import numpy as np
import pyarrow as pa

from helixvcs import Workflow

wf = Workflow("tables")
SEEN = {}


@wf.op
def table():
    return pa.table({"x": np.arange(100_000, dtype=np.float64)})  # over numpy's memory


def frozen(table):
    return all(
        b is None or not b.is_mutable
        for column in table.columns for chunk in column.chunks for b in chunk.buffers()
    )


@wf.op
def first(table):
    SEEN["first"] = (frozen(table), table.equals(pa.table({"x": np.arange(100_000.0)})))
    return table.num_rows


@wf.metric
def total(table, first):
    SEEN["total"] = frozen(table)
    return float(pa.compute.sum(table.column("x")).as_py())
"""


def test_the_children_of_a_kept_table_share_it_as_written_without_fingerprints(tmp_path):
    store = DiskObjectStore(tmp_path / "objects", hot=False)
    dag, result = execute_all(tmp_path, TABLES, store)
    assert result.failure is None
    seen = dag["first"].spec.func.__globals__["SEEN"]
    # the operator's table was over writable memory; its children got the table read
    # back from the bytes being written: equal, and immutable (nothing to fingerprint)
    assert seen == {"first": (True, True), "total": True}
    assert result.metrics == {"total": float(np.arange(100_000.0).sum())}
    assert store.get(dag["table"].key).equals(pa.table({"x": np.arange(100_000.0)}))


# A big incompressible value, then an operator that says it started and then waits: a
# kill while it waits lands while the big value's write is (very likely) in flight.
KILLED = """\
import os
import time

import numpy as np

from helixvcs import Workflow

wf = Workflow("killed")


@wf.source("data/seed.txt")
def seed(path):
    with open(path) as f:
        return int(f.read())


@wf.op
def big(seed):
    return np.random.default_rng(seed).random(12_000_000)  # 96 MB, incompressible


@wf.op
def head(big):
    marker = os.environ.get("HELIX_TEST_MARKER")
    if marker:
        with open(marker, "w") as f:
            f.write("started")
        time.sleep(60)
    return float(big[:1000].sum())


@wf.metric
def score(head):
    return head
"""


@pytest.mark.slow
def test_a_kill_during_a_background_write_leaves_complete_objects_only(git_repo, tmp_path):
    git_repo.gen({"workflow.py": KILLED, "data/seed.txt": "5\n"}, commit="big value")
    git_repo.helix("init")
    git_repo.commit("ignore .helix/")
    process = run_until_marker(
        git_repo,
        tmp_path / "started",
        "run",
        "--materialize",
        "all",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        objects = git_repo.path / ".helix" / "objects"
        seen = {p.parent.name + p.name for p in objects.glob("??/*")}
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    check_store(git_repo)  # complete objects only; the killed writer's temp file is gone
    done = helix_json_proc(git_repo, "run", "--materialize", "all")
    assert done["status"] == "ok"
    expected = float(np.random.default_rng(5).random(12_000_000)[:1000].sum())
    assert done["metrics"] == {"score": expected}
    big = next(n for n in done["nodes"] if n["name"] == "big")
    # ``head`` started while ``big`` was not written yet: the write was off its path
    assert big["key"] not in seen
    check_store(git_repo)
    again = helix_json_proc(git_repo, "run")
    assert again["metrics"] == {"score": expected}
    assert json.dumps(again["metrics"]) == json.dumps(done["metrics"])


ESTIMATOR_WORKFLOW = """\
import numpy as np
from sklearn.linear_model import LogisticRegression

from helixvcs import Workflow

wf = Workflow("estimator")


@wf.op
def model():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    return LogisticRegression().fit(x, (x[:, 0] > 0).astype(int))


@wf.op
def zeroed(model):
    model.coef_[:] = 0.0  # its only receiver: it may change it in place
    return float(abs(model.coef_).sum())


@wf.metric
def total(zeroed):
    return zeroed
"""


def test_an_estimator_is_encoded_with_skops_by_the_writer_as_it_was_returned(tmp_path):
    """The run's thread only pickles a kept estimator; the writer encodes it with skops
    (~0.1 s), after its child has changed it in place."""
    pytest.importorskip("skops")
    store = SlowDiskStore(tmp_path / "objects")
    dag, result = execute_all(tmp_path, ESTIMATOR_WORKFLOW, store)
    assert result.failure is None
    assert result.metrics == {"total": 0.0}
    key = dag["model"].key
    assert store.writes[key][0].startswith("helix-writer")
    info = store.info(key)
    assert info is not None and info.codec == "skops"
    stored = store.get(key)
    assert abs(stored.coef_).sum() > 0  # as the operator returned it, not as zeroed
    fresh = dag["model"].spec.func()
    np.testing.assert_array_equal(stored.coef_, fresh.coef_)
    assert result.outcomes["model"].info.checksum == info.checksum


def test_a_deferred_estimator_settles_to_what_encoding_it_at_once_gives():
    pytest.importorskip("skops")
    from sklearn.preprocessing import StandardScaler

    from helixvcs.store.objectfile import encode_value

    scaler = StandardScaler().fit(np.arange(12.0).reshape(4, 3))
    deferred = encode_value(scaler, defer_estimators=True)
    assert deferred.estimator and deferred.codec == "pickle"
    at_once = encode_value(scaler)
    settled = deferred.settled()
    assert (settled.codec, bytes(settled.raw)) == (at_once.codec, bytes(at_once.raw))
    assert at_once.codec == "skops"
    plain = encode_value(np.arange(3.0), defer_estimators=True)
    assert not plain.estimator and plain.settled() is plain


WARM_UP = """\
import sys
import threading
{imports}
import numpy as np

from helixvcs.store import DiskObjectStore
from helixvcs.store.objectfile import encode_value
from helixvcs.store.writer import BackgroundWriter

assert "skops.io" not in sys.modules
writer = BackgroundWriter(DiskObjectStore(sys.argv[1]))
writer.put("a" * 40, encode_value(np.arange(3.0)))
writer.take("a" * 40).result()
writer.close()
for thread in threading.enumerate():
    if thread.name == "helix-skops":
        thread.join()
print("skops.io" in sys.modules)
"""


@pytest.mark.parametrize("imports", ["import sklearn.linear_model", ""])
def test_a_writer_imports_skops_early_only_where_scikit_learn_is(tmp_path, imports):
    """A process that imported scikit-learn imports skops on a thread of its own as soon
    as its writer starts (a fitted estimator, if one comes, is encoded with it, and the
    import takes ~0.8 s); one that did not, never."""
    pytest.importorskip("skops")
    script = tmp_path / "warm.py"
    script.write_text(WARM_UP.format(imports=imports))
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "objects")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(bool(imports))
