"""Dask workers whose store is the S3 remote (moto's server on loopback): they share no
disk with the ``helix`` process.

The cluster's worker processes run on this machine, so they could read the repository
if they tried. They are made unable to: an audit hook in each worker refuses (and
records) every file operation under the tests' temporary folders, where the
repositories are. A run that needed the local store, the data files or the modules in
the repository would fail, and the record says what a worker reached for.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import GitRepo
from tests.remote.conftest import S3_ENV, RemoteUrl, free_port, make_clone

distributed = pytest.importorskip("distributed")

WORKFLOW = """\
import numpy as np

from helixvcs import Workflow

wf = Workflow("cluster")


@wf.source("data/values.txt")
def raw(path):
    with open(path) as f:
        return np.array([float(x) for x in f.read().split()])


@wf.op
def doubled(raw):
    from scaling import factor  # imported when it runs: a repository module

    return raw * factor()


@wf.op
def squared(doubled):
    return doubled**2


@wf.metric
def total(squared):
    return float(squared.sum())
"""

FILES = {
    "workflow.py": WORKFLOW,
    "scaling.py": "def factor():\n    return 2.0\n",
    "data/values.txt": "1 2 3 4\n",
}

#: File operations a worker may not make under the guarded folder (``sys.audit`` events).
GUARDED = (
    "open", "os.listdir", "os.scandir", "os.mkdir", "os.rename", "os.replace", "os.remove",
    "os.rmdir", "os.chdir", "os.symlink", "os.link", "shutil.copyfile", "os.truncate",
)  # fmt: skip


def _guard(root: str, events: tuple[str, ...]) -> None:
    """In a worker process: refuse and record every file operation under ``root``."""
    import builtins

    touched: list[str] = []
    builtins._helix_touched = touched  # type: ignore[attr-defined]

    def hook(event: str, args: tuple) -> None:
        if event not in events:
            return
        for arg in args[:2]:
            if isinstance(arg, str | bytes | os.PathLike):
                path = os.path.abspath(os.fsdecode(arg))
                if path == root or path.startswith(root + os.sep):
                    touched.append(f"{event} {path}")
                    raise PermissionError(f"this worker shares no disk with helix: {path}")

    sys.addaudithook(hook)


def _touched() -> list[str]:
    """In a worker process: what it reached for since the last call."""
    import builtins

    touched = builtins._helix_touched  # type: ignore[attr-defined]
    found = list(touched)
    touched.clear()
    return found


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[distributed.Client]:
    """Two worker processes that cannot touch the tests' folders (nor the repositories)."""
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers lack ``tests``
    saved = {name: os.environ.get(name) for name in S3_ENV}
    os.environ.update(S3_ENV)  # the workers' credentials, read from their environment
    try:
        with (
            distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
            ) as local,
            distributed.Client(local) as client,
        ):
            client.wait_for_workers(2, timeout=30)
            root = str(tmp_path_factory.getbasetemp().resolve())
            client.run(_guard, root, GUARDED)
            yield client
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _dask(client: distributed.Client, remote: str = "origin") -> list[str]:
    return ["--executor", "dask", "--scheduler", client.scheduler.address, "--remote", remote]


def _touched_by_workers(client: distributed.Client) -> list[str]:
    return [path for paths in client.run(_touched).values() for path in paths]


def _remote_keys(s3: RemoteUrl) -> set[str]:
    from tests.remote.conftest import S3Server

    bucket, prefix = s3.url.removeprefix("s3://").split("/", 1)
    assert s3.endpoint is not None
    listed = S3Server(s3.endpoint).client().list_objects_v2(Bucket=bucket, Prefix=prefix)
    paths = [entry["Key"] for entry in listed.get("Contents", [])]
    return {"".join(p.split("/")[-2:]) for p in paths if p.startswith(f"{prefix}/objects/")}


def _local_objects(repo: GitRepo) -> list[Path]:
    return [p for p in (repo.path / ".helix" / "objects").rglob("*") if p.is_file()]


