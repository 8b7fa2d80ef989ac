"""Survival probabilities from history, and which objects make room for which."""

from __future__ import annotations

from helixvcs.plan.benefit import (
    StoredValue,
    choose_evictions,
    default_probability,
    eviction_order,
    survival_probabilities,
)
from helixvcs.plan.materialize import MaterializePolicy, should_materialize


def test_often_edited_operators_and_their_descendants_are_less_likely_to_survive():
    history = [
        {"raw": "r1", "features": "f1", "model": "m1", "score": "s1"},
        {"raw": "r1", "features": "f1", "model": "m2", "score": "s2"},
        {"raw": "r1", "features": "f1", "model": "m3", "score": "s3"},
        {"raw": "r1", "features": "f1", "model": "m3", "score": "s3"},  # a re-run: ignored
        {"raw": "r1", "features": "f2", "model": "m4", "score": "s4"},
    ]
    p = survival_probabilities(history)
    assert p["raw"] > p["features"] > p["model"]
    assert p["model"] == p["score"]  # downstream of every model edit
    assert p["raw"] == (3 + 3) / (3 + 4)  # three unchanged transitions, prior 3:1
    assert survival_probabilities([]) == {}
    assert default_probability() == 0.75


def test_survival_weights_the_materialization_rule():
    keep = {"recompute": 1.0, "load_estimate": 0.3}
    assert should_materialize(MaterializePolicy.HELIX, probability=1.0, **keep)[0]
    assert not should_materialize(MaterializePolicy.HELIX, probability=0.5, **keep)[0]
    assert should_materialize(MaterializePolicy.HELIX, probability=0.1, is_output=True, **keep)[0]
    assert not should_materialize(MaterializePolicy.NONE, probability=1.0, **keep)[0]
    assert should_materialize(MaterializePolicy.ALL, probability=0.0, recompute=0, load_estimate=9)[
        0
    ]


def _obj(key: str, nbytes: int, recompute: float, p: float = 1.0) -> StoredValue:
    return StoredValue(key, key, nbytes, recompute, p)


def test_eviction_takes_the_lowest_benefit_per_byte_first():
    objects = [_obj("big-cheap", 1000, 1.0), _obj("small-dear", 10, 5.0), _obj("mid", 100, 1.0)]
    assert [o.key for o in eviction_order(objects)] == ["big-cheap", "mid", "small-dear"]
    assert [o.key for o in choose_evictions(objects, 50) or []] == ["big-cheap"]
    assert [o.key for o in choose_evictions(objects, 1050) or []] == ["big-cheap", "mid"]
    assert choose_evictions(objects, 5000) is None


def test_a_candidate_never_displaces_something_worth_more_per_byte():
    objects = [_obj("a", 100, 1.0), _obj("b", 100, 10.0)]
    assert [o.key for o in choose_evictions(objects, 100, better_than=0.05) or []] == ["a"]
    assert choose_evictions(objects, 150, better_than=0.05) is None
    assert choose_evictions(objects, 100, better_than=0.001) is None
