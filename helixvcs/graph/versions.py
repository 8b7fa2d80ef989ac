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

The logical distance is not always a metric: an operator's key under another name counts
as one rename, so a version may be closer to B through another version than directly.
Such a version is not a candidate (its distances from A and to B do not add up to the
shortest total), and the path may then have fewer steps than the all-pairs graph's; its
total stays the shortest through at most one version between A and B.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import InitVar, dataclass, field

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
    records: frozenset[int] = field(init=False, repr=False, compare=False)
    """The ``id`` of each operator object: versions that share a record share its id."""
    pool: InitVar[OperatorPool | None] = None
    """Operators shared with other versions: their (name, key) pairs are made once."""

    def __post_init__(self, pool: OperatorPool | None) -> None:
        ops = self.operators
        if pool is None:
            pool = OperatorPool(ops)
        ids = list(map(id, ops))
        object.__setattr__(self, "by_name", dict(map(pool.named.__getitem__, ids)))
        object.__setattr__(self, "identity", frozenset(map(pool.pair.__getitem__, ids)))
        object.__setattr__(self, "records", frozenset(ids))

    @property
    def unique(self) -> bool:
        """Whether no two of its operators share a name (as in every recorded run)."""
        return len(self.by_name) == len(self.operators) == len(self.records)


class OperatorPool:
    """Operator records that many versions share (one object per distinct record, as
    the index gives them), each with its (name, key) pair made once: thousands of
    versions then build their identities from the same pairs instead of new tuples."""

    def __init__(self, operators: Sequence[Operator]) -> None:
        self.pair = {id(op): (op.name, op.key) for op in operators}
        self.named = {id(op): (op.name, op) for op in operators}


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


class _Distances:
    """``distance`` between one version (``fixed``) and each of many, mostly by set
    operations on operator records rather than a loop over every operator of each.

    Each distinct record of the versions is classified once against ``fixed``: the same
    (name and key as ``fixed``'s), foreign (a name ``fixed`` lacks), edited (its own
    identity differs from ``fixed``'s operator of that name) or upstream only (the same
    own identity under another key: edited unless a parent moved too). A version's
    distance is then a few intersections of its records with those classes, and a loop
    over only its upstream-only records, added and removed names. Versions with a
    repeated name (never recorded) are measured by ``distance`` itself."""

    def __init__(self, fixed: VersionPoint, versions: Sequence[VersionPoint]) -> None:
        self.fixed = fixed
        self.records: dict[int, Operator] = {}
        for v in versions:
            self.records.update(zip(map(id, v.operators), v.operators, strict=True))
        self.names = frozenset(fixed.by_name)
        self.same: set[int] = set()
        self.foreign: set[int] = set()
        self.edited: set[int] = set()
        self.upstream: set[int] = set()
        for i, op in self.records.items():
            mine = fixed.by_name.get(op.name)
            if mine is None:
                self.foreign.add(i)
            elif (op.name, op.key) in fixed.identity:
                self.same.add(i)
            elif op.parts != mine.parts or op.parents != mine.parents or op.kind != mine.kind:
                self.edited.add(i)
            else:
                self.upstream.add(i)

    def from_fixed(self, v: VersionPoint) -> int:
        """``distance(fixed, v)``."""
        fixed = self.fixed
        if v.identity == fixed.identity:
            return 0
        if not (v.unique and fixed.unique):
            return distance(fixed, v)
        edited = len(v.records & self.edited)
        for i in v.records & self.upstream:  # moved: v's operator of that name is not fixed's
            moved = (p for p in self.records[i].parents if p in v.by_name)
            if all(id(v.by_name[p]) in self.same for p in moved):
                edited += 1
        added = [self.records[i].key for i in v.records & self.foreign]
        gone = () if self.names <= v.by_name.keys() else self.names - v.by_name.keys()
        removed = [fixed.by_name[name].key for name in gone]
        return edited + len(added) + len(removed) - _renamed(removed, added)

    def to_fixed(self, v: VersionPoint) -> int:
        """``distance(v, fixed)``."""
        fixed = self.fixed
        if v.identity == fixed.identity:
            return 0
        if not (v.unique and fixed.unique):
            return distance(v, fixed)
        edited = len(v.records & self.edited)
        for i in v.records & self.upstream:  # moved: fixed's operator of that name is not v's
            after = fixed.by_name[self.records[i].name]
            moved = (p for p in after.parents if p in fixed.by_name)
            if all((p, fixed.by_name[p].key) in v.identity for p in moved):
                edited += 1
        came = () if self.names <= v.by_name.keys() else self.names - v.by_name.keys()
        added = [fixed.by_name[name].key for name in came]
        removed = [self.records[i].key for i in v.records & self.foreign]
        return edited + len(added) + len(removed) - _renamed(removed, added)


def _renamed(removed: Sequence[str], added: Sequence[str]) -> int:
    """Removals and additions that pair up by key: each pair is one rename."""
    if not removed or not added:
        return 0
    return sum((Counter(removed) & Counter(added)).values())


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
    from_start, to_end = _Distances(start, points), _Distances(end, points)
    from_a = {v.id: max(from_start.from_fixed(v), 1) for v in points}
    to_b = {v.id: max(to_end.to_fixed(v), 1) for v in points}
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
