"""Exact minimum s-t cuts with integer capacities, in pure Python (scipy for large graphs).

The optimizer's flow networks are small for a real workflow and reach tens of thousands of
nodes only for synthetic ones, so the default solver is Dinic's algorithm over flat lists,
which needs no import at all (networkx took ~85 ms to import, and its preflow-push
~0.65 s on a 10,000-node DAG). On large networks ``scipy.sparse.csgraph`` computes the
flow instead, imported lazily, and only when every residual capacity fits in its int32:
scipy casts wider capacities to int32 without a word, and a cut computed from a wrapped
capacity would be wrong without a sign, so wider networks stay in pure Python.

Unbounded edges (the implications of a closure problem) get the capacity ``1 + bound``,
where ``bound`` is the capacity of a cut with no unbounded edge: then a cut that crosses
an unbounded edge costs more than that cut, so the minimum cuts are exactly those of the
network with truly infinite edges; the cut around the sink, when it is one, keeps the
number smaller than the sum of all capacities would (and inside int32 more often).

Both solvers return the same source side, ``V \\ {nodes that reach t in the residual
graph}``: the largest source side among the minimum cuts. It is the same for every maximum
flow, and it is what ``networkx.minimum_cut`` returns, so plans (ties included) are the
ones networkx gave; the nodes reachable from s would be the smallest source side instead.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

INT32_MAX = 2**31 - 1
# Measured on benchmarks/planning.py's DAGs (about 1.5 flow nodes per operator): scipy's
# Dinic is ~1.5x faster at 3,000 flow nodes and ~2x at 150,000, but importing
# scipy.sparse.csgraph (and numpy) costs 0.15-0.3 s, which it saves only on ~75,000 nodes.
# A workflow that uses scikit-learn has imported it already.
SCIPY_MIN_NODES = 3_000
SCIPY_MIN_NODES_TO_IMPORT = 75_000
DINIC_WORK_BEFORE_IMPORT = 1_000_000
"""Residual edges that pure-Python phases may scan, in all, on a network of
``SCIPY_MIN_NODES`` or more before scipy is imported to solve it instead. Dinic needs one
phase per length of augmenting path: few on most plans, but one per stored value along
a long chain (10,000 operators with ~170 stored: 43 phases, ~1 s), which scipy solves
in milliseconds once imported."""


class Cut(NamedTuple):
    value: int
    source_side: frozenset[int]


def minimum_cut(
    nodes: int,
    edges: Iterable[tuple[int, int, int]],
    source: int,
    sink: int,
    unbounded: Iterable[tuple[int, int]] = (),
    *,
    scipy_min_nodes: int | None = None,
) -> Cut:
    """A minimum ``source``-``sink`` cut of the network on nodes ``0 .. nodes - 1``.

    ``edges`` are ``(u, v, capacity)`` with integer capacities >= 0, ``unbounded`` are
    ``(u, v)`` edges of infinite capacity; parallel edges add up. Raises ``ValueError``
    when an unbounded path joins source to sink (every cut is infinite).
    ``scipy_min_nodes`` overrides the size from which scipy solves (tests force it).
    """
    if not (0 <= source < nodes and 0 <= sink < nodes) or source == sink:
        raise ValueError(f"source {source} and sink {sink}: two distinct nodes of {nodes}")
    finite = list(edges)
    infinite = list(unbounded)
    for u, v, c in finite:
        if not isinstance(c, int) or c < 0:
            raise ValueError(f"edge {u} -> {v}: capacity {c!r} is not an integer >= 0")
    big = 1 + _finite_cut_bound(finite, infinite, source, sink)
    network = finite + [(u, v, big) for u, v in infinite]
    later: Callable[[], set[int] | None] | None = None
    if scipy_min_nodes is None:
        imported = _scipy_imported()
        scipy_min_nodes = SCIPY_MIN_NODES if imported else SCIPY_MIN_NODES_TO_IMPORT
        if nodes >= SCIPY_MIN_NODES:  # worth importing scipy if the phases go on and on

            def later() -> set[int] | None:
                return _scipy_source_side(nodes, network, source, sink)

    side = None
    if nodes >= scipy_min_nodes:
        side = _scipy_source_side(nodes, network, source, sink)
        later = None
    if side is None:
        side = _dinic_source_side(nodes, network, source, sink, later)
    value = sum(c for u, v, c in network if u in side and v not in side)
    if value >= big:
        raise ValueError("an unbounded path joins source to sink: no finite cut")
    return Cut(value, frozenset(side))


def _scipy_imported() -> bool:
    return "scipy.sparse.csgraph" in sys.modules


def _finite_cut_bound(
    finite: Sequence[tuple[int, int, int]],
    infinite: Sequence[tuple[int, int]],
    source: int,
    sink: int,
) -> int:
    """The capacity of a cut with no unbounded edge, if there is an obvious one.

    The cut around the sink, else the one around the source, else all finite capacities
    (a bound on every finite cut, so ``1 +`` it still exceeds the minimum).
    """
    if all(v != sink for _, v in infinite):
        return sum(c for _, v, c in finite if v == sink)
    if all(u != source for u, _ in infinite):
        return sum(c for u, _, c in finite if u == source)
    return sum(c for _, _, c in finite)


def _dinic_source_side(
    nodes: int,
    network: Sequence[tuple[int, int, int]],
    source: int,
    sink: int,
    later: Callable[[], set[int] | None] | None = None,
) -> set[int]:
    """Dinic's algorithm over flat lists: edge ``e`` and its reverse ``e ^ 1``. Once its
    phases have scanned ``DINIC_WORK_BEFORE_IMPORT`` edges, ``later`` (scipy) is asked
    for the same source side, once; it declines with None, and the phases go on."""
    head: list[int] = []
    residual: list[int] = []
    out: list[list[int]] = [[] for _ in range(nodes)]
    for u, v, c in network:
        if c > 0 and u != v:
            out[u].append(len(head))
            head.append(v)
            residual.append(c)
            out[v].append(len(head))
            head.append(u)
            residual.append(0)
    work = 0
    while True:
        level = _levels(out, head, residual, source, sink)
        if level[sink] < 0:
            return _not_reaching(out, head, residual, sink)
        _blocking_flow(out, head, residual, level, source, sink)
        work += len(head)
        if later is not None and work >= DINIC_WORK_BEFORE_IMPORT:
            side, later = later(), None
            if side is not None:
                return side


def _levels(
    out: list[list[int]], head: list[int], residual: list[int], source: int, sink: int
) -> list[int]:
    """Residual distance from the source (-1: unreached), by a BFS that stops at the
    sink's depth, since no shortest path goes deeper. From the source, not back from
    the sink: in the optimizer's networks most of the flow takes short paths, and the
    search from the source reaches the sink after a small part of the graph."""
    level = [-1] * len(out)
    level[source] = 0
    frontier = [source]
    depth = 0
    while frontier and level[sink] < 0:
        depth += 1
        reached = []
        for u in frontier:
            for e in out[u]:
                v = head[e]
                if level[v] < 0 and residual[e]:
                    level[v] = depth
                    reached.append(v)
        frontier = reached
    return level


def _blocking_flow(
    out: list[list[int]],
    head: list[int],
    residual: list[int],
    level: list[int],
    source: int,
    sink: int,
) -> None:
    """Augment along shortest residual paths until none is left (one Dinic phase).

    Iterative, with a current-edge pointer per node; a dead end gets level -1 so that
    no other path of this phase enters it.
    """
    pointer = [0] * len(out)
    path: list[int] = []
    u = source
    while True:
        if u == sink:
            pushed = min(residual[e] for e in path)
            saturated = -1
            for i, e in enumerate(path):
                residual[e] -= pushed
                residual[e ^ 1] += pushed
                if saturated < 0 and not residual[e]:
                    saturated = i
            del path[saturated:]  # resume from the tail of the first saturated edge
            u = head[path[-1]] if path else source
            continue
        edges = out[u]
        end = len(edges)
        i = pointer[u]
        deeper = level[u] + 1
        while i < end and not (residual[edges[i]] and level[head[edges[i]]] == deeper):
            i += 1
        pointer[u] = i
        if i < end:
            path.append(edges[i])
            u = head[edges[i]]
        elif path:
            level[u] = -1
            u = head[path.pop() ^ 1]
        else:
            return


def _not_reaching(
    out: list[list[int]], head: list[int], residual: list[int], sink: int
) -> set[int]:
    """The nodes with no residual path to the sink: the largest minimum-cut source side."""
    reaches = [False] * len(out)
    reaches[sink] = True
    order = [sink]
    for v in order:
        for e in out[v]:
            u = head[e]
            if not reaches[u] and residual[e ^ 1]:
                reaches[u] = True
                order.append(u)
    return {u for u, r in enumerate(reaches) if not r}


def _scipy_source_side(
    nodes: int, network: Sequence[tuple[int, int, int]], source: int, sink: int
) -> set[int] | None:
    """``scipy.sparse.csgraph.maximum_flow``, or None when scipy is missing or too narrow.

    scipy keeps residual capacities in int32 and an edge's residual can grow to its own
    capacity plus its reverse's, so every ``c(u, v) + c(v, u)`` (parallel edges summed)
    must fit; the flow value is never read from scipy, only the flow on each edge.
    """
    if max((c for _, _, c in network), default=0) > INT32_MAX:
        return None  # decided before paying for the import
    try:
        import numpy as np
        from scipy.sparse import coo_array
        from scipy.sparse.csgraph import breadth_first_order, maximum_flow
    except ImportError:
        return None
    if not network:
        return set(range(nodes)) - {sink}
    u, v, c = (np.array(column, dtype=np.int64) for column in zip(*network, strict=True))
    keep = (c > 0) & (u != v)
    capacity = coo_array((c[keep], (u[keep], v[keep])), shape=(nodes, nodes)).tocsr()
    capacity.sum_duplicates()
    both_ways = capacity + capacity.T
    if both_ways.nnz and int(both_ways.max()) > INT32_MAX:
        return None
    flow = maximum_flow(capacity.astype(np.int32), source, sink).flow
    residual = (capacity - flow.astype(np.int64)).tocsr()
    residual.data = (residual.data > 0).astype(np.int8)
    residual.eliminate_zeros()
    reaching = breadth_first_order(residual.T.tocsr(), sink, directed=True)[0]
    return set(range(nodes)) - {int(n) for n in reaching}
