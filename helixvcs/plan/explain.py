"""``make_plan``: the optimizer's states for a compiled DAG, each with its reason in words."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from helixvcs.graph import Dag, Node
from helixvcs.graph.diff import part_causes
from helixvcs.plan.costs import CostModel
from helixvcs.plan.materialize import Upstream
from helixvcs.plan.optimizer import COMPUTE, LOAD, optimal_states, plan_cost

REUSE_MARGIN_SECONDS = 0.05
"""A stored output is reused unless recomputing it (with what it needs) is cheaper by more
than this: a rerun of unchanged code should compute nothing, and a few milliseconds either
way are below the noise of one measurement (a first load in a process also pays for
importing its codec). An output much cheaper to recompute than to load (a large value
built quickly) is still recomputed."""


@dataclass(frozen=True)
class PreviousOperator:
    """What the last run knew about an operator, to say what changed."""

    key: str
    parts: Mapping[str, str]


@dataclass(frozen=True)
class NodePlan:
    name: str
    key: str
    state: str
    reason: str
    compute_cost: float
    load_cost: float | None
    changed: bool
    compute_source: str = "default guess"  # "measured", "same operator, earlier code", ...
    load_source: str | None = None  # "measured", "estimated from bytes", "in memory"


@dataclass(frozen=True)
class Plan:
    nodes: Mapping[str, NodePlan]
    estimated_seconds: float

    def states(self) -> dict[str, str]:
        return {n: p.state for n, p in self.nodes.items()}

    def count(self, state: str) -> int:
        return sum(1 for p in self.nodes.values() if p.state == state)


def make_plan(
    dag: Dag,
    model: CostModel,
    previous: Mapping[str, PreviousOperator] | None = None,
    outputs: Sequence[str] | None = None,
) -> Plan:
    """The optimal plan for producing ``outputs`` (default: the workflow's outputs)."""
    targets = tuple(dag.outputs if outputs is None else outputs)
    parents = dag.parents()
    compute, load = model.costs((n.name, n.key) for n in dag)
    states = optimal_states(parents, targets, compute, _reuse_outputs(load, targets))
    needed = _needed(dag, targets)
    changes = describe_changes(dag, previous or {})
    upstream = Upstream(parents, compute, set())  # with every ancestor recomputed
    nodes = {}
    for node in dag:
        state = states[node.name]
        change = changes[node.name]
        if state == COMPUTE:
            reason = _compute_reason(node, change, load[node.name], compute[node.name])
        elif state == LOAD:
            full = upstream.recompute_seconds(node.name)
            what = "unchanged" if change is None else "stored from an earlier version"
            cost = load[node.name] or 0.0
            reason = (
                f"{what} output, reused: loading it ({cost:.2g} s) costs about what "
                f"recomputing it does ({full:.2g} s with ancestors)"
                if full < cost
                else f"{what}, loaded ({cost:.2g} s) instead of recomputing ({full:.2g} s "
                "with ancestors)"
            )
        else:
            reason = (
                "pruned: a loaded descendant covers it"
                if node.name in needed
                else "pruned: no output needs it"
            )
        nodes[node.name] = NodePlan(
            name=node.name,
            key=node.key,
            state=state,
            reason=reason,
            compute_cost=compute[node.name],
            load_cost=load[node.name],
            changed=change is not None,
            compute_source=model.compute_source(node.name, node.key),
            load_source=model.load_source(node.key),
        )
    return Plan(nodes=nodes, estimated_seconds=plan_cost(states, compute, load))


def _reuse_outputs(
    load: Mapping[str, float | None], outputs: Sequence[str]
) -> dict[str, float | None]:
    """Load costs as the optimizer sees them: a stored output's lowered by the reuse margin."""
    priced = dict(load)
    for name in outputs:
        cost = priced.get(name)
        if cost is not None:
            priced[name] = max(cost - REUSE_MARGIN_SECONDS, 0.0)
    return priced


def _compute_reason(node: Node, change: str | None, load: float | None, compute: float) -> str:
    if load is not None:
        return f"stored, but recomputing ({compute:.2g} s) is cheaper than loading ({load:.2g} s)"
    if change is not None:
        return change
    return "unchanged, but not stored"


def describe_changes(dag: Dag, previous: Mapping[str, PreviousOperator]) -> dict[str, str | None]:
    """Per operator: None when its key is the previous run's, else what differs, in words."""
    changes: dict[str, str | None] = {}
    for node in dag:
        changes[node.name] = _describe(node, previous, changes)
    return changes


def _describe(
    node: Node, previous: Mapping[str, PreviousOperator], upstream: Mapping[str, str | None]
) -> str | None:
    if not previous:
        return "new: no earlier run"
    before = previous.get(node.name)
    if before is None:
        return f"new operator {node.name}"
    if before.key == node.key:
        return None
    causes = part_causes(before.parts, node.parts)
    if causes:
        return "changed: " + ", ".join(f"{c} of {node.name}" if c == "body" else c for c in causes)
    moved = [p for p in node.parents if upstream.get(p) is not None]
    if moved:
        return "upstream changed: " + ", ".join(moved)
    return "changed: inputs or constants"


def _needed(dag: Dag, outputs: Sequence[str]) -> set[str]:
    """Outputs and all their ancestors."""
    result: set[str] = set()
    for out in outputs:
        result.add(out)
        result |= dag.ancestors(out)
    return result
