"""The space of recorded versions, and the path that explains a metric gap between two.

``helix explain M A B`` treats every recorded version as a point. Two versions are
joined by an edge weighted by their logical distance: the number of operators edited
between them (:attr:`DagDiff.distance`, computed here by ``distance`` from the operators
that differ). The explanation of the gap in ``M`` from A to B is a path from A to B:

1. of shortest total distance, so that it edits nothing that is not needed to get from A
   to B;
2. among those, through the most recorded versions: a direct jump always ties with any
   path through versions that lie between A and B, and each version in between splits
   the gap into smaller, better-explained steps;
3. among those, the most monotone in ``M``: the least total movement of ``M`` against the
   direction of the gap (any movement when there is no gap).

Versions with exactly the same operators and keys are the same computation: the first of
them stands for all (A and B always stand for themselves).

Cost grows about linearly with the versions, not with their pairs. Every version's
distance from A and to B is measured (2 per version); the shortest total is the smaller of
the direct jump and the best stop-over, and the versions that lie on it (distance from A
plus distance to B equals it) are the candidates. The path is then built over the
candidates in order of distance from A, each one trying as its predecessor A and the
``NEIGHBOURS`` candidates just before it (closest in distance from A, then in history):
the steps of a path between recorded versions are short, and a version's predecessor on
the best path lies in the levels just below it. Without that bound this would try every
pair of candidates, as the all-pairs graph did; with it, a path that needs a longer hop
between two versions than the nearest ``NEIGHBOURS`` offer takes the hop from A instead
(fewer steps, the same distance).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from helixvcs.graph.diff import Operator

NEIGHBOURS = 8  # predecessors tried per candidate version, besides A


@dataclass(frozen=True)
class VersionPoint:
    """One recorded version: an id (commit or variant), its operators, its metric value."""

    id: str
    operators: tuple[Operator, ...]
    metric: float
    by_name: Mapping[str, Operator] = field(init=False, repr=False, compare=False)
    identity: frozenset[tuple[str, str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {op.name: op for op in self.operators})
        identity = frozenset((op.name, op.key) for op in self.operators)
        object.__setattr__(self, "identity", identity)


def distance(u: VersionPoint, v: VersionPoint) -> int:
    """``diff_operators(u.operators, v.operators).distance``, from the operators that
    differ only: changed directly (not only upstream), added, removed; a rename (same
    key, new name) counts once, not as a removal and an addition."""
    gone = u.identity - v.identity
    came = v.identity - u.identity
    if not gone and not came:
        return 0
    moved = {name for name, _ in came}  # new, or under a new key
    edited, added_keys = 0, []
    for name, key in came:
        before = u.by_name.get(name)
        if before is None:
            added_keys.append(key)
            continue
        after = v.by_name[name]
        if (
            before.parts != after.parts  # what ``same_own_identity`` compares, without copies
            or before.parents != after.parents
            or before.kind != after.kind
            or moved.isdisjoint(after.parents)
        ):
            edited += 1
    removed_keys = [key for name, key in gone if name not in v.by_name]
    renamed = 0
    pool: dict[str, int] = {}
    for key in removed_keys:
        pool[key] = pool.get(key, 0) + 1
    for key in added_keys:
        if pool.get(key):
            pool[key] -= 1
            renamed += 1
    return edited + len(added_keys) + len(removed_keys) - renamed


def explain_path(versions: Sequence[VersionPoint], a: str, b: str) -> list[str]:
    """Ids of the versions on the explaining path, from ``a`` to ``b`` inclusive
    (``versions`` in history order: it breaks ties between equally close predecessors)."""
    points = _distinct(versions, keep={a, b})
    by_id = {v.id: v for v in points}
    if a == b:
        return [a]
    start, end = by_id[a], by_id[b]
    if start.identity == end.identity:
        return [a, b]
    from_a = {v.id: _weight(start, v) for v in points}
    to_b = {v.id: _weight(v, end) for v in points}
    from_a[a], to_b[b] = 0, 0
    total = min(from_a[v] + to_b[v] for v in by_id if v != a)
    order = {v.id: i for i, v in enumerate(versions)}
    between = sorted(
        (v for v in by_id if v not in (a, b) and from_a[v] + to_b[v] == total),
        key=lambda v: (from_a[v], v),
    )
    return _best_geodesic(by_id, from_a, to_b, between, order, total, a, b)


def _weight(u: VersionPoint, v: VersionPoint) -> int:
    return max(distance(u, v), 1)


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
    by_id: dict[str, VersionPoint],
    from_a: dict[str, int],
    to_b: dict[str, int],
    between: list[str],
    order: dict[str, int],
    total: int,
    a: str,
    b: str,
) -> list[str]:
    """Dynamic programme over the shortest paths: most steps, then least backtracking.

    ``between`` is in order of distance from A (then id), as is each list of predecessors
    tried: of equally good ones, the first stays."""
    gap = by_id[b].metric - by_id[a].metric
    best: dict[str, tuple[int, float, str | None]] = {a: (0, 0.0, None)}  # steps, back, prev

    def consider(u: str, v: str) -> None:
        steps, back, _ = best[u]
        candidate = (steps + 1, back + _against(by_id[u].metric, by_id[v].metric, gap), u)
        current = best.get(v)
        if current is None or (candidate[0], -candidate[1]) > (current[0], -current[1]):
            best[v] = candidate

    levels = _Levels(between, from_a, order)
    for v in between:
        consider(a, v)  # the hop from A: its weight is the distance from A by definition
        for u in levels.below(v):
            if from_a[u] + _weight(by_id[u], by_id[v]) == from_a[v]:
                consider(u, v)
    if to_b[a] == total:  # the direct jump is as short as any stop-over
        consider(a, b)
    for u in between:  # each lies on a shortest path: its measured hop reaches B
        consider(u, b)
    path = [b]
    while path[-1] != a:
        previous = best[path[-1]][2]
        assert previous is not None
        path.append(previous)
    return path[::-1]


class _Levels:
    """The candidates by distance from A, each level in history order: the nearest
    predecessors of a candidate, for the bounded search of ``_best_geodesic``."""

    def __init__(self, between: list[str], from_a: dict[str, int], order: dict[str, int]):
        self.from_a, self.order = from_a, order
        by_level: dict[int, list[str]] = {}
        for v in between:
            by_level.setdefault(from_a[v], []).append(v)
        self.levels = sorted(by_level)
        self.members = {d: sorted(vs, key=lambda v: order.get(v, -1)) for d, vs in by_level.items()}
        self.positions = {d: [order.get(v, -1) for v in vs] for d, vs in self.members.items()}

    def below(self, v: str) -> list[str]:
        """Up to ``NEIGHBOURS`` candidates closer to A than ``v``: the nearest levels first,
        in each the versions nearest in history; in order of distance from A, then id."""
        chosen: list[str] = []
        level = bisect_left(self.levels, self.from_a[v])
        where = self.order.get(v, -1)
        while level > 0 and len(chosen) < NEIGHBOURS:
            level -= 1
            d = self.levels[level]
            members, positions = self.members[d], self.positions[d]
            at = bisect_left(positions, where)
            window = members[max(0, at - NEIGHBOURS) : at + NEIGHBOURS]
            window.sort(key=lambda u: abs(self.order.get(u, -1) - where))
            chosen += window[: NEIGHBOURS - len(chosen)]
        return sorted(chosen, key=lambda u: (self.from_a[u], u))


def _against(before: float, after: float, gap: float) -> float:
    """How far a step moves the metric against the direction of the gap."""
    delta = after - before
    if gap > 0:
        return max(0.0, -delta)
    if gap < 0:
        return max(0.0, delta)
    return abs(delta)
