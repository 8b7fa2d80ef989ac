"""``@wf.features``, ``helix prune``, ``helix run --prune-zero-weight`` and ``--precision``:
zero-weight blocks found from coef_ and feature_importances_, never a block with a
weight, pruned / low-precision runs in key spaces of their own, and the bad inputs."""

from __future__ import annotations

import pytest

from helixvcs.store import DiskObjectStore

POINTS = "".join(f"{i},{(i * 37) % 101},{(i * 53) % 89}\n" for i in range(1, 201))

WORKFLOW = """
import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier
from helixvcs import Workflow

wf = Workflow("prunable")


@wf.source("data/points.csv")
def raw(path):
    return np.loadtxt(path, delimiter=",")


@wf.op
def label(raw):
    return (raw[:, 0] + raw[:, 1] + raw[:, 2] > 190).astype(int)


@wf.op
def signal(raw):
    return raw[:, :2] / 100.0


@wf.op
def mixed(raw):
    return np.hstack([np.zeros((raw.shape[0], 1)), raw[:, 2:3] / 100.0])


@wf.op
def dead_source(raw):
    return raw[:, :1] * 0.0


@wf.op
def dead(dead_source):
    return np.hstack([dead_source, dead_source])


@wf.op
def sparse_dead(raw):
    return sp.csr_matrix((raw.shape[0], 4))


@wf.features
def X(signal, mixed, dead, sparse_dead):
    return [signal, mixed, dead, sparse_dead]


@wf.op
def model(X, label, C=1.0):
    return MODEL.fit(X, label)


@wf.metric
def accuracy(model, X, label):
    return float(model.score(X, label))
"""

L1 = 'LogisticRegression(penalty="l1", solver="liblinear", C=C, tol=1e-8)'
L2 = "LogisticRegression(C=C, max_iter=1000)"
TREE = "DecisionTreeClassifier(max_depth=4, random_state=0)"
DEAD = ["dead_source", "dead", "sparse_dead"]  # in workflow order


def files(model: str = L1, features: str | None = None) -> dict[str, str]:
    text = WORKFLOW.replace("MODEL", model)
    if features is not None:
        start = text.index("@wf.features")
        end = text.index("@wf.op\ndef model")
        text = text[:start] + features + "\n\n" + text[end:]
    return {"workflow.py": text, "data/points.csv": POINTS}


def make(git_repo, **kwargs):
    git_repo.gen(files(**kwargs), commit="workflow")
    git_repo.helix("init")
    git_repo.commit("ignore .helix/")
    return git_repo


def states(doc: dict) -> dict[str, str]:
    return {n["name"]: n["state"] for n in doc["nodes"]}


def keys(doc: dict) -> dict[str, str]:
    return {n["name"]: n["key"] for n in doc["nodes"]}


@pytest.mark.parametrize("model", [L1, L2, TREE], ids=["l1-coef", "l2-coef", "tree-importances"])
def test_zero_weight_blocks_are_found_and_a_block_with_a_weight_never_is(git_repo, model):
    repo = make(git_repo, model=model)
    full = repo.helix_json("run")
    report = repo.helix_json("prune")
    assert report["blocks"] == {"X": ["dead", "sparse_dead"]}
    assert report["weights_run"] == full["run_id"]
    assert report["estimators"] == {"X": ["model"]}
    assert [op["name"] for op in report["operators"]] == DEAD
    assert all(op["seconds"] is not None and op["seconds"] >= 0 for op in report["operators"])
    # mixed has one zero column and one with a weight: it stays, as signal does
    assert "mixed" not in report["blocks"]["X"] and "signal" not in report["blocks"]["X"]


def test_a_pruned_run_prunes_the_blocks_reports_and_keeps_the_metric(git_repo):
    repo = make(git_repo)
    full = repo.helix_json("run", "--materialize", "all")
    pruned = repo.helix_json("run", "--prune-zero-weight", "--materialize", "all")
    assert pruned["kind"] == "pruned"
    assert all(states(pruned)[name] == "prune" for name in DEAD)
    assert states(pruned)["signal"] != "prune" and states(pruned)["mixed"] != "prune"
    assert states(pruned)["X"] == "compute" and states(pruned)["model"] == "compute"
    info = pruned["pruning"]
    assert info["weights_run"] == full["run_id"]
    assert [op["name"] for op in info["operators"]] == DEAD
    assert info["saved_seconds"] >= 0 and info["exceeded"] == []
    assert abs(info["metrics"]["accuracy"]["delta"]) <= 1e-3
    assert pruned["metrics"]["accuracy"] == pytest.approx(full["metrics"]["accuracy"], abs=1e-3)
    # only the assembly and its descendants are re-keyed
    changed = {n for n in keys(full) if keys(full)[n] != keys(pruned)[n]}
    assert changed == {"X", "model", "accuracy"}


