"""What a git user expects of helix: defaults, baselines and answers that match git's."""

from __future__ import annotations

import json

import pytest

from tests.integration.toy import WORKFLOW as FILES_WORKFLOW


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


def test_init_twice_says_already_initialized_and_changes_nothing(toy):
    (toy.path / ".gitignore").write_text("# mine\n")  # the user took .helix/ out
    config = (toy.path / ".helix" / "config.toml").read_text()
    out = toy.helix("init").stdout
    assert out.startswith("helixvcs is already initialized in ") and "nothing changed" in out
    assert "initialized helixvcs" not in out
    assert (toy.path / ".gitignore").read_text() == "# mine\n"
    assert (toy.path / ".helix" / "config.toml").read_text() == config


# -- a one-metric workflow whose value each commit sets ------------------------------

WORKFLOW = """\
from helixvcs import Workflow
from params import VALUE

wf = Workflow("m")


@wf.op
def base():
    return VALUE


@wf.metric
def m(base):
    return base
"""


def history(repo, values, broken=()):
    """One commit per value (``params.VALUE``); commits whose index is in ``broken`` add
    a syntax error to the workflow (the next commit removes it)."""
    shas = []
    for i, value in enumerate(values):
        workflow = WORKFLOW + ("\ndef broken(:\n" if i in broken else "")
        files = {"workflow.py": workflow, "params.py": f"VALUE = {value}\n", "n.txt": f"{i}\n"}
        shas.append(repo.gen({**files, ".gitignore": ".helix/\n"}, commit=f"value {value}"))
    repo.helix("init")
    return shas


def test_bisect_counts_nan_as_bad_and_names_it(git_repo):
    nan = 'float("nan")'
    shas = history(git_repo, [1.0, 1.0, 1.0, nan, nan, 0.0])
    doc = git_repo.helix_json("bisect", "m", "--good", shas[0])
    assert doc["first_bad"] == shas[3]  # not the 0.0 at the end: NaN is never good
    assert shas[3] in doc["nan"]
    assert all(t["verdict"] == "bad" for t in doc["tested"] if t["nan"])
    out = git_repo.helix("bisect", "m", "--good", shas[0]).stdout
    assert f"first bad commit: {shas[3][:7]}" in out
    assert f"m is NaN (counted as bad) at: {shas[3][:7]}" in out


def test_a_nan_metric_is_recorded_with_a_warning(git_repo):
    history(git_repo, ['float("nan")'])
    result = git_repo.helix("run")
    assert "warning: metric m is NaN" in result.stderr
    assert "m" in git_repo.helix_json("log")[0]["metrics"]


def test_unknown_metric_is_exit_2_before_anything_runs(git_repo):
    shas = history(git_repo, [1.0, 2.0, 3.0])
    for args in (["blame-metric", "accuarcy"], ["bisect", "accuarcy", "--good", shas[0]]):
        err = git_repo.helix(*args, code=2).stderr
        assert "no metric named 'accuarcy'" in err and "known metrics: m" in err
        assert len(err.strip().splitlines()) == 1
    assert git_repo.helix_json("log") == []  # nothing ran, nothing recorded


def test_blame_merges_a_commit_that_does_not_compile_into_the_next(git_repo):
    shas = history(git_repo, [1.0, 5.0, 5.0], broken={1})
    doc = git_repo.helix_json("blame-metric", "m")
    assert [c["commit"] for c in doc["commits"]] == [shas[2]]
    moved = doc["commits"][0]
    assert moved["parent"] == shas[0] and moved["merged"] == [shas[1]]
    assert moved["delta"] == 4.0
    assert [o["name"] for o in moved["operators"]] == ["base"]
    assert moved["operators"][0]["effect"] == 4.0
    assert [s["commit"] for s in doc["skipped"]] == [shas[1]]
    assert "with the edits of" in git_repo.helix("blame-metric", "m").stdout


def test_metrics_print_with_every_digit_that_tells_them_apart(git_repo):
    shas = history(git_repo, [0.85046, 0.85049])
    git_repo.helix("run", shas[0])
    out = git_repo.helix("run").stdout
    assert "0.85049" in out
    log = git_repo.helix("log").stdout
    assert "m=0.85046" in log and "m=0.85049" in log
    diff = git_repo.helix("diff", shas[0], shas[1]).stdout
    assert "0.85046" in diff and "0.85049" in diff


