"""``helix run --sample F --seed N``: the same rows every time, a key space of its own,
approximate metrics, and how well sampled changes predict full ones."""

from __future__ import annotations

import pytest

from tests.integration.toy import FILES, computed

POINTS = "".join(f"{i},{(i * 37) % 101}\n" for i in range(1, 201))
PER_ROW = """

@wf.metric(per_row=True)
def closeness(scaled, shifted):
    return [abs(a - b) for a, b in zip(scaled, shifted)]
"""


@pytest.fixture
def toy(git_repo):
    files = {**FILES, "data/points.csv": POINTS, "workflow.py": FILES["workflow.py"] + PER_ROW}
    git_repo.gen(files, commit="toy")
    git_repo.helix("init")
    git_repo.commit("ignore .helix/")
    return git_repo


def keys(doc: dict) -> dict[str, str]:
    return {n["name"]: n["key"] for n in doc["nodes"]}


def test_two_sampled_runs_with_the_same_fraction_and_seed_select_the_same_rows(toy):
    first = toy.helix_json("run", "--sample", "0.3", "--seed", "5", "--materialize", "none")
    again = toy.helix_json("--sample", "0.3", "--seed", "5", "run", "--materialize", "none")
    assert computed(again) == computed(first)  # nothing stored: both computed from the file
    assert again["metrics"] == first["metrics"]
    assert 30 < first["metrics"]["count"] < 90  # about 0.3 x 200 rows
    other = toy.helix_json("run", "--sample", "0.3", "--seed", "6", "--materialize", "none")
    assert other["metrics"]["total"] != first["metrics"]["total"]
    assert (first["sample"], first["seed"], first["kind"], first["approximate"]) == (
        0.3,
        5,
        "sampled",
        True,
    )


def test_sampled_and_full_runs_never_load_each_others_intermediates(toy):
    full = toy.helix_json("run")
    sampled = toy.helix_json("run", "--sample", "0.5")
    data = {"raw", "xs", "ys", "scaled", "shifted", "total", "count", "closeness"}
    assert all(keys(sampled)[n] != keys(full)[n] for n in data)
    assert computed(sampled) == data  # nothing of the full run was loaded
    again = toy.helix_json("run")
    loaded = {n["key"] for n in again["nodes"] if n["state"] == "load"}
    assert loaded and loaded <= set(keys(full).values())
    assert again["metrics"] == full["metrics"] and again["kind"] == "commit"
    sampled_again = toy.helix_json("run", "--sample", "0.5")
    assert sampled_again["metrics"] == sampled["metrics"]
    assert {n["key"] for n in sampled_again["nodes"] if n["state"] == "load"} <= set(
        keys(sampled).values()
    )
    status = toy.helix_json("status")  # compares with the full run, not the sampled one
    assert status["last_run"] == again["run_id"] and status["changed"] == []


def test_approximate_metrics_are_marked_everywhere_with_an_interval(toy):
    toy.helix("run")
    doc = toy.helix_json("run", "--sample", "0.5")
    lo, hi = doc["ci"]["closeness"]
    assert lo <= doc["metrics"]["closeness"] <= hi and "total" not in doc["ci"]
    text = toy.helix("run", "--sample", "0.5").stdout
    assert "on a 0.5 sample (seed 0)" in text and "closeness" in text and "95% CI" in text
    entries = toy.helix_json("log")
    assert [e["kind"] for e in entries] == ["sampled", "sampled", "commit"]
    assert entries[0]["approximate"] and entries[0]["ci"]["closeness"] == [lo, hi]
    assert not entries[2]["approximate"] and entries[2]["sample"] is None
    log = toy.helix("log").stdout
    assert "~0.5" in log and "total=~" in log


def test_log_says_whether_sampled_changes_predicted_the_full_ones(toy):
    toy.helix("run")
    toy.helix("run", "--sample", "0.5")
    toy.edit("toylib.py", "SHIFT = 1.0", "SHIFT = 3.0")
    toy.commit("shift up")
    toy.helix("run")
    toy.helix("run", "--sample", "0.5")
    newest = toy.helix_json("log")[0]
    agreement = newest["agreement"]
    assert agreement["total"]["agree"] is True and agreement["total"]["full"] == 400.0
    assert agreement["count"]["full"] == 0.0 and agreement["count"]["agree"] is True
    assert "predicted the direction" in toy.helix("log").stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sample", "1.5", "run"], "bad --sample 1.5"),
        (["run", "--sample", "0"], "bad --sample 0"),
        (["run", "--sample", "abc"], "bad --sample 'abc'"),
        (["run", "--seed", "3"], "give --sample F too"),
        (["run", "--sample", "0.1", "--seed", "x"], "bad --seed 'x'"),
    ],
)
def test_bad_sample_options_are_one_line_and_exit_2(toy, args, message):
    result = toy.helix(*args, code=2)
    assert result.stderr.count("\n") == 1 and message in result.stderr
