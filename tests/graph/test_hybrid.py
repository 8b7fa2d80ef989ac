"""Hybrid workflows: a version with one operator taken from another, keyed as if compiled."""

from __future__ import annotations

import textwrap

import pytest

from helixvcs.graph import compile_workflow
from helixvcs.graph.hybrid import SpliceError, splice

TEMPLATE = """\
from helixvcs import Workflow

wf = Workflow("w")


@wf.source("data.txt")
def raw(path):
    return [int(x) for x in open(path)]


@wf.op
def double(raw):
    return [x * {factor} for x in raw]
{extra}

@wf.metric
def total(double{total_params}):
    return float(sum(double)){total_tail}
"""


def compiled(root, factor=2, extra="", total_params="", total_tail=""):
    root.mkdir(parents=True)
    (root / "data.txt").write_text("1\n2\n3\n")
    text = TEMPLATE.format(
        factor=factor, extra=extra, total_params=total_params, total_tail=total_tail
    )
    (root / "workflow.py").write_text(textwrap.dedent(text))
    return compile_workflow(root, root / "workflow.py")


OFFSET = """

@wf.op
def offset(raw):
    return len(raw)
"""


def test_a_spliced_node_is_keyed_as_if_that_hybrid_had_been_compiled(tmp_path):
    parent = compiled(tmp_path / "parent")
    child = compiled(tmp_path / "child", factor=3, total_tail=" + 1")  # two edits
    only_double = compiled(tmp_path / "only", factor=3)  # the hybrid, written out
    hybrid = splice(parent, child, take=["double"])
    assert list(hybrid.nodes) == ["raw", "double", "total"]
    assert hybrid.keys() == only_double.keys()
    assert hybrid["raw"].key == parent["raw"].key
    assert hybrid["double"].key == child["double"].key  # same inputs: the child's value
    assert hybrid["total"].key not in (parent["total"].key, child["total"].key)
    assert hybrid["double"].code.source == child["double"].code.source
    assert hybrid["total"].code.source == parent["total"].code.source


def test_a_taken_node_brings_the_parents_only_the_donor_has(tmp_path):
    parent = compiled(tmp_path / "parent")
    child = compiled(
        tmp_path / "child", extra=OFFSET, total_params=", offset", total_tail=" + offset"
    )
    hybrid = splice(parent, child, take=["total"])
    assert set(hybrid.nodes) == {"raw", "double", "offset", "total"}
    assert hybrid.keys() == child.keys()
    assert list(hybrid.nodes).index("offset") < list(hybrid.nodes).index("total")


def test_removing_a_node_that_is_still_used_is_refused(tmp_path):
    parent = compiled(
        tmp_path / "parent", extra=OFFSET, total_params=", offset", total_tail=" + offset"
    )
    child = compiled(tmp_path / "child")
    with pytest.raises(SpliceError, match="total needs offset"):
        splice(parent, child, drop=["offset"])
    assert set(splice(parent, child, take=["total"], drop=["offset"]).nodes) == {
        "raw",
        "double",
        "total",
    }
    with pytest.raises(SpliceError, match="not an operator"):
        splice(parent, child, take=["nothing"])
