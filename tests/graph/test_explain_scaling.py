"""``explain_path`` without the all-pairs graph gives the answers the all-pairs graph gave,
and ``distance`` is the logical diff's distance, on random recorded histories."""

from __future__ import annotations

import hashlib
import itertools

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from helixvcs.graph.diff import Operator, diff_operators
from helixvcs.graph.versions import (
    VersionPoint,
    _against,
    _Distances,
    _distinct,
    distance,
    explain_path,
)

NAMES = ("raw", "rows", "feats", "model", "score")


def _version(vid: str, metric: float, bodies: dict[str, str]) -> VersionPoint:
    """A chain raw -> rows -> ... of the operators present; a key covers the body and the
    parent's key, so an edit upstream moves the keys below it without editing them."""
    ops, parent = [], None
    for name in NAMES:
        if name not in bodies:
            continue
        body = bodies[name]
        parents = (parent.name,) if parent else ()
        key = hashlib.sha256(f"{body}|{parent.key if parent else ''}".encode()).hexdigest()[:8]
        op = Operator(name, "op", key, parents, body, {"body": body})
        ops.append(op)
        parent = op
    return VersionPoint(vid, tuple(ops), metric)


@st.composite
def histories(draw: st.DrawFn) -> list[VersionPoint]:
    n = draw(st.integers(2, 9))
    versions = []
    for i in range(n):
        present = draw(st.lists(st.sampled_from(NAMES), min_size=1, unique=True))
        bodies = {name: draw(st.sampled_from(["0", "1", "2"])) for name in present}
        metric = draw(st.sampled_from([0.5, 0.6, 0.7, 0.8, 0.9]))
        versions.append(_version(f"v{i}", metric, bodies))
    return versions


def all_pairs_path(versions: list[VersionPoint], a: str, b: str) -> list[str]:
    """The former algorithm: Dijkstra over every pair of versions, then the geodesic DP."""
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
            d = diff_operators(u.operators, v.operators, with_source=False).distance
            graph.add_edge(u.id, v.id, weight=max(d, 1))
    from_a = nx.single_source_dijkstra_path_length(graph, a)
    to_b = nx.single_source_dijkstra_path_length(graph, b)
    total = from_a[b]
    on_path = sorted(
        (v for v in by_id if from_a[v] + to_b[v] == total), key=lambda v: (from_a[v], v)
    )
    gap = by_id[b].metric - by_id[a].metric
    best: dict[str, tuple[int, float, str | None]] = {a: (0, 0.0, None)}
    for v in on_path:
        if v == a:
            continue
        for u in on_path:
            if u not in best or from_a[u] >= from_a[v]:
                continue
            if from_a[u] + graph.edges[u, v]["weight"] != from_a[v]:
                continue
            steps, back, _ = best[u]
            candidate = (steps + 1, back + _against(by_id[u].metric, by_id[v].metric, gap), u)
            current = best.get(v)
            if current is None or (candidate[0], -candidate[1]) > (current[0], -current[1]):
                best[v] = candidate
    path = [b]
    while path[-1] != a:
        path.append(best[path[-1]][2])
    return path[::-1]


def _weights(versions: list[VersionPoint], a: str, b: str) -> dict[tuple[str, str], int]:
    points = _distinct(versions, keep={a, b})
    return {(u.id, v.id): max(distance(u, v), 1) for u in points for v in points if u != v}


def _a_metric(weights: dict[tuple[str, str], int]) -> bool:
    """Whether no version is reached more cheaply through another (triangle inequality)."""
    ids = {u for u, _ in weights}
    return all(
        weights[u, w] <= weights[u, v] + weights[v, w]
        for u in ids for v in ids for w in ids if len({u, v, w}) == 3
    )  # fmt: skip


@given(versions=histories(), data=st.data())
@settings(max_examples=400, deadline=None)
def test_the_same_path_as_the_all_pairs_graph(versions, data):
    """Where the distances obey the triangle inequality, the path is the all-pairs graph's;
    where they do not (renames by key make some hops shorter than a direct jump), it is
    still a path from A to B of the shortest total through at most one other version."""
    ids = [v.id for v in versions]
    a, b = data.draw(st.sampled_from(ids)), data.draw(st.sampled_from(ids))
    path = explain_path(versions, a, b)
    weights = _weights(versions, a, b)
    if _a_metric(weights):
        assert path == all_pairs_path(versions, a, b)
    assert path[0] == a and path[-1] == b and len(set(path)) == len(path)
    if a != b and len(path) > 1 and path != [a, b]:
        hops = sum(weights[u, v] for u, v in itertools.pairwise(path))
        stops = [v for v, _ in weights if v not in (a, b)]
        one_stop = min([weights[a, b]] + [weights[a, v] + weights[v, b] for v in stops])
        assert hops == one_stop


