"""End-to-end runs of the core in real git repositories: reuse, changes, outputs."""

from __future__ import annotations

from tests.integration.toy import NAMES, TOTAL, computed, states


def test_first_run_computes_what_outputs_need(toy):
    doc = toy.helix_json("run")
    assert doc["status"] == "ok"
    assert [n["name"] for n in doc["nodes"]] == NAMES
    assert states(doc)["unused"] == "prune"
    assert computed(doc) == set(NAMES) - {"unused"}
    assert doc["metrics"] == {"total": TOTAL, "count": 3.0}
    assert doc["commit"] == toy.git("rev-parse", "HEAD")
    assert doc["revision"] == doc["commit"][:7]


def test_second_run_computes_nothing_and_metrics_are_identical(toy):
    first = toy.helix_json("run")
    second = toy.helix_json("run")
    assert computed(second) == set()
    assert {n for n, s in states(second).items() if s == "load"} == {"total", "count"}
    assert second["metrics"] == first["metrics"]
    assert [n["key"] for n in second["nodes"]] == [n["key"] for n in first["nodes"]]


def test_changing_one_extractor_recomputes_it_and_its_descendants(toy):
    toy.helix("run")
    toy.edit("workflow.py", "return [y + SHIFT for y in ys]", "return [y + 2 * SHIFT for y in ys]")
    doc = toy.helix_json("run")
    assert computed(doc) == {"shifted", "total"}
    assert states(doc)["ys"] == "load"
    assert doc["metrics"]["total"] == TOTAL + 3


def test_init_adds_helix_to_gitignore_and_makes_store_private(toy):
    assert ".helix/" in (toy.path / ".gitignore").read_text().splitlines()
    assert (toy.path / ".helix").stat().st_mode & 0o777 == 0o700
    assert toy.helix("init").exit_code == 0  # idempotent


def test_plan_says_why_per_operator(toy):
    first = toy.helix_json("plan")
    assert {n["state"] for n in first["nodes"]} == {"compute", "prune"}
    toy.helix("run")
    toy.edit("toylib.py", "return x * f", "return x * f + 1")
    doc = toy.helix_json("plan")
    by_name = {n["name"]: n for n in doc["nodes"]}
    assert by_name["scaled"]["state"] == "compute"
    assert "helper" in by_name["scaled"]["reason"] and "toylib.scale" in by_name["scaled"]["reason"]
    assert by_name["total"]["reason"].startswith("upstream changed")
    assert by_name["unused"]["reason"] == "pruned: no output needs it"
    assert by_name["raw"]["reason"] == "pruned: a loaded descendant covers it"
    assert by_name["xs"]["state"] == "load"
    assert by_name["xs"]["reason"].startswith("unchanged, loaded")
    assert doc["estimated_seconds"] > 0
    human = toy.helix("plan").stdout
    assert "scaled" in human and "compute" in human


def test_status_lists_changed_operators(toy):
    assert "no run yet" in toy.helix("status").stdout
    toy.helix("run")
    assert toy.helix_json("status")["changed"] == []
    toy.edit("toylib.py", "SHIFT = 1.0", "SHIFT = 5.0")
    doc = toy.helix_json("status")
    assert [c["name"] for c in doc["changed"]] == ["shifted", "total"]
    assert "constant" in doc["changed"][0]["reason"]
    assert set(doc["would_compute"]) == {"shifted", "total"}


def test_log_lists_runs_newest_first_with_counts(toy):
    toy.helix("run")
    toy.edit("workflow.py", "factor=2.0", "factor=3.0")
    toy.commit("triple")
    toy.helix("run")
    log = toy.helix_json("log")
    assert [e["subject"] for e in log] == ["triple", "ignore .helix/"]
    assert log[0]["counts"] == {
        "compute": 2,
        "load": 3,
        "prune": 3,
    }  # scaled and total; xs, shifted and the unchanged output count are loaded
    assert log[0]["metrics"]["total"] == TOTAL + 6
    assert log[1]["counts"]["compute"] == 7
    assert all(e["status"] == "ok" and e["wall_seconds"] > 0 for e in log)
    text = toy.helix("log").stdout
    assert "triple" in text and "total=" in text
    only = toy.helix_json("log", "--metric", "count")
    assert all(set(e["metrics"]) == {"count"} for e in only)


def test_dirty_tree_is_recorded_as_dirty(toy):
    toy.edit("toylib.py", "SHIFT = 1.0", "SHIFT = 2.0")
    doc = toy.helix_json("run")
    assert doc["revision"].endswith("+dirty")
    assert doc["commit"] is None


def test_show_previews_stored_and_unstored_values(toy):
    toy.helix("run")
    out = toy.helix("show", "scaled").stdout
    assert "[2.0, 4.0, 6.0]" in out
    doc = toy.helix_json("show", "unused")
    assert doc["source"] == "computed" and doc["preview"] == "3"
    bad = toy.helix("show", "nope", code=2)
    assert "no operator named 'nope'" in bad.stderr


def test_data_file_change_recomputes_source_and_descendants(toy):
    toy.helix("run")
    (toy.path / "data/points.csv").write_text("1,10\n2,20\n3,31\n")
    doc = toy.helix_json("run")
    # the first column did not change: xs comes out as before, and what only needs xs is
    # reused (early cutoff)
    assert computed(doc) == {"raw", "xs", "ys", "shifted", "total"}
    assert doc["cutoff"] == {"unchanged": ["xs"], "reused": ["scaled", "count"]}
    assert doc["metrics"]["total"] == TOTAL + 1


def test_cosmetic_edits_recompute_nothing(toy):
    toy.helix("run")
    toy.edit(
        "workflow.py", "def xs(raw):\n", 'def xs(raw):\n    """The first column."""  # doc\n\n'
    )
    toy.edit("toylib.py", "return x * f", "return (x *   f)  # same")
    doc = toy.helix_json("run")
    assert computed(doc) == set()


def test_the_stat_cache_is_kept_between_runs(toy):
    toy.helix("run")
    cache = toy.path / ".helix" / "statcache.json"
    assert cache.is_file()
    assert "points.csv" in cache.read_text()


def test_show_recomputes_a_corrupt_object(toy):
    doc = toy.helix_json("run")
    key = next(n["key"] for n in doc["nodes"] if n["name"] == "scaled")
    path = toy.path / ".helix" / "objects" / key[:2] / key[2:]
    path.write_bytes(path.read_bytes()[:-3])
    result = toy.helix("show", "scaled")
    assert "[2.0, 4.0, 6.0]" in result.stdout
    assert "corrupt" in result.stderr
