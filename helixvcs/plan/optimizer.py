"""OPT-EXEC-PLAN: the cheapest legal compute / load / prune assignment, exactly.

Given a DAG, the outputs it must produce, a compute cost per node and a load cost for
the nodes whose value is stored, assign each node one state so that

* every output is computed or loaded,
* a computed node has every parent computed or loaded (none pruned),
* only a stored node can be loaded,

minimising the sum of compute costs of computed nodes plus load costs of loaded nodes.

Reduction (project selection / minimum-weight closure): two items per node,
``X_n`` (n's value is present: computed or loaded) and ``C_n`` (n is computed), with
implications ``C_n -> X_n``, ``C_n -> X_p`` for each parent p, ``X_n -> C_n`` when n is not
stored, and every output's ``X`` forced. With weights ``w(X_n) = load_n`` and
``w(C_n) = compute_n - load_n`` the cost of a plan is the weight of its closed set, and a
minimum-weight closure is a minimum s-t cut: positive weights are edges to the sink,
negative weights edges from the source, implications infinite edges.

         s --(-w)--> item --(+w)--> t        a -> b  (a chosen implies b chosen): inf
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

COMPUTE, LOAD, PRUNE = "compute", "load", "prune"
_INF = float("inf")


def optimal_states(
    parents: Mapping[str, Sequence[str]],
    outputs: Iterable[str],
    compute_cost: Mapping[str, float],
    load_cost: Mapping[str, float | None],
) -> dict[str, str]:
    """Solve OPT-EXEC-PLAN; ``load_cost[n] is None`` (or missing) means n is not stored."""
    import networkx as nx

    g = nx.DiGraph()
    g.add_nodes_from(["s", "t"])
    for n in parents:
        stored = load_cost.get(n) is not None
        lc = float(load_cost[n]) if stored else 0.0  # type: ignore[arg-type]
        _weight(g, ("X", n), lc)
        _weight(g, ("C", n), float(compute_cost[n]) - lc)
        _implies(g, ("C", n), ("X", n))
        for p in parents[n]:
            _implies(g, ("C", n), ("X", p))
        if not stored:
            _implies(g, ("X", n), ("C", n))
    for o in outputs:
        g.add_edge("s", ("X", o), capacity=_INF)
    _, (chosen, _) = nx.minimum_cut(g, "s", "t")
    states = {}
    for n in parents:
        if ("C", n) in chosen:
            states[n] = COMPUTE
        elif ("X", n) in chosen:
            states[n] = LOAD
        else:
            states[n] = PRUNE
    return states


def _weight(g: object, item: tuple[str, str], w: float) -> None:
    g.add_node(item)  # type: ignore[attr-defined]
    if w > 0:
        g.add_edge(item, "t", capacity=w)  # type: ignore[attr-defined]
    elif w < 0:
        g.add_edge("s", item, capacity=-w)  # type: ignore[attr-defined]


def _implies(g: object, a: tuple[str, str], b: tuple[str, str]) -> None:
    g.add_edge(a, b, capacity=_INF)  # type: ignore[attr-defined]


def plan_cost(
    states: Mapping[str, str],
    compute_cost: Mapping[str, float],
    load_cost: Mapping[str, float | None],
) -> float:
    total = 0.0
    for n, state in states.items():
        if state == COMPUTE:
            total += compute_cost[n]
        elif state == LOAD:
            total += load_cost[n] or 0.0
    return total


def is_legal(
    states: Mapping[str, str],
    parents: Mapping[str, Sequence[str]],
    outputs: Iterable[str],
    load_cost: Mapping[str, float | None],
) -> bool:
    """The constraints of OPT-EXEC-PLAN, for tests and assertions."""
    if any(states[o] == PRUNE for o in outputs):
        return False
    for n, state in states.items():
        if state == LOAD and load_cost.get(n) is None:
            return False
        if state == COMPUTE and any(states[p] == PRUNE for p in parents[n]):
            return False
    return True