def test_a_version_reached_more_cheaply_through_another_is_not_between():
    """The logical distance is not a metric: v3's direct distance to v7 is 4, through v1
    (the same keys under other names) 3. The path keeps the shortest total (4) through
    the versions whose direct distances add up to it; the all-pairs graph found one step
    more (a case hypothesis drew)."""
    versions = [
        _version("v0", 0.5, {"raw": "1"}),
        _version("v1", 0.5, {"feats": "1", "score": "1"}),
        _version("v2", 0.5, {"raw": "0"}),
        _version("v3", 0.5, {"raw": "1", "score": "1"}),
        _version("v7", 0.5, {"rows": "0", "feats": "0", "score": "1"}),
    ]
    assert not _a_metric(_weights(versions, "v0", "v7"))
    assert explain_path(versions, "v0", "v7") == ["v0", "v2", "v7"]
    assert all_pairs_path(versions, "v0", "v7") == ["v0", "v3", "v1", "v7"]


@given(versions=histories())
@settings(max_examples=200, deadline=None)
def test_distance_is_the_diffs_distance(versions):
    for u in versions:
        for v in versions:
            expected = diff_operators(u.operators, v.operators, with_source=False).distance
            assert distance(u, v) == expected


def test_a_long_history_is_walked_version_by_version():
    """Sixty commits, each editing one more of sixty operators: the path from the first to
    the last goes through every one of them (each candidate's best predecessor is among
    the nearest, as the bound on predecessors assumes), as the all-pairs graph said."""
    names = [f"op{i}" for i in range(60)]

    def version(i: int) -> VersionPoint:
        ops = tuple(
            Operator(n, "op", f"{n}-{int(j < i)}", (), "", {"body": str(int(j < i))})
            for j, n in enumerate(names)
        )
        return VersionPoint(f"c{i:02}", ops, 0.5 + i / 100)

    versions = [version(i) for i in range(61)]
    path = explain_path(versions, "c00", "c60")
    assert path == [v.id for v in versions]
    assert path == all_pairs_path(versions, "c00", "c60")


@st.composite
def shared_histories(draw: st.DrawFn) -> list[VersionPoint]:
    """Versions whose operators are drawn from one pool of records, as the index gives
    them (one object per distinct row): names, keys, kinds, parents and parts vary on
    their own, so that renames (a key under another name), upstream-only changes (the
    same own identity under another key), additions, removals and repeated names occur."""
    pool = []
    for _ in range(draw(st.integers(1, 12))):
        name = draw(st.sampled_from(NAMES))
        parents = tuple(draw(st.lists(st.sampled_from(NAMES), max_size=2, unique=True)))
        pool.append(
            Operator(
                name,
                draw(st.sampled_from(["op", "metric"])),
                draw(st.sampled_from(["k1", "k2", "k3"])),
                parents,
                "",
                {"body": draw(st.sampled_from(["0", "1"]))},
            )
        )
    versions = []
    for i in range(draw(st.integers(1, 6))):
        ops = draw(st.lists(st.sampled_from(pool), max_size=6, unique_by=id))
        if draw(st.booleans()):  # a recorded run: one operator per name
            ops = list({op.name: op for op in ops}.values())
        versions.append(VersionPoint(f"v{i}", tuple(ops), 0.5))
    return versions


@given(versions=shared_histories())
@settings(max_examples=600, deadline=None)
def test_distances_against_one_version_are_distance(versions):
    """The set-based distances from and to one version are ``distance``, whatever the
    versions share, rename, add, remove or repeat."""
    for fixed in versions:
        against = _Distances(fixed, versions)
        for v in versions:
            assert against.from_fixed(v) == distance(fixed, v)
            assert against.to_fixed(v) == distance(v, fixed)


@given(versions=histories())
@settings(max_examples=200, deadline=None)
def test_distances_against_one_version_on_chains(versions):
    for fixed in versions:
        against = _Distances(fixed, versions)
        for v in versions:
            assert against.from_fixed(v) == distance(fixed, v)
            assert against.to_fixed(v) == distance(v, fixed)
