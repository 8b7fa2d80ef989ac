"""OPT-EXEC-PLAN by min-cut against exhaustive search on random DAGs."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from helixvcs.plan.optimizer import COMPUTE, LOAD, PRUNE, is_legal, optimal_states, plan_cost


@st.composite
def problems(draw):
    n = draw(st.integers(min_value=1, max_value=10))
    names = [f"n{i}" for i in range(n)]
    parents = {name: [p for p in names[:i] if draw(st.booleans())] for i, name in enumerate(names)}
    outputs = [name for name in names if draw(st.integers(0, 3)) == 0] or [names[-1]]
    cost = st.floats(min_value=0, max_value=100, allow_nan=False).map(lambda x: round(x, 2))
    compute = {name: draw(cost) for name in names}
    load = {name: draw(st.one_of(st.none(), cost)) for name in names}
    return parents, outputs, compute, load


def brute_force(parents, outputs, compute, load) -> float:
    """Exhaustive over every set C of computed nodes (2^n of them).

    For a given C the cheapest legal assignment loads exactly the outputs and parents of C
    that are not computed (loading more only adds cost), so the minimum over all C is the
    minimum over all 3^n assignments.
    """
    names = list(parents)
    best = float("inf")
    for mask in range(1 << len(names)):
        computed = {n for i, n in enumerate(names) if mask >> i & 1}
        needed = set(outputs) | {p for n in computed for p in parents[n]}
        loaded = needed - computed
        if any(load[n] is None for n in loaded):
            continue
        best = min(best, sum(compute[n] for n in computed) + sum(load[n] for n in loaded))
    return best


def brute_force_all_states(parents, outputs, compute, load) -> float:
    names = list(parents)
    best = float("inf")
    for combo in itertools.product((COMPUTE, LOAD, PRUNE), repeat=len(names)):
        states = dict(zip(names, combo, strict=True))
        if is_legal(states, parents, outputs, load):
            best = min(best, plan_cost(states, compute, load))
    return best


@settings(max_examples=2000, deadline=None)
@given(problems())
def test_min_cut_matches_exhaustive_search(problem):
    parents, outputs, compute, load = problem
    states = optimal_states(parents, outputs, compute, load)
    assert is_legal(states, parents, outputs, load)
    best = brute_force(parents, outputs, compute, load)
    assert abs(plan_cost(states, compute, load) - best) < 1e-6


@settings(max_examples=300, deadline=None)
@given(problems().filter(lambda p: len(p[0]) <= 6))
def test_the_computed_set_search_is_exhaustive(problem):
    """The fast brute force agrees with enumerating all 3^n assignments."""
    assert abs(brute_force(*problem) - brute_force_all_states(*problem)) < 1e-6


def test_cheap_to_load_expensive_upstream_is_loaded_and_ancestors_pruned():
    parents = {"a": [], "b": ["a"], "c": ["b"]}
    states = optimal_states(
        parents, ["c"], {"a": 10, "b": 10, "c": 1}, {"a": None, "b": 0.1, "c": None}
    )
    assert states == {"a": PRUNE, "b": LOAD, "c": COMPUTE}


def test_cheap_to_compute_but_large_to_load_is_recomputed_from_loaded_parent():
    parents = {"a": [], "b": ["a"], "c": ["b"]}
    compute = {"a": 10, "b": 0.1, "c": 1}
    load = {"a": 0.2, "b": 5.0, "c": None}
    assert optimal_states(parents, ["c"], compute, load) == {"a": LOAD, "b": COMPUTE, "c": COMPUTE}


def _outputs_cheaper_to_load(problem):
    parents, outputs, compute, load = problem
    load = dict(load)
    compute = dict(compute)
    for o in outputs:
        compute[o] = compute[o] + 1.0
        load[o] = round(compute[o] / 2, 2)
    return parents, outputs, compute, load


@settings(max_examples=500, deadline=None)
@given(problems().map(_outputs_cheaper_to_load))
def test_the_unchanged_iteration_shortcut_is_optimal(problem):
    """Every output stored and cheaper to load than to compute: load them, prune the rest
    (solved without building the flow network), and no plan is cheaper."""
    parents, outputs, compute, load = problem
    states = optimal_states(parents, outputs, compute, load)
    assert {n for n, s in states.items() if s != PRUNE} == set(outputs)
    assert abs(plan_cost(states, compute, load) - brute_force(*problem)) < 1e-6


def test_float_costs_that_do_not_subtract_exactly_still_give_a_legal_plan():
    """Found by hypothesis: with float capacities (65.0 - 64.8 != 0.2) the flow solver put
    output n6 on the sink side of a correct cut, and the plan pruned an output."""
    parents = {"n3": [], "n4": ["n3"], "n5": ["n4"], "n6": ["n3"], "n9": ["n5"], "n0": []}
    outputs = ["n0", "n4", "n5", "n6", "n9"]
    compute = {"n0": 0.0, "n3": 65.0, "n4": 59.88, "n5": 0.0, "n6": 1.0, "n9": 0.0}
    load = {"n0": None, "n3": 64.8, "n4": 60.0, "n5": None, "n6": None, "n9": None}
    states = optimal_states(parents, outputs, compute, load)
    assert is_legal(states, parents, outputs, load)
    assert states["n6"] == COMPUTE and states["n3"] == LOAD
    assert (
        abs(plan_cost(states, compute, load) - brute_force(parents, outputs, compute, load)) < 1e-6
    )