def test_a_numpy_bool_metric_is_rejected_and_a_bad_dict_key_named(git_repo):
    history(git_repo, ["__import__('numpy').bool_(True)"])
    err = git_repo.helix("run", code=1).stderr
    assert "metric 'm' returned bool" in err and "float(flag)" in err
    git_repo.gen({"params.py": "VALUE = {'f1': 0.5, 'per_class': [0.1, 0.2]}\n"}, commit="dict")
    err = git_repo.helix("run", code=1).stderr
    assert "metric 'm' returned list for key 'per_class'" in err


def test_ui_api_plot_of_an_unknown_metric_is_404(git_repo):
    from tests.ui.conftest import fetch, start_ui

    history(git_repo, [1.0])
    git_repo.helix("run")
    ui = start_ui(git_repo)
    try:
        status, body = fetch(ui.url + "api/plot/nosuch")
        assert status == 404 and "known metrics: m" in body
        assert fetch(ui.url + "api/plot/m")[0] == 200
    finally:
        ui.stop()


def test_log_limit_counts_iterations_not_explored_variants(toy):
    toy.helix("run")
    first = toy.git("rev-parse", "HEAD")
    toy.edit("workflow.py", "factor=2.0", "factor=3.0")
    toy.commit("triple")
    toy.helix("run")
    toy.edit(
        "workflow.py",
        "@wf.op\ndef scaled(xs, factor=3.0):",
        "@wf.op(explore={'factor': [1.0, 5.0]})\ndef scaled(xs, factor=3.0):",
    )
    toy.commit("explore factor")
    toy.helix("run")
    toy.helix("explore")
    doc = toy.helix_json("log", "-n", "2")
    iterations = [e for e in doc if e["kind"] != "explored"]
    variants = [e for e in doc if e["kind"] == "explored"]
    assert [e["subject"] for e in iterations] == ["explore factor", "triple"]
    assert len(variants) == 2 and iterations[1]["variants"] == []
    assert iterations[0]["variants"] == [v["run_id"] for v in variants]
    text = toy.helix("log", "-n", "2").stdout
    assert "triple" in text and "explored variants (2" in text
    every = toy.helix_json("log", "--variants", "-n", "2")
    assert [e["kind"] for e in every] == ["explored", "explored"]
    assert first in {e["commit"] for e in toy.helix_json("log", "-n", "3")}


def test_diff_without_arguments_is_head_against_the_working_tree_with_helper_hunks(toy):
    head = toy.git("rev-parse", "--short", "HEAD")
    toy.edit("toylib.py", "SHIFT = 1.0", "SHIFT = 5.0")
    toy.edit("toylib.py", "return x * f", "return x * f * 1")
    out = toy.helix("diff").stdout
    assert out.startswith(f"diff {head} -> {head}+dirty\n")
    line = next(n for n, text in enumerate(FILES_WORKFLOW.splitlines(), 1) if "def shifted" in text)
    assert f"changed  shifted (workflow.py:{line - 1}): constant workflow.SHIFT" in out
    assert "--- a/toylib.py" in out and "-SHIFT = 1.0" in out and "+SHIFT = 5.0" in out
    assert "-    return x * f\n" in out
    assert "+    return x * f * 1" in out
    doc = toy.helix_json("diff")
    scaled = next(c for c in doc["changed"] if c["name"] == "scaled")
    assert scaled["where"].startswith("workflow.py:")
    [hunk] = scaled["hunks"]
    assert hunk["file"] == "toylib.py" and hunk["line"] == 4 and "@@ -" in hunk["diff"]


def test_diff_of_one_revision_is_that_revision_against_the_working_tree(toy):
    toy.edit("workflow.py", "factor=2.0", "factor=3.0")
    toy.commit("triple")
    toy.edit("workflow.py", "factor=3.0", "factor=4.0")
    doc = toy.helix_json("diff", "HEAD~1")
    assert doc["a"]["revision"] == toy.git("rev-parse", "--short", "HEAD~1")
    assert doc["b"]["revision"].endswith("+dirty")
    assert [c["name"] for c in doc["changed"] if c["direct"]] == ["scaled"]


