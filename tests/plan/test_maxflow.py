"""The pure-Python and scipy minimum cuts against networkx, and the int32 guard of the latter."""

from __future__ import annotations

import functools
import importlib.util
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import helixvcs.plan.maxflow as maxflow
import helixvcs.plan.optimizer as optimizer
from helixvcs.plan.maxflow import INT32_MAX, minimum_cut
from helixvcs.plan.optimizer import is_legal, optimal_states, plan_cost

PYTHON, SCIPY = 10**9, 0  # values of scipy_min_nodes that choose each solver


@st.composite
def networks(draw):
    """Random directed graphs, self-loops, parallel and unbounded edges included."""
    n = draw(st.integers(min_value=2, max_value=9))
    node = st.integers(0, n - 1)
    edges = draw(st.lists(st.tuples(node, node, st.integers(0, 30)), max_size=30))
    unbounded = draw(st.lists(st.tuples(node, node), max_size=6))
    source, sink = draw(st.lists(node, min_size=2, max_size=2, unique=True))
    return n, edges, source, sink, unbounded


def networkx_cut(n, edges, source, sink, unbounded):
    """networkx's minimum cut of the same network: parallel edges summed, no capacity
    attribute on an unbounded edge (networkx's infinite)."""
    capacity: dict[tuple[int, int], int] = {}
    for u, v, c in edges:
        capacity[u, v] = capacity.get((u, v), 0) + c
    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    g.add_edges_from((u, v, {"capacity": c}) for (u, v), c in capacity.items())
    for u, v in unbounded:
        g.add_edge(u, v)
        g[u][v].pop("capacity", None)
    return nx.minimum_cut(g, source, sink)


def crossing(edges, side, unbounded):
    assert not any(u in side and v not in side for u, v in unbounded)
    return sum(c for u, v, c in edges if u in side and v not in side)


@pytest.mark.parametrize("solver", [PYTHON, SCIPY], ids=["python", "scipy"])
@settings(max_examples=1000, deadline=None)
@given(network=networks())
def test_cut_value_and_partition_match_networkx(solver, network):
    n, edges, source, sink, unbounded = network
    try:
        value, (side, _) = networkx_cut(*network)
    except nx.NetworkXUnbounded:
        with pytest.raises(ValueError, match="unbounded path"):
            minimum_cut(n, edges, source, sink, unbounded, scipy_min_nodes=solver)
        return
    cut = minimum_cut(n, edges, source, sink, unbounded, scipy_min_nodes=solver)
    assert cut.value == value
    assert source in cut.source_side and sink not in cut.source_side
    assert crossing(edges, cut.source_side, unbounded) == cut.value
    # The largest source side, the one networkx returns: the same plans, ties included.
    assert cut.source_side == side


@pytest.mark.parametrize("solver", [PYTHON, SCIPY], ids=["python", "scipy"])
def test_flow_sent_the_short_way_first_is_cancelled(solver):
    """s -> a -> {c, d} -> t and s -> b -> c: the first phase sends a's unit through c
    (a's first edge), which blocks b; the second must push it back along c -> a."""
    s, a, b, c, d, t = range(6)
    edges = [(s, a, 1), (s, b, 1), (a, c, 1), (a, d, 1), (b, c, 1), (c, t, 1), (d, t, 1)]
    cut = minimum_cut(6, edges, s, t, scipy_min_nodes=solver)
    assert cut == (2, frozenset({s, a, b, c, d}))


def test_the_source_side_is_the_largest_minimum_cut():
    """s -> a -> t with equal capacities: {s} and {s, a} are both minimum cuts."""
    assert minimum_cut(3, [(0, 1, 5), (1, 2, 5)], 0, 2).source_side == {0, 1}


