"""What a git user expects of helix: defaults, baselines and answers that match git's."""

from __future__ import annotations

import json


def test_status_compares_with_heads_run_not_an_older_commits(toy):
    toy.helix("run")
    head = toy.git("rev-parse", "HEAD")
    toy.edit("workflow.py", "factor=2.0", "factor=3.0")
    toy.commit("triple")
    toy.helix("run")
    toy.helix("run", head)  # an older commit runs last, as bisect would
    doc = toy.helix_json("status")
    assert doc["changed"] == []  # scaled differs from the old run, not from HEAD's
    assert doc["baseline"]["commit"] == toy.git("rev-parse", "HEAD")
    assert doc["baseline"]["of"] == "head" and doc["baseline"]["behind"] == 0
    assert "HEAD" in toy.helix("status").stdout.splitlines()[0]


def test_status_falls_back_to_the_nearest_ancestor_and_says_so(toy):
    toy.helix("run")
    ran = toy.git("rev-parse", "HEAD")
    toy.edit("workflow.py", "factor=2.0", "factor=3.0")
    toy.commit("triple")
    toy.gen({"README.md": "toy\n"}, commit="readme")
    doc = toy.helix_json("status")
    assert doc["baseline"] == {
        "run_id": doc["last_run"],
        "revision": ran[:7],
        "commit": ran,
        "of": "ancestor",
        "behind": 2,
    }
    assert [c["name"] for c in doc["changed"]] == ["scaled", "total"]
    first = toy.helix("status").stdout.splitlines()[0]
    assert "HEAD~2, the nearest ancestor with a run; HEAD has none" in first


def test_status_json_is_one_document(toy):
    assert json.loads(toy.helix("status", "--json").stdout)["baseline"] is None
