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

``helixvcs.plan.maxflow`` cuts it exactly, without networkx (~85 ms to import per run).
Of the minimum cuts it returns the one with the largest source side, as networkx did, so
ties are broken as before: the plan computes every node that some cheapest plan computes,
and loads every other node that some cheapest plan loads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from helixvcs.plan.maxflow import minimum_cut

COMPUTE, LOAD, PRUNE = "compute", "load", "prune"


def optimal_states(
    parents: Mapping[str, Sequence[str]],
    outputs: Iterable[str],
    compute_cost: Mapping[str, float],
    load_cost: Mapping[str, float | None],
) -> dict[str, str]:
    """Solve OPT-EXEC-PLAN; ``load_cost[n] is None`` (or missing) means n is not stored.

    Two reductions keep the flow network small: only outputs and their ancestors can be
    anything but pruned, and a node that is not stored has ``X_n == C_n``, so it is one
    item of weight ``compute_n``.
    """
    targets = list(dict.fromkeys(outputs))
    if all(_loading_is_cheaper(o, compute_cost, load_cost) for o in targets):
        # The common unchanged iteration, solved without a flow network: every plan
        # produces each output by computing or loading it, so it costs at least the sum
        # of min(compute, load) over the outputs, which loading them all achieves.
        states = dict.fromkeys(parents, PRUNE)
        states.update(dict.fromkeys(targets, LOAD))
        return states

    relevant = _ancestors_and_self(parents, targets)
    stored = [n for n in relevant if load_cost.get(n) is not None]
    x_item = {n: i for i, n in enumerate(relevant)}  # X_n; also C_n when n is not stored
    c_item = {n: len(x_item) + i for i, n in enumerate(stored)}
    source = len(x_item) + len(c_item)
    sink = source + 1
    # Capacities in whole microseconds: with float capacities (65.0 - 64.8 is not 0.2)
    # the solver's residual graph can put a node on the wrong side of a correct cut.
    edges: list[tuple[int, int, int]] = []
    for n in relevant:
        if n in c_item:
            lc = _micro(load_cost[n])  # type: ignore[arg-type]
            edges += _weight(x_item[n], lc, source, sink)
            edges += _weight(c_item[n], _micro(compute_cost[n]) - lc, source, sink)
        else:
            edges += _weight(x_item[n], _micro(compute_cost[n]), source, sink)
    implications = [(source, x_item[o]) for o in targets]
    for n in relevant:
        c = c_item.get(n, x_item[n])
        if n in c_item:
            implications.append((c, x_item[n]))
        implications += [(c, x_item[p]) for p in parents[n]]
    chosen = minimum_cut(sink + 1, edges, source, sink, implications).source_side
    states = dict.fromkeys(parents, PRUNE)
    for n in relevant:
        if c_item.get(n, x_item[n]) in chosen:
            states[n] = COMPUTE
        elif x_item[n] in chosen:
            states[n] = LOAD
    return states


def _loading_is_cheaper(
    node: str, compute_cost: Mapping[str, float], load_cost: Mapping[str, float | None]
) -> bool:
    load = load_cost.get(node)
    return load is not None and load < compute_cost[node]


def _ancestors_and_self(parents: Mapping[str, Sequence[str]], targets: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    stack = list(targets)
    while stack:
        n = stack.pop()
        if n not in seen:
            seen[n] = None
            stack.extend(parents[n])
    return list(seen)


def _micro(seconds: float) -> int:
    return round(float(seconds) * 1_000_000)


def _weight(item: int, w: int, source: int, sink: int) -> list[tuple[int, int, int]]:
    if w > 0:
        return [(item, sink, w)]
    if w < 0:
        return [(source, item, -w)]
    return []


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
