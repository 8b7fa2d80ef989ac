"""diff, explain, plot and dag on one recorded history of the synthetic workflow."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from PIL import Image

from tests.conftest import GitRepo
from tests.integration import synth

HISTORY = [
    ("workflow.py", "    return samples[1]\n", "    # labels\n    return samples[1]\n", "Comment"),
    (*synth.STRONG_C, "Regularize harder"),
    (*synth.DROP_COLUMN, "Drop column 4"),
    (*synth.METHOD_FORM, "Accuracy: method form"),
]


@pytest.fixture(scope="module")
def views(tmp_path_factory) -> tuple[GitRepo, list[str]]:
    path = tmp_path_factory.mktemp("views") / "repo"
    path.mkdir()
    repo = GitRepo(path)
    repo.git("init", "-q", "-b", "main")
    shas = synth.build(repo, HISTORY)
    repo.edit(
        "workflow.py",
        "    # labels\n    return samples[1]\n",
        "    _, y = samples\n    return y\n",
    )
    repo.edit("workflow.py", "labels[test]).mean())", "labels[test]).mean() * 1)")
    shas.append(repo.commit("Labels and accuracy"))  # pre-processing and evaluation at once
    repo.helix("init")
    repo.helix("blame-metric", "accuracy")  # runs every commit
    return repo, shas


def test_diff_of_a_comment_only_commit_reports_no_operator_change(views):
    repo, shas = views
    doc = repo.helix_json("diff", shas[0], shas[1])
    assert (doc["added"], doc["removed"], doc["changed"]) == ([], [], [])
    assert doc["edges"] == {"added": [], "removed": []}
    assert doc["metrics"]["accuracy"]["delta"] == 0.0
    assert "no operator changed" in repo.helix("diff", shas[0], shas[1]).stdout


def test_diff_names_the_edit_its_source_and_the_metric_delta(views):
    repo, shas = views
    doc = repo.helix_json("diff", shas[1], shas[2])
    assert doc["a"]["commit"] == shas[1] and doc["b"]["commit"] == shas[2]
    direct = [c for c in doc["changed"] if c["direct"]]
    assert [(c["name"], "default C" in c["causes"]) for c in direct] == [("model", True)]
    assert "-def model(features, labels, C=1.0):" in direct[0]["diff"]
    assert "+def model(features, labels, C=0.003):" in direct[0]["diff"]
    assert direct[0]["seconds"]["a"] > 0 and direct[0]["seconds"]["b"] > 0
    upstream = {c["name"]: c["causes"] for c in doc["changed"] if not c["direct"]}
    assert upstream == {"accuracy": ["upstream model"]}
    metric = doc["metrics"]["accuracy"]
    assert metric["delta"] == pytest.approx(metric["b"] - metric["a"]) and metric["delta"] < 0
    assert doc["wall_seconds"]["a"] is not None
    text = repo.helix("diff", shas[1], shas[2]).stdout
    assert "changed  model (workflow.py:57): body, default C" in text
    assert "upstream changed: accuracy" in text


def test_diff_against_the_working_tree(views):
    repo, shas = views
    repo.edit("workflow.py", "def samples(seed, n=1500):", "def samples(seed, n=1000):")
    try:
        doc = repo.helix_json("diff", "HEAD")
        assert repo.helix_json("diff", "HEAD", "WORKTREE") == doc
    finally:
        repo.edit("workflow.py", "def samples(seed, n=1000):", "def samples(seed, n=1500):")
    assert doc["b"]["revision"] == shas[-1][:7] + "+dirty" and doc["b"]["commit"] is None
    assert doc["b"]["run_id"] is None and doc["metrics"]["accuracy"]["b"] is None
    assert [c["name"] for c in doc["changed"] if c["direct"]] == ["samples"]


def test_explain_walks_through_the_versions_in_between(views):
    repo, shas = views
    doc = repo.helix_json("explain", "accuracy", shas[0], shas[-1])
    # shas[1] only adds a comment: shas[0] stands for it. shas[4] edits accuracy, which
    # shas[5] edits again: going through it would edit accuracy twice, a longer path.
    assert doc["path"] == [shas[i][:7] for i in (0, 2, 3, 5)]
    assert doc["distance"] == 4 == sum(s["distance"] for s in doc["steps"])
    assert sum(s["delta"] for s in doc["steps"]) == pytest.approx(doc["gap"], abs=1e-12)
    drop = doc["steps"][1]
    assert drop["subject"] == "Drop column 4"
    assert [c["name"] for c in drop["changes"]["changed"] if c["direct"]] == ["texture_features"]
    text = repo.helix("explain", "accuracy", shas[0], shas[-1]).stdout
    assert f"{shas[2][:7]} -> {shas[3][:7]}" in text
    err = repo.helix("explain", "nope", shas[0], shas[-1], code=2).stderr
    assert "has no successful run with a metric named 'nope'" in err


def test_plot_writes_valid_images_coloured_by_kind_of_change(views, tmp_path):
    repo, shas = views
    doc = repo.helix_json("plot", "accuracy", "-o", str(tmp_path / "acc.png"))
    assert [p["kind"] for p in doc["points"]] == [
        "first",
        "none",
        "learning",
        "pre-processing",
        "evaluation",
        "mixed",
    ]
    with Image.open(tmp_path / "acc.png") as image:
        image.verify()
        assert image.format == "PNG"
    repo.helix("plot", "accuracy", f"{shas[2]}..", "-o", str(tmp_path / "acc.svg"))
    root = ET.parse(tmp_path / "acc.svg").getroot()
    assert root.tag.endswith("svg")
    err = repo.helix("plot", "accuracy", "-o", str(tmp_path / "acc.jpg"), code=2).stderr
    assert "give a file name ending in .png, .svg" in err
    err = repo.helix("plot", "nope", "-o", str(tmp_path / "x.png"), code=2).stderr
    assert "no commit in HEAD has a recorded run with a metric named 'nope'" in err


def test_dag_writes_valid_dot_svg_png_and_html(views, tmp_path):
    repo, _ = views
    doc = repo.helix_json("dag", "HEAD~1", "-o", str(tmp_path / "dag.dot"))
    states = {n["name"]: n["state"] for n in doc["nodes"]}
    assert states["summary"] == "pruned" and states["seed"] in ("pruned", "loaded", "computed")
    nodes, edges = parse_dot((tmp_path / "dag.dot").read_text())
    assert nodes == [n["name"] for n in doc["nodes"]]
    assert ("features", "model") in edges and len(edges) == 12

    repo.edit("workflow.py", "def samples(seed, n=1500):", "def samples(seed, n=1000):")
    try:
        worktree = repo.helix_json("dag", "-o", str(tmp_path / "dag.svg"))
    finally:
        repo.edit("workflow.py", "def samples(seed, n=1000):", "def samples(seed, n=1500):")
    changed = {n["name"] for n in worktree["nodes"] if n["state"] == "changed"}
    assert changed == {"samples", "shape_features", "texture_features", "features", "labels",
                       "summary", "model", "accuracy"}  # fmt: skip
    root = ET.parse(tmp_path / "dag.svg").getroot()
    assert root.tag.endswith("svg")
    repo.helix("dag", "-o", str(tmp_path / "dag.png"))
    with Image.open(tmp_path / "dag.png") as image:
        image.verify()
    repo.helix("dag", "-o", str(tmp_path / "dag.html"))
    page = (tmp_path / "dag.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "</html>" in page
    err = repo.helix("dag", "-o", str(tmp_path / "dag.pdf"), code=2).stderr
    assert ".dot, .svg, .png, .html" in err


_ID = r'"(?:[^"\\]|\\.)*"'
_ATTRS = rf"\[\s*\w+\s*=\s*(?:{_ID}|[\w.#]+)(?:\s*,\s*\w+\s*=\s*(?:{_ID}|[\w.#]+))*\s*\]"


def parse_dot(text: str) -> tuple[list[str], list[tuple[str, str]]]:
    """A strict check of the DOT subset helix writes; the nodes and edges it declares."""
    lines = [line.strip() for line in text.strip().splitlines()]
    assert re.fullmatch(rf"digraph {_ID} \{{", lines[0]) and lines[-1] == "}"
    nodes: list[str] = []
    edges: list[tuple[str, str]] = []
    for line in lines[1:-1]:
        if m := re.fullmatch(rf"({_ID}) -> ({_ID});", line):
            edges.append((m.group(1)[1:-1], m.group(2)[1:-1]))
        elif m := re.fullmatch(rf"({_ID}) {_ATTRS};", line):
            nodes.append(m.group(1)[1:-1])
        else:
            assert re.fullmatch(rf"(rankdir=\w+|node {_ATTRS});", line), line
    assert {n for e in edges for n in e} <= set(nodes)
    return nodes, edges