def _states(doc: dict) -> dict[str, str]:
    return {n["name"]: n["state"] for n in doc["nodes"]}


@pytest.fixture
def team(git_repo: GitRepo, s3: RemoteUrl, tmp_path: Path) -> tuple[GitRepo, RemoteUrl, dict]:
    """The workflow committed, with the S3 remote as origin; and a local run's metrics."""
    git_repo.gen(FILES, commit="cluster workflow")
    reference = make_clone(git_repo, tmp_path / "reference")  # no remote: all local
    local = reference.helix_json("run")
    git_repo.helix("init")
    git_repo.helix("remote", "add", "origin", *s3.add_args())
    git_repo.commit("remote, ignore .helix/")
    return git_repo, s3, local["metrics"]


def test_workers_keep_values_on_the_remote_and_never_touch_the_repository(
    team: tuple[GitRepo, RemoteUrl, dict], cluster: distributed.Client
) -> None:
    a, s3, metrics = team
    doc = a.helix_json("run", "--materialize", "all", *_dask(cluster))
    assert doc["status"] == "ok"
    assert _states(doc) == dict.fromkeys(["raw", "doubled", "squared", "total"], "compute")
    assert doc["metrics"] == metrics == {"total": 120.0}
    assert _touched_by_workers(cluster) == []  # no store, data file or module of the repo
    assert _remote_keys(s3) == {n["key"] for n in doc["nodes"]}  # every value, on S3
    assert _local_objects(a) == []  # none written here
    assert [e["run_id"] for e in a.helix_json("log")] == [doc["run_id"]]

    pulled = a.helix_json("pull", "--objects")  # the run's values, as a teammate's
    assert pulled["objects"] == 4 and pulled["refused"] == []
    again = a.helix_json("run")
    assert set(_states(again).values()) <= {"load", "prune"}
    assert again["metrics"] == metrics


def test_a_second_run_loads_what_the_workers_kept(
    team: tuple[GitRepo, RemoteUrl, dict], cluster: distributed.Client, tmp_path: Path
) -> None:
    a, _, metrics = team
    first = a.helix_json("run", "--materialize", "all", *_dask(cluster))
    b = make_clone(a, tmp_path / "b")  # a teammate's clone: nothing of it local
    same = b.helix_json("run", *_dask(cluster))
    assert _states(same) == {
        **dict.fromkeys(["raw", "doubled", "squared"], "prune"),
        "total": "load",
    }
    assert same["metrics"] == metrics

    b.edit("workflow.py", "float(squared.sum())", "float(squared.sum()) + 1.0")
    edited = b.helix_json("run", *_dask(cluster))
    states = _states(edited)
    assert states["squared"] == "load" and states["total"] == "compute"
    assert edited["metrics"] == {"total": metrics["total"] + 1.0}
    assert _touched_by_workers(cluster) == []
    assert _local_objects(b) == []
    squared = next(n["key"] for n in first["nodes"] if n["name"] == "squared")
    assert next(n["key"] for n in edited["nodes"] if n["name"] == "squared") == squared


def test_without_the_remote_these_workers_cannot_run_the_workflow(
    team: tuple[GitRepo, RemoteUrl, dict], cluster: distributed.Client
) -> None:
    """The guard works: a run that needs the shared disk fails on these workers."""
    a, _, _ = team
    _touched_by_workers(cluster)
    dask = ["--executor", "dask", "--scheduler", cluster.scheduler.address]
    result = a.helix("run", *dask, code=2)  # a worker cannot open the store
    assert "this worker shares no disk with helix" in result.stderr
    assert ".helix/objects" in result.stderr
    touched = _touched_by_workers(cluster)
    assert any(str(a.path) in path for path in touched), touched


