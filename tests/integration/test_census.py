"""The census example end to end through the CLI, and ``helix demo``."""

from __future__ import annotations

import pytest

from helixvcs.demo.scenario import ITERATIONS, create_repo
from tests.conftest import GitRepo
from tests.integration.toy import computed

FEATURES = {
    "age_bucket",
    "education_occupation",
    "capital",
    "hours_bucket",
    "marital_relationship",
    "country_group",
    "demographics",
}


@pytest.fixture(scope="module")
def census(tmp_path_factory) -> GitRepo:
    path = tmp_path_factory.mktemp("census") / "repo"
    create_repo(path)
    repo = GitRepo(path)
    repo.helix("init")
    return repo


def test_census_run_reuse_and_a_model_change(census):
    first = census.helix_json("run")
    assert 0.84 <= first["metrics"]["accuracy"] <= 0.86
    assert 0.6 <= first["metrics"]["f1"] <= 0.7
    assert computed(first) == {n["name"] for n in first["nodes"]}

    again = census.helix_json("run")
    assert computed(again) == set()
    assert again["metrics"] == first["metrics"]

    census.edit("workflow.py", "C=1.0", "C=0.1")
    changed = census.helix_json("run")
    assert "model" in computed(changed)
    model_descendants = {"model", "scores", "accuracy", "f1", "predictions"}
    assert computed(changed) - model_descendants <= {"raw_train", "raw_test", "rows"}
    assert not computed(changed) & FEATURES  # the features were loaded, not recomputed
    assert changed["metrics"]["accuracy"] != first["metrics"]["accuracy"]


def test_show_previews_a_table_and_a_model(census):
    census.helix("run")
    rows = census.helix("show", "rows").stdout
    assert "pyarrow.Table 48842 rows" in rows and "is_test" in rows
    model = census.helix("show", "model").stdout
    assert "LogisticRegression" in model


@pytest.mark.slow
def test_demo_makes_four_iterations_and_prints_the_log(tmp_path):
    dest = tmp_path / "demo"
    result = GitRepo(tmp_path).helix("demo", str(dest))
    assert result.stdout.count("== commit:") == 1 + len(ITERATIONS)
    assert "helix log:" in result.stdout
    log = GitRepo(dest).helix_json("log")
    assert len(log) == 4 and all(e["status"] == "ok" for e in log)
    assert [e["subject"] for e in reversed(log)][1:] == [it.message for it in ITERATIONS]
    first, later = log[-1]["counts"]["compute"], [e["counts"]["compute"] for e in log[:-1]]
    assert all(n < first for n in later)
    refuse = GitRepo(tmp_path).helix("demo", str(dest), code=2)
    assert "not empty" in refuse.stderr
