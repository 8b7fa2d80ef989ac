"""Two clones share work through a remote: A runs and pushes, B pulls and computes nothing."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import GitRepo
from tests.remote.conftest import RemoteUrl, make_clone


def computed(report: dict) -> list[str]:
    return [n["name"] for n in report["nodes"] if n["state"] == "compute"]


def test_pull_objects_then_run_computes_nothing(
    team: tuple[GitRepo, RemoteUrl], tmp_path: Path
) -> None:
    a, _ = team
    ran = a.helix_json("run")
    assert sorted(computed(ran)) == ["doubled", "raw", "squared", "total"]
    pushed = a.helix_json("push")
    assert pushed["runs"] == [ran["run_id"]] and pushed["objects"] == 4
    again = a.helix_json("push")  # the remote has it all: nothing travels
    assert again["runs"] == [] and again["runs_skipped"] == [ran["run_id"]]
    assert again["objects"] == 0

    b = make_clone(a, tmp_path / "b")
    pulled = b.helix_json("pull", "--objects")
    assert pulled["runs"] == [ran["run_id"]] and pulled["objects"] == 4
    # what it remembers to price loads is its objects' speed: above the whole pull's
    # average (the objects took part of it), and not their bytes over no time at all
    remembered = json.loads((b.path / ".helix" / "remotes.json").read_text())
    average = pulled["bytes"] / pulled["seconds"]
    assert average <= remembered["origin"]["bytes_per_second"] < 1000 * average
    log = b.helix_json("log")
    assert [e["run_id"] for e in log] == [ran["run_id"]]  # A's run is in B's history
    twice = b.helix_json("pull", "--objects")  # pulling twice changes nothing
    assert twice["runs"] == [] and twice["objects"] == 0
    assert [e["run_id"] for e in b.helix_json("log")] == [ran["run_id"]]

    mine = b.helix_json("run", "HEAD")
    assert computed(mine) == []
    assert mine["metrics"] == ran["metrics"]


def test_run_loads_on_demand_after_pulling_records(
    team: tuple[GitRepo, RemoteUrl], tmp_path: Path
) -> None:
    a, _ = team
    ran = a.helix_json("run")
    a.helix_json("push")
    b = make_clone(a, tmp_path / "b")
    assert b.helix_json("pull")["objects"] == 0  # records only
    mine = b.helix_json("run")
    assert computed(mine) == []
    assert {n["name"] for n in mine["nodes"] if n["state"] == "load"} == {"total"}
    assert mine["metrics"] == ran["metrics"]
    # the value came to B's store: the next run does not need the remote
    (b.path / ".helixremotes").write_text(
        'default = "origin"\n[remote.origin]\nurl = "/nonexistent/x"\n'
    )
    again = b.helix_json("run")
    assert computed(again) == [] and again["metrics"] == ran["metrics"]
