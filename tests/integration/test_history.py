"""bisect and blame-metric on real commit histories of the synthetic workflow."""

from __future__ import annotations

import pytest

from tests.integration import synth


@pytest.fixture
def sixteen(git_repo):
    """16 commits; commit 11 drops accuracy by 3.5 points, the others change nothing."""
    shas = synth.build(git_repo)
    git_repo.helix("init")
    assert len(shas) == 16
    return git_repo, shas


def test_bisect_names_commit_11_and_runs_at_most_5_commits(sixteen):
    repo, shas = sixteen
    doc = repo.helix_json(
        "bisect", "accuracy", "--good", shas[0], "--bad", shas[-1], "--threshold", "0.02"
    )
    assert doc["first_bad"] == shas[10]
    assert doc["good"]["metric"] == pytest.approx(synth.BASE_ACCURACY)
    assert doc["first_bad_metric"] == pytest.approx(synth.BASE_ACCURACY - 0.0347, abs=1e-3)
    assert doc["runs"] <= 5  # the good commit and at most four more
    assert doc["computed_operators"] <= 5 * synth.NEEDED // 2  # a full run computes 8
    assert doc["computed_operators"] >= synth.NEEDED  # the first run computes everything
    verdicts = {t["commit"]: t["verdict"] for t in doc["tested"]}
    assert verdicts[shas[10]] == "bad"
    assert verdicts[shas[9]] == "good"  # its parent was tested good: commit 11 is the first
    assert all((t["verdict"] == "bad") == (shas.index(t["commit"]) >= 10) for t in doc["tested"])
    changed = doc["diff"]["changed"]
    assert [c["name"] for c in changed if c["direct"]] == ["texture_features"]
    assert "+    return samples[0][:, [3, 5]]" in changed[0]["diff"]

    again = repo.helix("bisect", "accuracy", "--good", shas[0], "--threshold", "0.02")
    assert f"first bad commit: {shas[10][:7]} Texture features: drop column 4" in again.stdout
    assert "0 commits run, 0 operators computed" in again.stdout  # all recorded now


def test_bisect_skips_a_commit_that_does_not_compile_and_checks_the_bad_end(git_repo):
    history = [
        ("README.md", "", "# synth\n", "README"),
        ("README.md", "# synth\n", "# synth!\n", "README again"),
        ("workflow.py", "def labels(samples):", "def labels(samples:", "Broken"),
        ("workflow.py", "def labels(samples:", "def labels(samples):", "Fixed"),
        (*synth.DROP_COLUMN, "Drop column 4"),
        ("README.md", "# synth!\n", "# synth\n", "README once more"),
    ]
    shas = synth.build(git_repo, history)
    git_repo.helix("init")
    doc = git_repo.helix_json("bisect", "accuracy", "--good", shas[0], "--bad", shas[-1])
    assert doc["first_bad"] == shas[5]
    assert doc["maybe"] == []
    skipped = [t for t in doc["tested"] if t["verdict"] == "skip"]
    assert [t["commit"] for t in skipped] == [shas[3]]  # tested first: the middle commit
    assert "syntax error" in skipped[0]["reason"]

    rise = git_repo.helix_json("bisect", "accuracy", "--good", shas[0], "--rise")
    assert rise["first_bad"] is None  # accuracy never rose: the bad end is not bad
    assert rise["tested"][-1]["commit"] == shas[-1]
    assert rise["tested"][-1]["verdict"] == "good"


def test_bisect_input_errors_are_one_line(sixteen):
    repo, shas = sixteen
    err = repo.helix("bisect", "accuracy", "--good", shas[5], "--bad", shas[2], code=2).stderr
    assert "is not on the first-parent history" in err
    assert len(err.strip().splitlines()) == 1
    err = repo.helix("-q", "bisect", "nope", "--good", shas[0], "--bad", shas[2], code=2).stderr
    assert "no metric named 'nope'" in err and "known metrics: accuracy" in err
    err = repo.helix("bisect", "accuracy", "--good", "no-such-rev", code=2).stderr
    assert "unknown revision 'no-such-rev'" in err