def test_pruned_and_full_runs_never_serve_each_other(git_repo):
    repo = make(git_repo)
    full = repo.helix_json("run", "--materialize", "all")
    pruned = repo.helix_json("--prune-zero-weight", "run", "--materialize", "all")
    again = repo.helix_json("run")
    assert again["kind"] == "commit" and keys(again) == keys(full)
    loaded = {n["key"] for n in again["nodes"] if n["state"] == "load"}
    assert loaded and loaded <= set(keys(full).values())
    assert not loaded & {keys(pruned)[n] for n in ("X", "model", "accuracy")}
    pruned_again = repo.helix_json("run", "--prune-zero-weight")
    assert keys(pruned_again) == keys(pruned)
    assert pruned_again["metrics"] == pruned["metrics"]
    assert {n["key"] for n in pruned_again["nodes"] if n["state"] == "load"} <= set(
        keys(pruned).values()
    )
    kinds = {e["run_id"]: e.get("kind") for e in repo.helix_json("log")}
    assert kinds[pruned["run_id"]] == "pruned" and kinds[full["run_id"]] == "commit"


def test_a_changed_model_uses_the_assemblys_weights_and_says_so(git_repo):
    repo = make(git_repo)
    repo.helix_json("run")
    repo.edit("workflow.py", "C=1.0", "C=2.0")
    pruned = repo.helix_json("run", "--prune-zero-weight")
    assert pruned["kind"] == "pruned"
    assert any("changed since run" in note for note in pruned["pruning"]["notes"])


def test_a_metric_change_above_the_tolerance_is_loud(git_repo):
    repo = make(git_repo)
    repo.helix_json("run")
    repo.edit("workflow.py", "C=1.0", "C=0.05")  # another model: the metric moves
    doc = repo.helix_json("run", "--prune-zero-weight", "--prune-tolerance", "0")
    assert doc["pruning"]["exceeded"] == ["accuracy"] and doc["pruning"]["tolerance"] == 0
    repo.edit("workflow.py", "C=0.05", "C=0.06")
    result = repo.helix("run", "--prune-zero-weight", "--prune-tolerance", "0")
    assert "PRUNED RUN DISAGREES" in result.stderr


def test_the_tolerance_comes_from_config_toml_unless_given(git_repo):
    repo = make(git_repo)
    repo.helix_json("run")
    config = repo.path / ".helix" / "config.toml"
    config.write_text(config.read_text() + "prune_tolerance = 0.5\n")
    repo.edit("workflow.py", "C=1.0", "C=0.05")
    doc = repo.helix_json("run", "--prune-zero-weight")
    assert doc["pruning"]["tolerance"] == 0.5 and doc["pruning"]["exceeded"] == []
    config.write_text(config.read_text().replace("prune_tolerance = 0.5", "prune_tolerance = -1"))
    assert "prune_tolerance" in repo.helix("run", code=2).stderr


def test_prune_needs_a_run_that_recorded_weights(git_repo):
    repo = make(git_repo)
    result = repo.helix("run", "--prune-zero-weight", code=2)
    assert "no earlier run recorded the weights" in result.stderr
    assert "'X'" in result.stderr and "Traceback" not in result.stderr
    assert repo.helix("prune", code=2).stderr.count("\n") == 1


def test_prune_needs_a_features_operator(git_repo):
    plain = WORKFLOW.replace("@wf.features", "@wf.op").replace(
        "return [signal, mixed, dead, sparse_dead]", "return np.hstack([signal, mixed, dead])"
    )
    git_repo.gen({"workflow.py": plain.replace("MODEL", L1), "data/points.csv": POINTS}, "wf")
    git_repo.helix("init")
    git_repo.helix("run")
    result = git_repo.helix("run", "--prune-zero-weight", code=2)
    assert "no @wf.features operator" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("body", "words", "code"),
    [
        ("return [signal, mixed[:10], dead, sparse_dead]", ["'X'", "'mixed'", "rows"], 1),
        ("return list((signal, mixed, dead))", ["'X'", "3 blocks", "4 block parameters"], 1),
        ("return [signal, mixed, dead]", ["'X'", "3 blocks", "4 block parameters"], 2),
        ("return [signal, dead, mixed, sparse_dead]", ["'X'", "'dead'", "'mixed'", "order"], 2),
        ("return [signal, mixed.astype(str), dead, sparse_dead]", ["'mixed'", "numeric"], 1),
        ("return np.hstack([signal, mixed])", ["'X'", "list of its blocks"], 1),
    ],
    ids=["row-counts", "block-count", "block-count-literal", "order", "non-numeric", "not-a-list"],
)
def test_a_bad_assembly_fails_naming_the_operator_and_the_block(git_repo, body, words, code):
    features = "@wf.features\ndef X(signal, mixed, dead, sparse_dead):\n    " + body + "\n"
    repo = make(git_repo, features=features)
    result = repo.helix("run", code=code)
    line = next(x for x in result.stderr.splitlines() if "error" in x)
    assert all(word in line for word in words), line
    assert "Traceback" not in result.stderr


