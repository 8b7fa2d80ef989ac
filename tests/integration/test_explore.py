"""``helix explore`` and ``helix suggest``: variants of the current version, recorded in
the index (never in git), and the source edit that applies the best one."""

from __future__ import annotations

import subprocess

import pytest

from helixvcs.index import Index
from tests.integration.toy import FILES

GRID = '@wf.op(explore={"factor": [0.5, 1.0, 3.0, 4.0]})\ndef scaled(xs, factor=2.0):'
SLOW_COUNT = ("    return float(len(xs))", "    time.sleep(0.02)\n    return float(len(xs))")


@pytest.fixture
def toy(git_repo):
    workflow = FILES["workflow.py"].replace("@wf.op\ndef scaled(xs, factor=2.0):", GRID)
    workflow = workflow.replace(*SLOW_COUNT)  # so that loading it beats computing it
    git_repo.gen({**FILES, "workflow.py": workflow}, commit="toy")
    git_repo.helix("init")
    git_repo.commit("ignore .helix/")
    return git_repo


def git_state(repo) -> tuple[str, str, str]:
    return (
        repo.git("rev-parse", "HEAD"),
        repo.git("status", "--porcelain"),
        repo.git("stash", "list"),
    )


def test_each_value_computes_only_the_operator_and_its_descendants(toy):
    before = git_state(toy)
    base = toy.helix_json("run")
    doc = toy.helix_json("explore", "--metric", "total")
    assert doc["base"] == {"run_id": base["run_id"], "metric": 75.0, "ran": False}
    assert [v["label"] for v in doc["variants"]] == [
        "scaled.factor=0.5",
        "scaled.factor=1.0",
        "scaled.factor=3.0",
        "scaled.factor=4.0",
    ]
    index = Index(toy.path / ".helix" / "index.duckdb")
    for v in doc["variants"]:
        states = {n.name: n.state for n in index.nodes(v["run_id"])}
        assert {n for n, s in states.items() if s == "compute"} == {"scaled", "total"}, states
        assert states["xs"] == "load" and states["count"] == "load"
    # total = factor * (1 + 2 + 3) + 63
    assert [v["metric"] for v in doc["variants"]] == [66.0, 69.0, 81.0, 87.0]
    assert doc["best"]["label"] == "scaled.factor=4.0" and doc["best"]["delta"] == 12.0
    assert git_state(toy) == before  # nothing written to git


def test_explored_variants_are_versions_apart_from_commits(toy):
    sha = toy.git("rev-parse", "HEAD")
    toy.helix("run")
    toy.helix("explore")
    entries = toy.helix_json("log")
    explored = [e for e in entries if e["kind"] == "explored"]
    assert len(explored) == 4 and len(entries) == 5
    assert all(e["base_commit"] == sha and e["commit"] is None for e in explored)
    assert explored[0]["variant"] == {"scaled": {"factor": 4.0}}
    assert explored[0]["revision"] == f"{sha[:7]}[scaled.factor=4.0]"
    assert "explored variants (4" in toy.helix("log").stdout
    status = toy.helix_json("status")  # the last run is still the commit's own
    assert status["changed"] == [] and status["last_run"] == entries[-1]["run_id"]
    diff = toy.helix_json("diff", "HEAD", "HEAD")
    assert len(diff["explored"]["b"]) == 4 and diff["metrics"]["total"]["b"] == 75.0
    assert "explored from" in toy.helix("diff", "HEAD").stdout
    explain = toy.helix_json("explain", "total", "HEAD", "HEAD")
    assert explain["versions"] >= 5  # the commit and its four variants are points
    again = toy.helix_json("explore")  # the same variants with the same keys: not run again
    assert [v["status"] for v in again["variants"]] == ["known"] * 4
    assert len(toy.helix_json("log")) == 5


def test_suggest_prints_a_patch_that_git_apply_accepts(toy):
    toy.helix("run")
    toy.helix("explore")
    doc = toy.helix_json("suggest")
    assert doc["metric"] == "total" and doc["direction"] == "maximize"
    best = doc["suggestions"][0]
    assert best["label"] == "scaled.factor=4.0" and best["gain"] == 12.0
    assert [s["label"] for s in doc["suggestions"]] == ["scaled.factor=4.0", "scaled.factor=3.0"]
    assert "-def scaled(xs, factor=2.0):\n+def scaled(xs, factor=4.0):" in best["patch"]
    text = toy.helix("suggest", "-n", "1").stdout
    patch = toy.path.parent / "best.patch"
    patch.write_text(text)
    subprocess.run(["git", "apply", "--check", str(patch)], cwd=toy.path, check=True)
    subprocess.run(["git", "apply", str(patch)], cwd=toy.path, check=True)
    toy.commit("factor 4")
    assert toy.helix_json("run")["metrics"]["total"] == 87.0


def test_the_best_combination_follows_single_changes_and_history_names_movers(toy):
    toy.edit("workflow.py", "def shifted(ys):", "def shifted(ys, offset=0.0):")
    toy.edit("workflow.py", "[y + SHIFT for y in ys]", "[y + SHIFT + offset for y in ys]")
    toy.edit(
        "workflow.py",
        "@wf.op\ndef shifted",
        '@wf.op(explore={"offset": [-1.0, 2.0]})\ndef shifted',
    )
    toy.commit("offset")
    toy.helix("run")
    toy.edit("toylib.py", "SHIFT = 1.0", "SHIFT = 2.0")
    toy.commit("shift")
    toy.helix("run")
    doc = toy.helix_json("explore", "--budget", "5m")
    combined = [v for v in doc["variants"] if v["combined"]]
    assert len(doc["variants"]) == 7 and len(combined) == 1
    assert combined[0]["variant"] == {"scaled": {"factor": 4.0}, "shifted": {"offset": 2.0}}
    assert combined[0]["metric"] == 78.0 + 12.0 + 6.0 and doc["best"]["combined"]
    suggest = toy.helix_json("suggest", "--metric", "total")
    assert suggest["suggestions"][0]["variant"] == combined[0]["variant"]
    patch = toy.path.parent / "combo.patch"
    patch.write_text(suggest["suggestions"][0]["patch"])
    subprocess.run(["git", "apply", "--check", str(patch)], cwd=toy.path, check=True)
    movers = {m["name"]: m for m in suggest["operators"]}
    assert movers["shifted"]["net"] == 3.0 and movers["shifted"]["edits"] == 1


def test_a_spent_budget_runs_no_variant(toy):
    toy.helix("run")
    doc = toy.helix_json("explore", "--budget", "0.001s")
    assert doc["variants"] == [] and doc["skipped"] == 4 and "time budget" in doc["stopped"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["explore", "--metric", "nope"], "unknown metric 'nope'"),
        (["explore", "--budget", "soon"], "bad time budget 'soon'"),
        (["explore", "--sample", "2"], "bad --sample 2"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(toy, args, message):
    result = toy.helix(*args, code=2)
    assert result.stderr.count("\n") == 1 and message in result.stderr


def test_a_workflow_without_alternatives_says_how_to_declare_them(git_repo):
    git_repo.gen(FILES, commit="toy")
    git_repo.helix("init")
    result = git_repo.helix("explore", code=2)
    assert "declares alternatives" in result.stderr and "explore=" in result.stderr
    assert result.stderr.count("\n") == 1
