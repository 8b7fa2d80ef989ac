"""The materialization rule weighs a value's recompute time against a load time estimated
from the measured throughput of decoded bytes (issue: a fixed guess kept too little)."""

from __future__ import annotations

import io

import pytest

from helixvcs.exec import Progress, RunSettings, execute, get_executor
from helixvcs.graph import compile_workflow
from helixvcs.hashing import StatCache
from helixvcs.plan import COMPUTE
from helixvcs.store import MemoryObjectStore

WORKFLOW = """\
import time

from helixvcs import Workflow

wf = Workflow("keep")


@wf.op
def blob():
    time.sleep(0.05)
    return b"x" * 2_000_000


@wf.metric
def size(blob):
    return float(len(blob))
"""


@pytest.mark.parametrize(("throughput", "kept"), [(1e6, False), (1e9, True)])
def test_a_value_is_kept_when_its_measured_load_beats_recomputing(tmp_path, throughput, kept):
    (tmp_path / "workflow.py").write_text(WORKFLOW, encoding="utf-8")
    dag = compile_workflow(tmp_path, tmp_path / "workflow.py", StatCache(None))
    store = MemoryObjectStore()
    result = execute(
        dag,
        dict.fromkeys(dag.nodes, COMPUTE),
        store=store,
        executor=get_executor("local"),
        replan=lambda held, lost: {},
        compute_estimates={"blob": 0.05, "size": 0.0},
        settings=RunSettings(load_throughput=throughput),
        progress=Progress(io.StringIO()),
    )
    assert result.failure is None
    # 2 MB at 1 MB/s takes 2 s to load, far more than the 0.05 s to recompute; at 1 GB/s
    # it takes 2 ms
    assert store.has(dag["blob"].key) is kept
    assert store.has(dag["size"].key)  # an output is always kept


FROM_STORED = """\
from helixvcs import Workflow

wf = Workflow("frontier")


@wf.op
def big():
    return b"b" * 1_000


@wf.op
def cheap(big):
    return big * 2_000  # 2 MB in a millisecond


@wf.metric
def size(cheap):
    return float(len(cheap))
"""


@pytest.mark.parametrize(("big_load", "kept"), [(None, False), (0.5, True)])
def test_recomputing_a_value_counts_loading_the_stored_values_it_needs(tmp_path, big_load, kept):
    """``cheap`` costs a millisecond to compute but half a second to get without keeping
    it: its stored parent must be loaded first. That load is part of its recompute cost."""
    (tmp_path / "workflow.py").write_text(FROM_STORED, encoding="utf-8")
    dag = compile_workflow(tmp_path, tmp_path / "workflow.py", StatCache(None))
    store = MemoryObjectStore()
    store.put(dag["big"].key, b"b" * 1_000)
    result = execute(
        dag,
        {"big": "load", "cheap": COMPUTE, "size": COMPUTE},
        store=store,
        executor=get_executor("local"),
        replan=lambda held, lost: {},
        compute_estimates={"big": 2.0, "cheap": 0.001, "size": 0.0},
        settings=RunSettings(
            load_throughput=1e9, load_estimates={} if big_load is None else {"big": big_load}
        ),
        progress=Progress(io.StringIO()),
    )
    assert result.failure is None
    assert store.has(dag["cheap"].key) is kept