def test_a_library_function_swapped_behind_an_alias_is_a_change_named_as_imported(git_repo):
    params = "from sklearn.metrics import {} as SCORE\n"
    workflow = """\
        from params import SCORE
        from helixvcs import Workflow

        wf = Workflow("s")


        @wf.metric
        def m():
            return float(SCORE([0, 1, 1], [0, 1, 0]))
        """
    files = {"workflow.py": workflow, "params.py": params.format("f1_score")}
    git_repo.gen({**files, ".gitignore": ".helix/\n"}, commit="f1")
    git_repo.helix("init")
    assert git_repo.helix_json("run")["metrics"]["m"] == pytest.approx(2 / 3)
    git_repo.gen({"params.py": params.format("precision_score")})
    status = git_repo.helix_json("status")
    [change] = status["changed"]
    assert "sklearn.metrics._classification.precision_score" in change["reason"]
    assert "<locals>" not in change["reason"]
    assert git_repo.helix_json("run")["metrics"]["m"] == 1.0  # never the stale 2/3


def test_repo_value_reads_any_revision_without_touching_the_working_tree(toy):
    from helixvcs import Repo, UserInputError

    toy.helix("run")
    toy.edit("workflow.py", "factor=2.0", "factor=3.0")  # uncommitted
    status_before = toy.git("status", "--porcelain")
    repo = Repo(toy.path)
    assert repo.value("scaled") == [2.0, 4.0, 6.0]  # HEAD's, not the working tree's
    assert repo.value("total", rev=None) == 81.0  # the working tree: 3 * 6 + 63
    assert repo.value("unused", rev="HEAD") == 3  # never stored: computed
    toy.commit("triple")
    assert repo.value("scaled", rev="HEAD~1") == [2.0, 4.0, 6.0]
    assert repo.value("scaled", rev="HEAD") == [3.0, 6.0, 9.0]  # never ran: computed
    assert toy.git("status", "--porcelain") == "" != status_before
    with pytest.raises(UserInputError, match=r"no operator named 'nosuch'.*known: raw, xs"):
        repo.value("nosuch")
    with pytest.raises(UserInputError, match="unknown revision 'nope'"):
        repo.value("total", rev="nope")
    toy.gen({"workflow.py": FILES_WORKFLOW + "\ndef broken(:\n"}, commit="broken")
    with pytest.raises(UserInputError, match="revision HEAD does not compile"):
        repo.value("total")
    assert len(toy.helix_json("log")) == 1  # nothing recorded


def test_every_report_and_the_log_have_to_json(toy):
    from helixvcs import Repo

    repo = Repo(toy.path)
    toy.helix("run")
    log = repo.log()
    assert log.to_json() == toy.helix_json("log")
    assert json.loads(json.dumps(repo.status().to_json()))["baseline"]["behind"] == 0
    assert repo.diff().to_json()["changed"] == []


def test_the_readme_counts_the_demo_commits_right():
    from pathlib import Path

    from helixvcs.demo.scenario import ITERATIONS

    words = {3: "three", 4: "four", 5: "five", 6: "six"}
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    assert f"{words[len(ITERATIONS) + 1]} commits" in readme  # the workflow, then each edit


def test_explain_backwards_names_the_commit_whose_edits_a_step_undoes(toy):
    toy.helix("run")
    for old, new, subject in [
        ("factor=2.0", "factor=3.0", "triple"),
        ("y + SHIFT", "y + 2 * SHIFT", "shift twice"),
    ]:
        toy.edit("workflow.py", old, new)
        toy.commit(subject)
        toy.helix("run")
    back = toy.helix_json("explain", "total", "HEAD", "HEAD~2")
    assert [(s["subject"], s["backward"]) for s in back["steps"]] == [
        ("shift twice", True),
        ("triple", True),
    ]
    assert "undoes" in toy.helix("explain", "total", "HEAD", "HEAD~2").stdout
    forward = toy.helix_json("explain", "total", "HEAD~2", "HEAD")
    assert [(s["subject"], s["backward"]) for s in forward["steps"]] == [
        ("triple", False),
        ("shift twice", False),
    ]


def test_every_report_a_repo_method_returns_has_to_json():
    import ast
    import importlib
    import inspect
    from pathlib import Path

    import helixvcs.repo
    from helixvcs import Repo

    tree = ast.parse(Path(helixvcs.repo.__file__).read_text(encoding="utf-8"))
    where = {
        alias.name: node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    }
    checked = []
    for name, method in inspect.getmembers(Repo, inspect.isfunction):
        returned = inspect.signature(method).return_annotation
        if name.startswith("_") or not isinstance(returned, str) or returned not in where:
            continue
        if not returned.endswith(("Report", "Entries")):
            continue
        cls = getattr(importlib.import_module(where[returned]), returned)
        assert callable(getattr(cls, "to_json", None)), f"Repo.{name} returns {returned}"
        checked.append(returned)
    assert {"LogEntries", "StatusReport", "DiffReport", "BisectReport"} <= set(checked)
