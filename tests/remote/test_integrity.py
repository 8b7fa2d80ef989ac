"""Integrity: corrupt remote objects are reported by key and recomputed, untrusted
pickles are never loaded, an interrupted push leaves a valid remote, concurrent pushes
lose nothing."""

from __future__ import annotations

import json
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import GitRepo
from tests.remote.conftest import FILES, RemoteUrl, S3Server, make_clone


def _bucket_and_prefix(remote: RemoteUrl) -> tuple[str, str]:
    bucket, _, prefix = remote.url[len("s3://") :].partition("/")
    return bucket, prefix


def remote_files(remote: RemoteUrl, s3: S3Server | None) -> dict[str, bytes]:
    """Every file on the remote, by its path under the remote's URL."""
    if remote.kind == "folder":
        assert remote.root is not None
        if not remote.root.exists():
            return {}
        return {
            str(p.relative_to(remote.root)): p.read_bytes()
            for p in remote.root.rglob("*")
            if p.is_file()
        }
    assert s3 is not None
    bucket, prefix = _bucket_and_prefix(remote)
    client = s3.client()
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            found[item["Key"][len(prefix) + 1 :]] = body
    return found


def write_remote_file(remote: RemoteUrl, s3: S3Server | None, rel: str, data: bytes) -> None:
    if remote.kind == "folder":
        assert remote.root is not None
        (remote.root / rel).write_bytes(data)
        return
    assert s3 is not None
    bucket, prefix = _bucket_and_prefix(remote)
    s3.client().put_object(Bucket=bucket, Key=f"{prefix}/{rel}", Body=data)


def node(report: dict, name: str) -> dict:
    return next(n for n in report["nodes"] if n["name"] == name)


def corrupt(data: bytes) -> bytes:
    middle = len(data) - 3
    return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]


@pytest.mark.parametrize("how", ["pull --objects", "on demand"])
def test_a_corrupt_remote_object_is_reported_and_recomputed(
    team: tuple[GitRepo, RemoteUrl], s3_or_none: S3Server | None, tmp_path: Path, how: str
) -> None:
    a, remote = team
    ran = a.helix_json("run")
    a.helix_json("push")
    key = node(ran, "total")["key"]
    rel = f"objects/{key[:2]}/{key[2:]}"
    write_remote_file(remote, s3_or_none, rel, corrupt(remote_files(remote, s3_or_none)[rel]))

    b = make_clone(a, tmp_path / "b")
    if how == "pull --objects":
        result = b.helix("pull", "--objects", "--json")
        pulled = json.loads(result.stdout)
        assert [r["key"] for r in pulled["refused"]] == [key]
        assert pulled["objects"] == 3
    else:
        b.helix("pull")
    result = b.helix("run", "--json")
    mine = json.loads(result.stdout)
    assert node(mine, "total")["state"] == "compute"
    assert mine["metrics"] == ran["metrics"]
    if how == "on demand":
        notes = [line for line in result.stderr.splitlines() if key[:12] in line]
        assert len(notes) == 1 and "corrupt" in notes[0] and "recomputed" in notes[0]


PICKLED = """\
import os

import numpy as np

from helixvcs import Workflow

wf = Workflow("boxed")


class Box:
    def __init__(self, value, marker):
        self.value, self.marker = value, marker

    def __setstate__(self, state):  # runs when the object is unpickled
        with open(state["marker"], "a") as f:
            f.write("unpickled\\n")
        self.__dict__.update(state)


@wf.source("data/values.txt")
def raw(path):
    with open(path) as f:
        return np.array([float(x) for x in f.read().split()])


@wf.op
def boxed(raw, marker=MARKER):
    import time

    time.sleep(0.3)
    return Box(float(raw.sum()), marker)


@wf.metric
def value(boxed):
    return boxed.value
"""