def _two_edits(repo):
    """A base commit, then one commit that makes two edits (and side branches with each)."""
    base = repo.gen(synth.FILES, commit="Synthetic workflow")
    repo.helix("init")
    alone = {}
    for name, edit in (("texture", synth.DROP_COLUMN), ("model", synth.STRONG_C)):
        repo.git("checkout", "-q", "-b", name, base)
        repo.edit(*edit)
        alone[name] = repo.commit(f"only {name}")
    repo.git("checkout", "-q", "main")
    repo.edit(*synth.DROP_COLUMN)
    repo.edit(*synth.STRONG_C)
    both = repo.commit("Drop column 4 and regularize harder")
    return base, both, alone


def test_blame_isolate_separates_two_edits_and_effects_add_up(git_repo):
    base, both, alone = _two_edits(git_repo)
    single = {
        name: git_repo.helix_json("run", sha)["metrics"]["accuracy"] for name, sha in alone.items()
    }
    doc = git_repo.helix_json("blame-metric", "accuracy", "--isolate")
    [commit] = doc["commits"]
    assert commit["commit"] == both and commit["parent"] == base and commit["isolated"]
    effects = {o["name"]: o["effect"] for o in commit["operators"]}
    assert set(effects) == {"texture_features", "model"}
    # each effect is exactly what that edit alone does on top of the parent
    assert effects["texture_features"] == pytest.approx(single["texture"] - commit["a"], abs=1e-12)
    assert effects["model"] == pytest.approx(single["model"] - commit["a"], abs=1e-12)
    assert effects["texture_features"] < -0.03 and -0.02 < effects["model"] < 0
    assert commit["remainder"] != 0  # the two edits interact
    total = sum(effects.values()) + commit["remainder"]
    assert total == pytest.approx(commit["delta"], abs=1e-12)
    assert commit["delta"] == pytest.approx(commit["b"] - commit["a"], abs=1e-12)
    summary = {o["name"]: o for o in doc["operators"]}
    assert summary["texture_features"]["total"] == effects["texture_features"]
    assert summary["model"]["edits"] == 1
    log = git_repo.helix_json("log")
    assert len(log) == 4  # base, both, and the two side branches: replays are not recorded

    plain = git_repo.helix_json("blame-metric", "accuracy")["commits"][0]
    assert [o["effect"] for o in plain["operators"]] == [None, None]
    assert plain["remainder"] == pytest.approx(plain["delta"], abs=1e-12)
    text = git_repo.helix("blame-metric", "accuracy", "--isolate").stdout
    assert "interaction" in text and "replayed alone on the parent" in text


@pytest.mark.slow
def test_blame_over_sixteen_commits_finds_the_one_edit_that_moved_accuracy(sixteen):
    repo, shas = sixteen
    doc = repo.helix_json("blame-metric", "accuracy", f"{shas[0]}..")
    assert doc["walked"] == 15
    assert doc["runs"] == 16  # the start commit too: it is the first commit's parent
    [moved] = doc["commits"]
    assert moved["commit"] == shas[10]
    assert [(o["name"], o["effect"]) for o in moved["operators"]] == [
        ("texture_features", pytest.approx(moved["delta"], abs=1e-12))
    ]
    summary = {o["name"]: (o["total"], o["edits"]) for o in doc["operators"]}
    assert summary["texture_features"][0] == pytest.approx(-0.0347, abs=1e-3)
    assert summary["labels"] == (0.0, 1) and summary["features"] == (0.0, 1)
    assert summary["accuracy"] == (0.0, 1)
    again = repo.helix_json("blame-metric", "accuracy", f"{shas[0]}..")
    assert again["runs"] == 0 and again["commits"] == doc["commits"]
    err = repo.helix("blame-metric", "nope", f"{shas[12]}..", code=2).stderr
    assert "no metric named 'nope'" in err and "known metrics: accuracy" in err
