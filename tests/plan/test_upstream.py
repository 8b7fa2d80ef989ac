"""``Upstream`` gives exactly the keep rule's recompute cost (the set of unstored
ancestors, each counted once), whatever the DAG and whatever changes between questions."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from helixvcs.plan.materialize import Upstream, recompute_seconds


@st.composite
def dags(draw: st.DrawFn) -> dict[str, list[str]]:
    """A random DAG in topological order: each node's parents come before it."""
    n = draw(st.integers(1, 24))
    parents: dict[str, list[str]] = {}
    for i in range(n):
        earlier = [f"n{j}" for j in range(i)]
        chosen = draw(st.lists(st.sampled_from(earlier), max_size=4, unique=True)) if i else []
        parents[f"n{i}"] = chosen
    return parents


SECONDS = st.sampled_from([0.0, 0.25, 0.5, 1.0, 3.0])  # exact in binary: sums compare with ==


@given(data=st.data(), parents=dags())
@settings(max_examples=300, deadline=None)
def test_same_totals_as_the_walk_over_every_ancestor(data, parents):
    """Both sums: the unstored ancestors' seconds, and the loads of the stored values that
    recomputing reads, against walks, whatever changes between questions."""
    names = list(parents)
    seconds = {n: data.draw(SECONDS) for n in names}
    loads = {n: data.draw(SECONDS) for n in names}
    stored = set(data.draw(st.lists(st.sampled_from(names), unique=True)))
    upstream = Upstream(parents, seconds, stored, loads)
    steps = data.draw(
        st.lists(
            st.tuples(
                st.sampled_from(["ask", "store", "unstore", "time", "load"]),
                st.sampled_from(names),
                SECONDS,
            ),
            max_size=40,
        )
    )
    for action, name, value in steps:
        if action == "store":
            stored.add(name)
        elif action == "unstore":
            stored.discard(name)
        elif action == "time":
            seconds[name] = value
        elif action == "load":
            loads[name] = value
        if action != "ask":
            upstream.changed(name)
        expected = recompute_seconds(name, parents, seconds, stored)
        assert upstream.recompute_seconds(name) == expected
        assert upstream.frontier_load_seconds(name) == frontier_walk(name, parents, loads, stored)


def test_a_shared_ancestor_counts_once():
    #     a
    #    / \
    #   b   c
    #    \ /
    #     d
    parents = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]}
    seconds = {"a": 4.0, "b": 1.0, "c": 2.0, "d": 0.5}
    upstream = Upstream(parents, seconds, set())
    assert upstream.recompute_seconds("d") == 7.5  # not 11.5: a once
    stored = {"b"}
    assert Upstream(parents, seconds, stored).recompute_seconds("d") == 6.5


def test_a_long_chain_is_answered_without_deep_recursion():
    parents = {"n0": []} | {f"n{i}": [f"n{i - 1}"] for i in range(1, 20_000)}
    seconds = dict.fromkeys(parents, 1.0)
    assert Upstream(parents, seconds, set()).recompute_seconds("n19999") == 20_000.0


def test_wide_overlaps_sum_the_same_as_the_walk():
    """Hundreds of shared ancestors: the sums over many bits take the byte-wise path."""
    rng = random.Random(7)
    names = [f"n{i}" for i in range(400)]
    parents = {
        name: [names[j] for j in {i - 1, rng.randrange(i)}] if i else []
        for i, name in enumerate(names)
    }
    seconds = {name: rng.choice([0.25, 0.5, 1.0, 2.0]) for name in names}
    stored: set[str] = set()
    upstream = Upstream(parents, seconds, stored)
    for name in names:
        assert upstream.recompute_seconds(name) == recompute_seconds(name, parents, seconds, stored)
        if rng.random() < 0.1:
            stored.add(name)
            upstream.changed(name)


def frontier_walk(name, parents, loads, stored) -> float:
    """The stored nodes that recomputing ``name`` reads (parents of ``name`` or of an
    unstored ancestor), each once, and the sum of their loads: the definition."""
    seen, frontier, stack = set(), set(), [name]
    while stack:
        node = stack.pop()
        for p in parents[node]:
            if p in stored:
                frontier.add(p)
            elif p not in seen:
                seen.add(p)
                stack.append(p)
    return sum(loads.get(n, 0.0) for n in frontier)


def test_a_value_made_from_loaded_parents_counts_their_loads_once():
    #   a(stored)  b(stored)
    #     \  \     /
    #      \  c   /
    #       \ |  /
    #         d
    parents = {"a": [], "b": [], "c": ["a"], "d": ["a", "c", "b"]}
    loads = {"a": 0.5, "b": 0.25}
    upstream = Upstream(parents, {"c": 1.0, "d": 2.0}, {"a", "b"}, loads)
    assert upstream.frontier_load_seconds("d") == 0.75  # a once, though d and c both read it
    assert upstream.recompute_seconds("d") == 3.0
    assert upstream.frontier_load_seconds("a") == 0.0  # a source reads nothing stored