@pytest.mark.parametrize("trusted", [False, True])
def test_an_untrusted_pickle_is_never_loaded(
    git_repo: GitRepo, remote: RemoteUrl, tmp_path: Path, trusted: bool
) -> None:
    marker = tmp_path / "unpickled.txt"
    workflow = PICKLED.replace("MARKER", repr(str(marker)))
    git_repo.gen({**FILES, "workflow.py": workflow}, commit="boxed")
    git_repo.helix("init")
    git_repo.helix("remote", "add", "origin", *remote.add_args())
    git_repo.commit("remotes")
    ran = git_repo.helix_json("run")
    git_repo.helix_json("push")
    assert not marker.exists()

    b = make_clone(git_repo, tmp_path / "b")
    if trusted:
        with open(b.path / ".helix" / "config.toml", "a", encoding="utf-8") as f:
            f.write("\n[remote.origin]\ntrusted = true\n")
    result = b.helix("pull", "--objects", "--json")
    pulled = json.loads(result.stdout)
    key = node(ran, "boxed")["key"]
    if trusted:
        assert pulled["refused"] == []
    else:
        assert [r["key"] for r in pulled["refused"]] == [key]
        assert "not trusted" in pulled["refused"][0]["reason"]
        notes = [line for line in result.stderr.splitlines() if key[:12] in line]
        assert len(notes) == 1 and "not trusted" in notes[0]
    (b.path / ".helix" / "objects" / key[:2] / key[2:]).unlink(missing_ok=True)
    b.edit("workflow.py", "return boxed.value", "return boxed.value + 0.0")  # needs boxed
    mine = b.helix("run", "--json")
    report = json.loads(mine.stdout)
    assert report["metrics"] == ran["metrics"]
    if trusted:  # loaded from the remote on demand: the pickle ran
        assert node(report, "boxed")["state"] == "load"
        assert marker.read_text() == "unpickled\n"
    else:  # recomputed with one line, never unpickled
        assert node(report, "boxed")["state"] == "compute"
        assert not marker.exists()
        notes = [line for line in mine.stderr.splitlines() if key[:12] in line]
        assert len(notes) == 1 and "not trusted" in notes[0] and "recomputed" in notes[0]


BIG = """\
import numpy as np

from helixvcs import Workflow

wf = Workflow("big")


@wf.source("data/values.txt")
def raw(path):
    with open(path) as f:
        return np.array([float(x) for x in f.read().split()])

"""
for i in range(8):  # incompressible 16 MB values, so that a push takes a while
    BIG += f"""
@wf.op
def part{i}(raw):
    return np.random.default_rng({i}).random(2_000_000) + raw.sum()

"""
BIG += """
@wf.metric
def total(part0, part1, part2, part3, part4, part5, part6, part7):
    return float(sum(p[0] for p in (part0, part1, part2, part3, part4, part5, part6, part7)))
"""


def run_big_with_remote(git_repo: GitRepo, remote: RemoteUrl) -> dict:
    """``BIG`` committed with ``remote`` as origin, run with every value kept: its report."""
    git_repo.gen({**FILES, "workflow.py": BIG}, commit="big")
    git_repo.helix("init")
    git_repo.helix("remote", "add", "origin", *remote.add_args())
    git_repo.commit("remotes")
    return git_repo.helix_json("run", "--materialize", "all")


def check_remote_valid(remote: RemoteUrl, s3: S3Server | None) -> list[str]:
    """Every manifest on the remote names a segment and objects that are there, whole."""
    from helixvcs.store.objectfile import verify

    files = remote_files(remote, s3)
    manifests = [p for p in files if p.startswith("runs/") and p.endswith(".json")]
    for path in manifests:
        manifest = json.loads(files[path])
        for rel in manifest["segment"].values():
            assert rel in files
        for key, entry in manifest["objects"].items():
            verify(files[f"objects/{key[:2]}/{key[2:]}"], entry["checksum"])
    return manifests


def _object_landed(remote: RemoteUrl, s3: S3Server | None) -> Callable[[], bool]:
    """A cheap check (names only, one client) that an object is on the remote."""
    if remote.kind == "folder":
        assert remote.root is not None
        objects = remote.root / "objects"
        return lambda: objects.is_dir() and any(p.is_file() for p in objects.rglob("*"))
    assert s3 is not None
    bucket, prefix = _bucket_and_prefix(remote)
    client = s3.client()
    where = f"{prefix}/objects/"
    return lambda: client.list_objects_v2(Bucket=bucket, Prefix=where, MaxKeys=1)["KeyCount"] > 0


def _empty_remote(remote: RemoteUrl, s3: S3Server | None) -> None:
    """What a finished push wrote: its objects and its run's records."""
    if remote.kind == "folder":
        assert remote.root is not None
        shutil.rmtree(remote.root / "objects", ignore_errors=True)
        shutil.rmtree(remote.root / "runs", ignore_errors=True)
        return
    assert s3 is not None
    bucket, prefix = _bucket_and_prefix(remote)
    client = s3.client()
    for folder in ("objects", "runs"):
        pages = client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=f"{prefix}/{folder}/"
        )
        for page in pages:
            for item in page.get("Contents", []):
                client.delete_object(Bucket=bucket, Key=item["Key"])


