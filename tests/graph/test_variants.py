"""Sampled and explored variants of a compiled workflow: which keys change."""

from __future__ import annotations

import pytest

from helixvcs.graph import compile_workflow
from helixvcs.graph.variants import VariantError, with_constants, with_sample
from helixvcs.hashing import SampleSpec

WORKFLOW = """
from helixvcs import Workflow

wf = Workflow("v")

@wf.source("data.csv")
def raw(path):
    return open(path).read().splitlines()

@wf.op
def setting():
    return 3

@wf.op
def model(raw, setting, C=1.0):
    return len(raw) * C

@wf.op
def other(raw):
    return len(raw)

@wf.metric
def score(model):
    return float(model)

@wf.metric
def size(other):
    return float(other)
"""


@pytest.fixture
def dag(tmp_path):
    (tmp_path / "workflow.py").write_text(WORKFLOW)
    (tmp_path / "data.csv").write_text("a\nb\n")
    return compile_workflow(tmp_path, tmp_path / "workflow.py")


def changed(a, b) -> set[str]:
    return {n.name for n in a if a[n.name].key != b[n.name].key}


def test_a_sample_rekeys_the_sources_and_what_descends_from_them(dag) -> None:
    sampled = with_sample(dag, SampleSpec(0.1, seed=0))
    assert changed(dag, sampled) == {"raw", "model", "other", "score", "size"}
    assert sampled["raw"].sample == SampleSpec(0.1, 0) and sampled["raw"].parts["sample"]
    assert changed(sampled, with_sample(dag, SampleSpec(0.1, seed=0))) == set()
    assert changed(sampled, with_sample(dag, SampleSpec(0.1, seed=1))) == changed(dag, sampled)
    assert changed(sampled, with_sample(dag, SampleSpec(0.2, seed=0))) == changed(dag, sampled)


def test_constants_rekey_the_operator_and_its_descendants_only(dag) -> None:
    variant = with_constants(dag, {"model": {"C": 0.1}})
    assert changed(dag, variant) == {"model", "score"}
    assert variant["model"].overrides == {"C": 0.1} and variant["model"].constants["C"] == 0.1
    assert variant["model"].parts["default:C"] != dag["model"].parts["default:C"]
    again = with_constants(dag, {"model": {"C": 0.1}})
    assert again["score"].key == variant["score"].key


def test_an_unknown_operator_or_constant_is_refused(dag) -> None:
    with pytest.raises(VariantError, match="no operator named 'nope'"):
        with_constants(dag, {"nope": {"C": 1}})
    with pytest.raises(VariantError, match="has no constant D"):
        with_constants(dag, {"model": {"D": 1}})
