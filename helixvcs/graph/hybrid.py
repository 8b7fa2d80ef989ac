"""Hybrid workflows: one version's operators with a few taken from another version.

``blame-metric --isolate`` replays a single operator edit on top of the parent version to
measure that edit's own effect. :func:`splice` builds that workflow from two compiled
DAGs: the base's nodes, with the named nodes taken from the donor (replacing or adding),
and others dropped. Every node is then re-keyed from its parents' keys in the hybrid, with
the same rule as compilation (``hashing.node_key``), so values the store already holds
(the base's untouched ancestors, the donor's node when its inputs are the same) are
reused, and nothing computed under a hybrid's inputs is mistaken for either version's.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Mapping
from dataclasses import replace

from helixvcs.graph.dag import Dag, Node
from helixvcs.hashing import node_key


class SpliceError(ValueError):
    """The asked-for hybrid is not a valid workflow (a needed operator is missing, a cycle)."""


def splice(base: Dag, donor: Dag, take: Collection[str] = (), drop: Collection[str] = ()) -> Dag:
    """``base`` with the nodes named in ``take`` from ``donor`` and those in ``drop`` removed.

    A taken node's parents that only the donor has (operators the donor added) come along;
    a parent neither has, or one that was dropped, is a ``SpliceError``.
    """
    nodes: dict[str, Node] = {n.name: n for n in base if n.name not in drop}
    origin: dict[str, Dag] = dict.fromkeys(nodes, base)
    pending = list(take)
    while pending:
        name = pending.pop()
        if name not in donor.nodes:
            raise SpliceError(f"{name} is not an operator of the other version")
        nodes[name], origin[name] = donor[name], donor
        for parent in donor[name].parents:
            if parent not in nodes and parent in donor.nodes and parent not in base.nodes:
                pending.append(parent)
    for node in nodes.values():
        missing = [p for p in node.parents if p not in nodes]
        if missing:
            raise SpliceError(f"{node.name} needs {', '.join(missing)}, which this hybrid lacks")
    order = _order(nodes, [*base.nodes, *donor.nodes])
    keyed: dict[str, Node] = {}
    for name in order:
        node = nodes[name]
        parent_keys = [keyed[p].key for p in node.parents]
        if parent_keys != [origin[name][p].key for p in node.parents]:
            node = replace(node, key=rekey(node, parent_keys))
        keyed[name] = node
    return Dag(workflow=base.workflow, root=base.root, module_file=base.module_file, nodes=keyed)


def rekey(node: Node, parent_keys: list[str]) -> str:
    """The key ``node`` has when its parents' keys are ``parent_keys``."""
    return node_key(node.kind, node.code.hash, node.constants, parent_keys, node.extra)


def _order(nodes: Mapping[str, Node], preference: list[str]) -> list[str]:
    """Topological order; among ready nodes, the earliest in ``preference`` first."""
    rank = {name: i for i, name in reversed(list(enumerate(preference)))}
    pending = {name: len(set(n.parents)) for name, n in nodes.items()}
    children: dict[str, list[str]] = {name: [] for name in nodes}
    for name, n in nodes.items():
        for p in dict.fromkeys(n.parents):
            children[p].append(name)
    ready = [(rank[name], name) for name, count in pending.items() if count == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, name = heapq.heappop(ready)
        order.append(name)
        for child in children[name]:
            pending[child] -= 1
            if pending[child] == 0:
                heapq.heappush(ready, (rank[child], child))
    if len(order) < len(nodes):
        stuck = sorted(set(nodes) - set(order))
        raise SpliceError(f"the hybrid has a cycle through {', '.join(stuck)}")
    return order
