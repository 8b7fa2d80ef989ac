"""A rerun of unchanged code reuses its stored outputs (make_plan's reuse margin)."""

from __future__ import annotations

from pathlib import Path

from helixvcs.graph import compile_workflow
from helixvcs.plan import COMPUTE, LOAD, PRUNE, make_plan
from helixvcs.plan.costs import CostModel, StoredObject
from helixvcs.plan.explain import REUSE_MARGIN_SECONDS

CHAIN = """\
from helixvcs import Workflow

wf = Workflow("chain")


@wf.op
def a():
    return 1


@wf.op
def b(a):
    return a + 1


@wf.output
def out(b):
    return b * 2
"""


def _dag(tmp_path: Path):
    (tmp_path / "workflow.py").write_text(CHAIN)
    return compile_workflow(tmp_path, tmp_path / "workflow.py")


def _model(dag, compute: float, load: float) -> CostModel:
    keys = {n.name: n.key for n in dag}
    return CostModel(
        by_key={k: compute for k in keys.values()},
        stored={keys["out"]: StoredObject(bytes=100, load_seconds=load)},
    )


def test_an_output_cheaper_to_recompute_by_microseconds_is_reused(tmp_path: Path) -> None:
    dag = _dag(tmp_path)
    plan = make_plan(dag, _model(dag, compute=1e-6, load=0.002))
    assert plan.states() == {"a": PRUNE, "b": PRUNE, "out": LOAD}
    assert "reused" in plan.nodes["out"].reason
    assert plan.estimated_seconds == 0.002  # what loading really costs


def test_an_output_much_cheaper_to_recompute_is_recomputed(tmp_path: Path) -> None:
    dag = _dag(tmp_path)
    load = 2.0  # a large value built quickly
    plan = make_plan(dag, _model(dag, compute=0.1, load=load))
    assert load - 0.3 > REUSE_MARGIN_SECONDS
    assert plan.states() == {"a": COMPUTE, "b": COMPUTE, "out": COMPUTE}
    assert "cheaper than loading" in plan.nodes["out"].reason


def test_an_intermediate_gets_no_margin(tmp_path: Path) -> None:
    dag = _dag(tmp_path)
    keys = {n.name: n.key for n in dag}
    model = CostModel(
        by_key={k: 1e-6 for k in keys.values()},
        stored={keys["b"]: StoredObject(bytes=100, load_seconds=0.002)},
    )
    assert make_plan(dag, model).states() == {"a": COMPUTE, "b": COMPUTE, "out": COMPUTE}
