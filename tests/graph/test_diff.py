"""The logical diff of two operator sets, from plain ``Operator`` values and compiled DAGs."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from helixvcs.graph import compile_workflow
from helixvcs.graph.diff import (
    ADDED,
    CHANGED,
    REMOVED,
    RENAMED,
    Operator,
    diff_dags,
    diff_operators,
    operators_of,
    part_causes,
)


def op(name, key, parents=(), source="", kind="op", **parts):
    body = {"body": parts.pop("body", key), **parts}
    return Operator(name, kind, key, tuple(parents), source or f"def {name}(): ...\n", body)


BASE = [
    op("raw", "k-raw", kind="source", **{"data:x.csv": "d1"}),
    op("rows", "k-rows", ["raw"]),
    op("model", "k-model", ["rows"], **{"default:C": "c1", "package:sklearn": "1.4.2"}),
    op("accuracy", "k-acc", ["model", "rows"], kind="metric"),
]


def test_identical_sets_have_no_diff():
    d = diff_operators(BASE, list(BASE))
    assert (d.added, d.removed, d.renamed, d.changed) == ((), (), (), ())
    assert d.edges_added == d.edges_removed == ()
    assert d.distance == 0


def test_a_changed_default_is_direct_and_its_descendants_change_upstream():
    model = op("model", "k-model2", ["rows"], body="k-model", **{
        "default:C": "c2", "package:sklearn": "1.4.2"})  # fmt: skip
    accuracy = op("accuracy", "k-acc2", ["model", "rows"], kind="metric", body="k-acc")
    after = [*BASE[:2], model, accuracy]
    d = diff_operators(BASE, after)
    assert [(c.name, c.causes, c.direct) for c in d.changed] == [
        ("model", ("default C",), True),
        ("accuracy", ("upstream model",), False),
    ]
    assert [(e.name, e.change) for e in d.edits] == [("model", CHANGED)]
    assert d.recomputed == ("accuracy",)
    assert d.distance == 1


def test_package_and_data_causes_name_what_changed():
    assert part_causes({"package:sklearn": "1.4.2"}, {"package:sklearn": "1.5.0"}) == [
        "package sklearn 1.4.2 -> 1.5.0"
    ]
    assert part_causes({"data:x.csv": "d1"}, {"data:x.csv": "d2", "helper:lib.f": "h"}) == [
        "data x.csv",
        "added helper lib.f",
    ]
    assert part_causes({"constant:lib.X": "1"}, {}) == ["removed constant lib.X"]


def test_added_removed_renamed_and_edges():
    after = [
        BASE[0],
        op("clean_rows", "k-rows", ["raw"]),  # rows renamed: same key
        op(
            "model",
            "k-model3",
            ["clean_rows"],
            body="k-model3",
            **{"default:C": "c1", "package:sklearn": "1.4.2"},
        ),
        op("f1", "k-f1", ["model"], kind="metric"),
    ]
    d = diff_operators(BASE, after)
    assert d.renamed == (("rows", "clean_rows"),)
    assert d.added == ("f1",)
    assert d.removed == ("accuracy",)
    assert [c.name for c in d.changed] == ["model"]
    assert d.changed[0].causes[:2] == ("parents (rows) -> (clean_rows)", "body")
    assert ("clean_rows", "model") in d.edges_added and ("raw", "clean_rows") in d.edges_added
    assert ("rows", "model") in d.edges_removed and ("model", "accuracy") in d.edges_removed
    kinds = {e.change for e in d.edits}
    assert kinds == {CHANGED, ADDED, REMOVED, RENAMED}
    assert d.distance == 4
    doc = d.to_json()
    assert doc["renamed"] == [["rows", "clean_rows"]]
    assert doc["edges"]["added"][0] == ["raw", "clean_rows"]


def test_source_diff_is_of_the_operator_alone():
    before = [op("f", "k1", source="def f(x):\n    return x + 1\n")]
    after = [op("f", "k2", source="def f(x):\n    return x + 2\n")]
    text = diff_operators(before, after).changed[0].diff
    assert text.startswith("--- a/f\n+++ b/f\n")
    assert "-    return x + 1\n+    return x + 2\n" in text
    assert diff_operators(before, after, with_source=False).changed[0].diff == ""


def test_records_and_compiled_dags_give_the_same_diff(tmp_path):
    @dataclass
    class Record:  # what Index.operators returns, field for field
        name: str
        kind: str
        key: str
        parents: tuple
        source: str
        parts: dict

    v1, v2 = _workflow(tmp_path / "v1", "x * 2"), _workflow(tmp_path / "v2", "x * 3")
    from_dags = diff_dags(v1, v2)
    records = [
        [Record(n.name, n.kind, n.key, n.parents, n.code.source, dict(n.parts)) for n in dag]
        for dag in (v1, v2)
    ]
    from_records = diff_operators(operators_of(records[0]), operators_of(records[1]))
    assert from_dags == from_records
    assert [(c.name, c.direct) for c in from_dags.changed] == [("double", True), ("total", False)]
    assert "-    return [x * 2 for x in raw]" in from_dags.changed[0].diff


def test_comments_and_docstrings_change_nothing(tmp_path):
    v1 = _workflow(tmp_path / "v1", "x * 2")
    v2 = _workflow(tmp_path / "v2", "x * 2", doc='"""Doubles."""  # twice each value')
    assert diff_dags(v1, v2).changed == ()


def _workflow(root, expr, doc=""):
    root.mkdir(parents=True)
    (root / "data.txt").write_text("1\n2\n")
    (root / "workflow.py").write_text(
        textwrap.dedent(f"""\
        from helixvcs import Workflow

        wf = Workflow("w")


        @wf.source("data.txt")
        def raw(path):
            return [int(x) for x in open(path)]


        @wf.op
        def double(raw):
            {doc}
            return [{expr} for x in raw]


        @wf.metric
        def total(double):
            return float(sum(double))
        """)
    )
    return compile_workflow(root, root / "workflow.py")