def test_a_features_operator_without_blocks_is_a_compile_error(git_repo):
    features = "@wf.features\ndef X(scale=1.0):\n    return []\n"
    repo = make(git_repo, features=features.replace("X(", "unused(") + WORKFLOW[:0])
    result = repo.helix("run", code=2)
    assert "@wf.features" in result.stderr and "workflow.py" in result.stderr


def test_bad_precision_is_exit_2(git_repo):
    repo = make(git_repo)
    result = repo.helix("run", "--precision", "float16", code=2)
    assert "--precision" in result.stderr and "float32" in result.stderr
    assert repo.helix("--precision", "half", "run", code=2).stderr.count("\n") == 1


def test_float32_runs_in_its_own_key_space_and_reports_the_metric_change(git_repo):
    repo = make(git_repo)
    full = repo.helix_json("run", "--materialize", "all")
    low = repo.helix_json("run", "--precision", "float32", "--materialize", "all")
    assert low["kind"] == "precision" and low["precision"] == "float32" and low["approximate"]
    assert all(keys(low)[n] != keys(full)[n] for n in keys(full))
    assert not [n for n in low["nodes"] if n["state"] == "load"]
    change = low["precision_change"]
    assert change["run_id"] == full["run_id"]
    delta = change["metrics"]["accuracy"]["delta"]
    assert delta == pytest.approx(low["metrics"]["accuracy"] - full["metrics"]["accuracy"])
    by_name = {n["name"]: n for n in low["nodes"]}
    full_nodes = {n["name"]: n for n in full["nodes"]}
    store = DiskObjectStore(repo.path / ".helix" / "objects", hot=False)
    low_info, full_info = (store.info(n["signal"]["key"]) for n in (by_name, full_nodes))
    assert low_info and full_info and low_info.raw_bytes < full_info.raw_bytes  # float32
    again = repo.helix_json("--precision", "float32", "run")
    assert keys(again) == keys(low) and again["metrics"] == low["metrics"]
    assert repo.helix_json("run")["metrics"] == full["metrics"]
    assert keys(repo.helix_json("run")) == keys(full)


def test_suggest_offers_the_prune(git_repo):
    repo = make(git_repo)
    repo.helix_json("run")
    doc = repo.helix_json("suggest", "--metric", "accuracy")
    assert doc["prune"]["blocks"] == {"X": ["dead", "sparse_dead"]}
    assert doc["prune"]["command"] == "helix run --prune-zero-weight"


def test_column_provenance_and_weights_are_recorded_with_every_run(git_repo):
    from helixvcs.index import Index

    repo = make(git_repo)
    first = repo.helix_json("run", "--materialize", "all")
    second = repo.helix_json("run")
    index = Index(repo.path / ".helix" / "index.duckdb")
    for doc in (first, second):
        rows = index.query(
            "SELECT block, start, stop FROM feature_blocks WHERE run_id = ? ORDER BY position",
            [doc["run_id"]],
        )
        assert rows == [("signal", 0, 2), ("mixed", 2, 4), ("dead", 4, 6), ("sparse_dead", 6, 10)]
    assert states(second)["X"] != "compute"  # loaded or pruned: provenance from its key
    (weights,) = index.query(
        "SELECT name, attribute, width FROM estimator_weights WHERE run_id = ?",
        [first["run_id"]],
    )
    assert weights == ("model", "coef_", 10)


def test_an_estimator_on_other_columns_is_refused_not_guessed(git_repo):
    repo = make(git_repo)
    repo.edit("workflow.py", ".fit(X, label)", ".fit(X[:, :5], label)")
    repo.edit("workflow.py", "model.score(X, label)", "model.score(X[:, :5], label)")
    repo.helix_json("run")
    result = repo.helix("prune", code=2)
    assert "saw 5 features but 'X' has 10 columns" in result.stderr
    assert "cannot be mapped" in result.stderr


def test_a_pruned_run_on_threads(git_repo):
    repo = make(git_repo)
    full = repo.helix_json("run", "--executor", "threads")
    pruned = repo.helix_json("run", "--executor", "threads", "--prune-zero-weight")
    assert all(states(pruned)[name] == "prune" for name in DEAD)
    assert pruned["metrics"] == full["metrics"]


def test_the_warm_client_reads_precision_as_a_global_option_with_a_value():
    from helixvcs.cli.warm.client import command_of

    assert command_of(["--precision", "float32", "run"]) == ("run", ".")
    assert command_of(["--prune-zero-weight", "--repo", "r", "run"]) == ("run", "r")