@functools.cache
def _planning_benchmark():
    """benchmarks/planning.py, for its random layered DAGs (benchmarks is no package)."""
    path = Path(__file__).parents[2] / "benchmarks" / "planning.py"
    spec = importlib.util.spec_from_file_location("helix_planning_benchmark", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _networkx_minimum_cut(nodes, edges, source, sink, unbounded=(), **_):
    value, (side, _) = networkx_cut(nodes, edges, source, sink, unbounded)
    return maxflow.Cut(value, frozenset(side))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_plans_on_the_benchmark_dags_match_networkx(seed, monkeypatch):
    dag = _planning_benchmark().synthetic_dag(1_000, seed)
    problem = (dag.parents, dag.outputs, dag.compute, dag.load)
    states = optimal_states(*problem)
    monkeypatch.setattr(optimizer, "minimum_cut", _networkx_minimum_cut)
    reference = optimal_states(*problem)
    assert is_legal(states, dag.parents, dag.outputs, dag.load)
    assert plan_cost(states, dag.compute, dag.load) == pytest.approx(
        plan_cost(reference, dag.compute, dag.load), abs=1e-6
    )
    assert states == reference


@st.composite
def tied_problems(draw):
    """Small OPT-EXEC-PLAN instances with costs of 0-3 s, so that equal-cost plans abound."""
    n = draw(st.integers(min_value=1, max_value=10))
    names = [f"n{i}" for i in range(n)]
    parents = {name: [p for p in names[:i] if draw(st.booleans())] for i, name in enumerate(names)}
    outputs = [name for name in names if draw(st.integers(0, 3)) == 0] or [names[-1]]
    cost = st.integers(0, 3)
    compute = {name: draw(cost) for name in names}
    load = {name: draw(st.one_of(st.none(), cost)) for name in names}
    return parents, outputs, compute, load


@settings(max_examples=1000, deadline=None)
@given(problem=tied_problems())
def test_plans_with_ties_match_networkx(problem):
    """The same plan as the networkx cut, not only one as cheap, for both solvers."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(optimizer, "minimum_cut", _networkx_minimum_cut)
        reference = optimal_states(*problem)
    assert optimal_states(*problem) == reference
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(maxflow, "SCIPY_MIN_NODES", 0)
        patch.setattr(maxflow, "SCIPY_MIN_NODES_TO_IMPORT", 0)
        assert optimal_states(*problem) == reference


def _spy_on_scipy(monkeypatch) -> list[bool]:
    """Record whether each call of the scipy solver returned a cut (or declined)."""
    answers: list[bool] = []
    solve = maxflow._scipy_source_side

    def spy(*args):
        side = solve(*args)
        answers.append(side is not None)
        return side

    monkeypatch.setattr(maxflow, "_scipy_source_side", spy)
    return answers


def test_the_scipy_path_gives_the_same_plan_on_a_benchmark_dag(monkeypatch):
    dag = _planning_benchmark().synthetic_dag(1_000, 3)
    compute = {n: c / 10 for n, c in dag.compute.items()}  # every capacity fits in int32
    load = {n: None if c is None else c / 10 for n, c in dag.load.items()}
    problem = (dag.parents, dag.outputs, compute, load)
    python = optimal_states(*problem)
    monkeypatch.setattr(maxflow, "SCIPY_MIN_NODES", 0)
    monkeypatch.setattr(maxflow, "SCIPY_MIN_NODES_TO_IMPORT", 0)
    answers = _spy_on_scipy(monkeypatch)
    assert optimal_states(*problem) == python
    assert answers == [True]


def _python_cut(nodes, edges, source, sink):
    return minimum_cut(nodes, edges, source, sink, scipy_min_nodes=PYTHON)


@pytest.mark.parametrize(
    "edges",
    [
        # one capacity wider than int32: cast to int32 it would wrap to 3 and to 1
        [(0, 1, 2**32 + 3), (1, 2, 2**32 + 1), (0, 2, 7)],
        # each fits, but a residual can grow to c(1, 2) + c(2, 1)
        [(0, 1, INT32_MAX), (1, 2, 2**30 + 5), (2, 1, 2**30), (2, 3, INT32_MAX), (0, 3, 1)],
        # parallel edges that fit one by one but not summed
        [(0, 1, INT32_MAX), (0, 1, 2), (1, 2, INT32_MAX), (1, 2, 9)],
    ],
    ids=["capacity", "edge-and-reverse", "parallel"],
)
def test_scipy_declines_capacities_beyond_int32(edges, monkeypatch):
    nodes, sink = 1 + max(max(u, v) for u, v, _ in edges), max(v for _, v, _ in edges)
    answers = _spy_on_scipy(monkeypatch)
    assert minimum_cut(nodes, edges, 0, sink, scipy_min_nodes=SCIPY) == _python_cut(
        nodes, edges, 0, sink
    )
    assert answers == [False]


def test_scipy_takes_capacities_at_the_int32_limit(monkeypatch):
    edges = [(0, 1, INT32_MAX), (1, 2, INT32_MAX - 1), (0, 2, 0)]
    answers = _spy_on_scipy(monkeypatch)
    cut = minimum_cut(3, edges, 0, 2, scipy_min_nodes=SCIPY)
    assert cut == _python_cut(3, edges, 0, 2)
    assert cut.value == INT32_MAX - 1
    assert answers == [True]


def test_an_hour_long_operator_is_planned_in_python_when_scipy_is_forced(monkeypatch):
    """An hour is 3.6e9 us, past int32: the optimizer's network must not reach scipy."""
    parents = {"a": [], "b": ["a"], "c": ["b"]}
    compute = {"a": 3600.0, "b": 3600.0, "c": 1.0}
    load = {"a": None, "b": 2.0, "c": None}
    monkeypatch.setattr(maxflow, "SCIPY_MIN_NODES", 0)
    monkeypatch.setattr(maxflow, "SCIPY_MIN_NODES_TO_IMPORT", 0)
    answers = _spy_on_scipy(monkeypatch)
    assert optimal_states(parents, ["c"], compute, load) == {
        "a": "prune",
        "b": "load",
        "c": "compute",
    }
    assert answers == [False]


@pytest.mark.parametrize("imported", [True, False])
def test_scipy_is_imported_for_larger_networks_only(imported, monkeypatch):
    """Importing scipy.sparse.csgraph costs more than it saves on all but huge networks."""
    if not imported:
        monkeypatch.delitem(sys.modules, "scipy.sparse.csgraph", raising=False)
    else:
        import scipy.sparse.csgraph  # noqa: F401
    monkeypatch.setattr(maxflow, "SCIPY_MIN_NODES", 4)
    monkeypatch.setattr(maxflow, "SCIPY_MIN_NODES_TO_IMPORT", 5)
    answers = _spy_on_scipy(monkeypatch)
    minimum_cut(4, [(0, 1, 2), (1, 2, 1), (2, 3, 3)], 0, 3)
    assert answers == ([True] if imported else [])
    minimum_cut(5, [(0, 1, 2), (1, 2, 1), (2, 3, 3)], 0, 3)
    assert answers == ([True, True] if imported else [True])


def test_without_scipy_the_python_solver_answers(monkeypatch):
    edges = [(0, 1, 4), (1, 2, 3), (0, 2, 1)]
    monkeypatch.setitem(sys.modules, "scipy.sparse.csgraph", None)  # import fails
    answers = _spy_on_scipy(monkeypatch)
    assert minimum_cut(3, edges, 0, 2, scipy_min_nodes=SCIPY) == (4, frozenset({0, 1}))
    assert answers == [False]


@pytest.mark.parametrize("edges", [[(0, 1, -1)], [(0, 1, 1.5)]], ids=["negative", "fractional"])
def test_capacities_must_be_integers_at_least_zero(edges):
    with pytest.raises(ValueError, match="capacity"):
        minimum_cut(2, edges, 0, 1)


CHILD = """\
import sys

from helixvcs.plan.optimizer import optimal_states

states = optimal_states({"a": [], "b": ["a"]}, ["b"], {"a": 2, "b": 1}, {"a": 1, "b": None})
assert states == {"a": "load", "b": "compute"}, states
print(sorted(m for m in ("networkx", "numpy", "scipy") if m in sys.modules))
"""


def test_planning_imports_neither_networkx_nor_numpy():
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def _stair(steps: int) -> tuple[int, list[tuple[int, int, int]], int, int]:
    """s feeds every node of a chain that drains to t at its end: the augmenting paths
    come in every length from 2 to ``steps + 1``, and Dinic needs a phase for each."""
    source, sink = steps, steps + 1
    edges = [(i, i + 1, 10**6) for i in range(steps - 1)]
    edges += [(source, i, 1) for i in range(steps)] + [(steps - 1, sink, 10**6)]
    return steps + 2, edges, source, sink


def test_a_network_that_needs_many_phases_is_handed_to_scipy_with_the_same_cut(monkeypatch):
    nodes, edges, source, sink = _stair(60)
    python = _python_cut(nodes, edges, source, sink)
    assert python.value == 60
    monkeypatch.setattr(maxflow, "_scipy_imported", lambda: False)
    monkeypatch.setattr(maxflow, "SCIPY_MIN_NODES", 10)
    monkeypatch.setattr(maxflow, "DINIC_WORK_BEFORE_IMPORT", 1_000)
    answers = _spy_on_scipy(monkeypatch)
    assert minimum_cut(nodes, edges, source, sink) == python
    assert answers == [True]


def test_a_network_solved_in_a_few_phases_never_imports_scipy(monkeypatch):
    nodes, edges, source, sink = _stair(60)
    monkeypatch.setattr(maxflow, "_scipy_imported", lambda: False)
    monkeypatch.setattr(maxflow, "SCIPY_MIN_NODES", 10)
    answers = _spy_on_scipy(monkeypatch)  # the default budget is far from spent
    assert minimum_cut(nodes, edges, source, sink) == _python_cut(nodes, edges, source, sink)
    assert answers == []