@pytest.mark.parametrize("problem", ["unreachable", "missing bucket"])
def test_a_remote_the_run_cannot_use_is_one_line_and_nothing_is_recorded(
    git_repo: GitRepo, s3: RemoteUrl, cluster: distributed.Client, problem: str
) -> None:
    git_repo.gen(FILES, commit="cluster workflow")
    git_repo.helix("init")
    if problem == "unreachable":
        url, endpoint, says = s3.url, f"http://127.0.0.1:{free_port()}", "unreachable ("
    else:
        url, endpoint, says = "s3://no-such-bucket/x", s3.endpoint, "not found ("
    assert endpoint is not None
    git_repo.helix("remote", "add", "bad", url, "--endpoint-url", endpoint)
    result = git_repo.helix("run", *_dask(cluster, "bad"), code=2)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith(f"error: remote 'bad' ({url}): {says}")
    assert result.stdout == ""
    assert git_repo.helix_json("log") == []  # nothing recorded
    assert _local_objects(git_repo) == []


def test_remote_needs_the_dask_executor(git_repo: GitRepo, s3: RemoteUrl) -> None:
    git_repo.gen(FILES, commit="cluster workflow")
    git_repo.helix("init")
    git_repo.helix("remote", "add", "origin", *s3.add_args())
    result = git_repo.helix("run", "--remote", "origin", code=2)
    assert result.stderr.strip() == (
        "error: --remote origin is the store of Dask workers; add --executor dask"
    )
    unknown = git_repo.helix("run", "--executor", "dask", "--remote", "nope", code=2)
    assert "no remote named 'nope'" in unknown.stderr


PICKLED = {
    **FILES,
    "workflow.py": WORKFLOW.replace(
        "import numpy as np\n", "from fractions import Fraction\n\nimport numpy as np\n"
    ).replace(
        "def total(squared):\n    return float(squared.sum())\n",
        "def total(third):\n    return float(third)\n\n\n"
        "@wf.op\ndef third(squared):\n"
        "    return Fraction(int(squared.sum()), 3)  # its pickle names code\n",
    ),
}


def test_workers_unpickle_no_code_from_an_untrusted_remote(
    git_repo: GitRepo, s3: RemoteUrl, cluster: distributed.Client, tmp_path: Path
) -> None:
    git_repo.gen(PICKLED, commit="a value that needs pickle")
    git_repo.helix("init")
    git_repo.helix("remote", "add", "origin", *s3.add_args())
    git_repo.commit("remote")
    first = git_repo.helix_json("run", "--materialize", "all", *_dask(cluster))
    assert first["metrics"] == {"total": 40.0}

    b = make_clone(git_repo, tmp_path / "b")
    b.edit("workflow.py", "return float(third)", "return float(third) + 1")
    refused = b.helix("run", "--json", *_dask(cluster))
    assert "needs pickle (it names Python code) and the remote is not trusted" in refused.stderr
    doc = json.loads(refused.stdout)
    assert _states(doc)["third"] == "compute" and doc["metrics"] == {"total": 41.0}

    b.edit("workflow.py", "float(third) + 1", "float(third) + 2")
    with open(b.path / ".helix" / "config.toml", "a", encoding="utf-8") as f:
        f.write("\n[remote.origin]\ntrusted = true\n")
    trusted = b.helix_json("run", *_dask(cluster))
    assert _states(trusted)["third"] == "load" and trusted["metrics"] == {"total": 42.0}
    assert _touched_by_workers(cluster) == []


def test_a_worker_that_cannot_reach_the_remote_stops_the_run_before_it_starts(
    cluster: distributed.Client,
) -> None:
    """As a worker sees a remote that only the ``helix`` machine reaches."""
    from helixvcs.errors import UserInputError
    from helixvcs.exec.dask_executor import DaskExecutor
    from helixvcs.store.remote import Remote, RemoteSpec
    from helixvcs.store.remote_store import RemoteObjectStore

    dead = RemoteSpec("team", "s3://bucket/x", f"http://127.0.0.1:{free_port()}")
    executor = DaskExecutor(cluster.scheduler.address, remote=dead)
    with pytest.raises(UserInputError) as caught:
        executor.open(RemoteObjectStore(Remote.open(dead, check=False)))
    message = str(caught.value)
    assert message.startswith("Dask worker tcp://") and "\n" not in message
    assert ": remote 'team' (s3://bucket/x): unreachable (" in message
    assert executor.client is None  # closed again
