"""Large objects are pulled as they arrive: written to a temp file and verified meanwhile,
named only once whole and verified; damaged ones are refused by key and leave nothing.
A push or a pull to S3 goes through botocore's client and never imports s3fs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import GitRepo
from tests.remote.conftest import FILES, RemoteUrl, S3Server, make_clone
from tests.remote.test_integrity import node, remote_files, write_remote_file

LARGE = """\
import numpy as np

from helixvcs import Workflow

wf = Workflow("large")


@wf.source("data/values.txt")
def raw(path):
    with open(path) as f:
        return np.array([float(x) for x in f.read().split()])


@wf.op
def noise(raw):  # 3.2 MB raw, ~2.9 MB stored: it arrives in several pieces
    return np.random.default_rng(0).random(400_000) + raw.sum()


@wf.metric
def total(noise):
    return float(noise.sum())
"""

DAMAGE = {
    "flipped byte": lambda d: d[:-1000] + bytes([d[-1000] ^ 0xFF]) + d[-999:],
    "truncated": lambda d: d[: len(d) // 2],
    "trailing bytes": lambda d: d + b"junk",
}


@pytest.fixture
def large(git_repo: GitRepo, remote: RemoteUrl) -> tuple[GitRepo, RemoteUrl, dict]:
    """Clone A with ``LARGE`` run (every value kept) and pushed to ``remote``."""
    git_repo.gen({**FILES, "workflow.py": LARGE}, commit="large")
    git_repo.helix("init")
    git_repo.helix("remote", "add", "origin", *remote.add_args())
    git_repo.commit("remotes")
    ran = git_repo.helix_json("run", "--materialize", "all")
    git_repo.helix_json("push")
    return git_repo, remote, ran


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_large_object_is_refused_by_key_and_leaves_nothing(
    large: tuple[GitRepo, RemoteUrl, dict],
    s3_or_none: S3Server | None,
    tmp_path: Path,
    damage: str,
) -> None:
    a, remote, ran = large
    key = node(ran, "noise")["key"]
    rel = f"objects/{key[:2]}/{key[2:]}"
    whole = remote_files(remote, s3_or_none)[rel]
    assert len(whole) > 2 * 2**20  # several pieces
    write_remote_file(remote, s3_or_none, rel, DAMAGE[damage](whole))

    b = make_clone(a, tmp_path / "b")
    pulled = b.helix_json("pull", "--objects")
    assert [(r["key"], r["name"]) for r in pulled["refused"]] == [(key, "noise")]
    assert "corrupt" in pulled["refused"][0]["reason"]
    objects = b.path / ".helix" / "objects"
    assert not (objects / key[:2] / key[2:]).exists()
    assert list((objects / "tmp").iterdir()) == []  # nothing of it left behind

    write_remote_file(remote, s3_or_none, rel, whole)  # repaired: the next pull takes it
    again = b.helix_json("pull", "--objects")
    assert again["objects"] == 1 and again["refused"] == []
    assert (objects / key[:2] / key[2:]).read_bytes() == whole
    mine = b.helix_json("run")
    assert [n["name"] for n in mine["nodes"] if n["state"] == "compute"] == []
    assert mine["metrics"] == ran["metrics"]


PULL_AND_REPORT = """\
import sys

from helixvcs.cli import main

sys.argv = ["helix", "--repo", sys.argv[1], *sys.argv[2:]]
try:
    main()
except SystemExit:
    pass
loaded = sorted(m for m in ("s3fs", "aiohttp", "aiobotocore") if m in sys.modules)
print("loaded:" + ",".join(loaded), file=sys.stderr)
"""


def test_a_push_and_a_pull_to_s3_never_import_s3fs(
    git_repo: GitRepo, s3: RemoteUrl, tmp_path: Path
) -> None:
    git_repo.gen({**FILES, "workflow.py": LARGE}, commit="large")
    git_repo.helix("init")
    git_repo.helix("remote", "add", "origin", *s3.add_args())
    git_repo.commit("remotes")
    ran = git_repo.helix_json("run")
    b = make_clone(git_repo, tmp_path / "b")
    for repo, command in ((git_repo, ["push"]), (b, ["pull", "--objects"])):
        done = subprocess.run(
            [sys.executable, "-c", PULL_AND_REPORT, str(repo.path), *command, "--json"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert json.loads(done.stdout)["objects"] >= 1
        assert "loaded:\n" in done.stderr + "\n", done.stderr
    mine = b.helix_json("run")
    assert [n["name"] for n in mine["nodes"] if n["state"] == "compute"] == []
    assert mine["metrics"] == ran["metrics"]