def test_an_interrupted_push_leaves_a_valid_remote(
    git_repo: GitRepo, remote: RemoteUrl, s3_or_none: S3Server | None, tmp_path: Path
) -> None:
    ran = run_big_with_remote(git_repo, remote)
    for _attempt in range(5):  # a push may finish before the kill lands: start it again
        landed = _object_landed(remote, s3_or_none)
        proc = git_repo.helix_proc("push")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not landed():  # kill at the first object
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        # valid whenever the kill lands; a run already visible means the push wrote its
        # last record before the kill (killed on its way out, or exited): not a cut push
        visible = check_remote_valid(remote, s3_or_none)
        if proc.returncode == -signal.SIGKILL and not visible:
            break
        _empty_remote(remote, s3_or_none)
    assert proc.returncode == -signal.SIGKILL, "every push finished before it was killed"
    assert visible == [], "every push wrote its run's records before it was killed"

    b = make_clone(git_repo, tmp_path / "b")
    assert b.helix_json("pull", "--objects")["runs"] == []
    done = git_repo.helix_json("push")  # the next push completes it
    assert done["runs"] == [ran["run_id"]] and done["objects_skipped"] >= 1
    assert len(check_remote_valid(remote, s3_or_none)) == 1
    assert b.helix_json("pull", "--objects")["runs"] == [ran["run_id"]]
    mine = b.helix_json("run")
    assert [n["name"] for n in mine["nodes"] if n["state"] == "compute"] == []
    assert mine["metrics"] == ran["metrics"]


def test_concurrent_pushes_lose_nothing(
    team: tuple[GitRepo, RemoteUrl], s3_or_none: S3Server | None, tmp_path: Path
) -> None:
    a, remote = team
    c = make_clone(a, tmp_path / "c")
    c.gen({"data/values.txt": "5 6 7\n"}, commit="other data")
    first, second = a.helix_json("run"), c.helix_json("run")
    procs = [clone.helix_proc("push") for clone in (a, c)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    assert len(check_remote_valid(remote, s3_or_none)) == 2

    b = make_clone(a, tmp_path / "b")
    b.git("fetch", "-q", str(c.path), "main:other")
    pulled = b.helix_json("pull", "--objects")
    assert sorted(pulled["runs"]) == sorted([first["run_id"], second["run_id"]])
    for rev, ran in (("main", first), ("other", second)):
        mine = b.helix_json("run", rev)
        assert [n["name"] for n in mine["nodes"] if n["state"] == "compute"] == []
        assert mine["metrics"] == ran["metrics"]


ESTIMATOR = """\
import numpy as np
from sklearn.linear_model import LogisticRegression

from helixvcs import Workflow

wf = Workflow("model")


@wf.source("data/values.txt")
def raw(path):
    with open(path) as f:
        return np.array([float(x) for x in f.read().split()])


@wf.op
def model(raw):
    import time

    time.sleep(0.3)
    X = raw.reshape(-1, 1)
    return LogisticRegression().fit(X, (raw > raw.mean()).astype(int))


@wf.metric
def score(model, raw):
    return float(model.predict_proba(raw.reshape(-1, 1))[:, 1].sum())
"""


def test_an_estimator_travels_through_skops_without_trust(
    git_repo: GitRepo, remote: RemoteUrl, tmp_path: Path
) -> None:
    git_repo.gen({**FILES, "workflow.py": ESTIMATOR}, commit="model")
    git_repo.helix("init")
    git_repo.helix("remote", "add", "origin", *remote.add_args())
    git_repo.commit("remotes")
    ran = git_repo.helix_json("run")
    git_repo.helix_json("push")
    b = make_clone(git_repo, tmp_path / "b")
    pulled = b.helix_json("pull", "--objects")
    assert pulled["refused"] == []
    b.edit("workflow.py", "[:, 1].sum())", "[:, 1].sum()) + 0.0")  # a new metric: needs model
    mine = b.helix_json("run")
    assert node(mine, "model")["state"] == "load"
    assert mine["metrics"] == ran["metrics"]
