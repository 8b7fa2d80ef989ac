"""The space of recorded versions, and the path that explains a metric gap between two.

``helix explain M A B`` treats every recorded version as a point. Two versions are
joined by an edge weighted by their logical distance: the number of operators edited
between them (:attr:`DagDiff.distance`). The explanation of the gap in ``M`` from A to B
is a path from A to B:

1. of shortest total distance (networkx Dijkstra), so that it edits nothing that is not
   needed to get from A to B;
2. among those, through the most recorded versions: a direct jump always ties with any
   path through versions that lie between A and B, and each version in between splits
   the gap into smaller, better-explained steps;
3. among those, the most monotone in ``M``: the least total movement of ``M`` against the
   direction of the gap (any movement when there is no gap).

Versions with exactly the same operators and keys are the same computation: the first of
them stands for all (A and B always stand for themselves).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from helixvcs.graph.diff import Operator, diff_operators


@dataclass(frozen=True)
class VersionPoint:
    """One recorded version: an id (commit or variant), its operators, its metric value."""

    id: str
    operators: tuple[Operator, ...]
    metric: float

    @property
    def identity(self) -> frozenset[tuple[str, str]]:
        return frozenset((op.name, op.key) for op in self.operators)


def explain_path(versions: Sequence[VersionPoint], a: str, b: str) -> list[str]:
    """Ids of the versions on the explaining path, from ``a`` to ``b`` inclusive."""
    import networkx as nx

    points = _distinct(versions, keep={a, b})
    by_id = {v.id: v for v in points}
    if a == b:
        return [a]
    if by_id[a].identity == by_id[b].identity:
        return [a, b]
    graph = nx.Graph()
    graph.add_nodes_from(by_id)
    for i, u in enumerate(points):
        for v in points[i + 1 :]:
            distance = diff_operators(u.operators, v.operators, with_source=False).distance
            graph.add_edge(u.id, v.id, weight=max(distance, 1))
    from_a = nx.single_source_dijkstra_path_length(graph, a)
    to_b = nx.single_source_dijkstra_path_length(graph, b)
    return _best_geodesic(graph, by_id, from_a, to_b, a, b)


def _distinct(versions: Sequence[VersionPoint], keep: set[str]) -> list[VersionPoint]:
    """One version per identity; those in ``keep`` are never replaced by another."""
    chosen: dict[frozenset[tuple[str, str]], VersionPoint] = {}
    kept = []
    for v in versions:
        if v.id in keep:
            kept.append(v)
        else:
            chosen.setdefault(v.identity, v)
    taken = {v.identity for v in kept}
    return kept + [v for identity, v in chosen.items() if identity not in taken]


def _best_geodesic(
    graph: object,
    by_id: dict[str, VersionPoint],
    from_a: dict[str, float],
    to_b: dict[str, float],
    a: str,
    b: str,
) -> list[str]:
    """Dynamic programme over the edges of shortest paths: most steps, least backtracking."""
    total = from_a[b]
    on_path = sorted(
        (v for v in by_id if from_a[v] + to_b[v] == total), key=lambda v: (from_a[v], v)
    )
    gap = by_id[b].metric - by_id[a].metric
    best: dict[str, tuple[int, float, str | None]] = {a: (0, 0.0, None)}  # steps, back, prev
    for v in on_path:
        if v == a:
            continue
        for u in on_path:
            if u not in best or from_a[u] >= from_a[v]:
                continue
            weight = graph.edges[u, v]["weight"]  # type: ignore[attr-defined]
            if from_a[u] + weight != from_a[v]:
                continue
            steps, back, _ = best[u]
            candidate = (steps + 1, back + _against(by_id[u].metric, by_id[v].metric, gap), u)
            current = best.get(v)
            if current is None or (candidate[0], -candidate[1]) > (current[0], -current[1]):
                best[v] = candidate
    path = [b]
    while path[-1] != a:
        previous = best[path[-1]][2]
        assert previous is not None
        path.append(previous)
    return path[::-1]


def _against(before: float, after: float, gap: float) -> float:
    """How far a step moves the metric against the direction of the gap."""
    delta = after - before
    if gap > 0:
        return max(0.0, -delta)
    if gap < 0:
        return max(0.0, delta)
    return abs(delta)
