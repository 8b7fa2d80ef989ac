"""Stages of operators (for plot colours) and the explaining path through versions."""

from __future__ import annotations

from helixvcs.graph.diff import Operator
from helixvcs.graph.stages import (
    EVALUATION,
    LEARNING,
    PRE_PROCESSING,
    change_kind,
    model_node,
    stages,
)
from helixvcs.graph.versions import VersionPoint, explain_path

CENSUS = {  # name: (kind, parents), the demo's shape
    "raw_train": ("source", ()),
    "rows": ("op", ("raw_train",)),
    "age_bucket": ("op", ("rows",)),
    "features": ("op", ("rows", "age_bucket")),
    "model": ("op", ("features", "rows")),
    "scores": ("op", ("model", "features", "rows")),
    "test_labels": ("op", ("rows",)),
    "accuracy": ("metric", ("scores", "test_labels")),
    "f1": ("metric", ("scores", "test_labels")),
    "predictions": ("output", ("scores", "rows")),
}


def _stages(spec):
    parents = {n: p for n, (_, p) in spec.items()}
    kinds = {n: k for n, (k, _) in spec.items()}
    return stages(parents, kinds, list(spec)), model_node(parents, kinds, list(spec))


def test_stages_follow_the_model_node():
    result, model = _stages(CENSUS)
    assert model == "model"
    assert result == {
        "raw_train": PRE_PROCESSING,
        "rows": PRE_PROCESSING,
        "age_bucket": PRE_PROCESSING,
        "features": PRE_PROCESSING,
        "model": LEARNING,
        "scores": LEARNING,
        "test_labels": EVALUATION,
        "accuracy": EVALUATION,
        "f1": EVALUATION,
        "predictions": EVALUATION,
    }


def test_without_a_learning_name_the_last_shared_ancestor_of_the_metrics_is_the_model():
    spec = {
        "raw": ("source", ()),
        "clean": ("op", ("raw",)),
        "booster": ("op", ("clean",)),
        "auc": ("metric", ("booster", "raw")),
        "loss": ("metric", ("booster",)),
    }
    result, model = _stages(spec)
    assert model == "booster"
    assert result["clean"] == PRE_PROCESSING and result["booster"] == LEARNING
    assert change_kind([PRE_PROCESSING, PRE_PROCESSING]) == PRE_PROCESSING
    assert change_kind([PRE_PROCESSING, EVALUATION]) == "mixed"
    assert change_kind([]) == "none"


def _op(name, key):
    return Operator(name, "op", key, (), "", {"body": key})


def _version(vid, metric, **keys):
    return VersionPoint(vid, tuple(_op(n, k) for n, k in sorted(keys.items())), metric)


def test_the_path_goes_through_the_versions_between_a_and_b():
    versions = [
        _version("A", 0.80, f="f0", g="g0", h="h0"),
        _version("side", 0.95, f="f9", g="g9", h="h9"),  # far from both: never on the path
        _version("AB1", 0.82, f="f1", g="g0", h="h0"),
        _version("AB2", 0.86, f="f1", g="g1", h="h0"),
        _version("B", 0.90, f="f1", g="g1", h="h1"),
    ]
    assert explain_path(versions, "A", "B") == ["A", "AB1", "AB2", "B"]
    assert explain_path(versions, "B", "A") == ["B", "AB2", "AB1", "A"]
    assert explain_path(versions, "A", "A") == ["A"]


def test_ties_are_broken_by_monotonicity():
    versions = [
        _version("A", 0.80, f="f0", g="g0"),
        _version("f_first", 0.70, f="f1", g="g0"),  # dips below A, then climbs
        _version("g_first", 0.85, f="f0", g="g1"),  # climbs all the way
        _version("B", 0.90, f="f1", g="g1"),
    ]
    assert explain_path(versions, "A", "B") == ["A", "g_first", "B"]


def test_versions_with_the_same_operators_are_one_point():
    versions = [
        _version("A", 0.8, f="f0"),
        _version("A_again", 0.8, f="f0"),
        _version("B", 0.9, f="f1"),
        _version("B_again", 0.9, f="f1"),
    ]
    assert explain_path(versions, "A", "B") == ["A", "B"]
    assert explain_path(versions, "A", "A_again") == ["A", "A_again"]
