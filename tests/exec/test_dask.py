"""The Dask executor on a real 2-process LocalCluster: census, dying workers, bad addresses."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helixvcs.demo.scenario import create_repo
from helixvcs.store import DiskObjectStore
from tests.conftest import GitRepo
from tests.integration.toy import FILES, TOTAL, computed

distributed = pytest.importorskip("distributed")


def _dask(address: str) -> list[str]:
    return ["--executor", "dask", "--scheduler", address]


def _store(repo: GitRepo) -> DiskObjectStore:
    return DiskObjectStore(repo.path / ".helix" / "objects")


def _worker_pids(address: str) -> set[int]:
    with distributed.Client(address, timeout="10s") as client:
        client.wait_for_workers(2, timeout=30)
        return set(client.run(os.getpid).values())


def _wait_for(predicate, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while not (found := predicate()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return found


def test_operators_run_in_the_worker_processes(git_repo, dask_scheduler):
    git_repo.gen(
        {
            "workflow.py": "import os\nfrom helixvcs import Workflow\nwf = Workflow('where')\n"
            "@wf.source('n.txt')\ndef n(path):\n    return 1\n"
            "@wf.metric\ndef pid(n):\n    return float(os.getpid())\n",
            "n.txt": "1",
        },
        commit="where",
    )
    git_repo.helix("init")
    doc = git_repo.helix_json("run", *_dask(dask_scheduler))
    assert int(doc["metrics"]["pid"]) in _worker_pids(dask_scheduler)


@pytest.mark.slow
def test_census_on_two_worker_processes_matches_local(tmp_path, dask_scheduler):
    repos = {}
    for name in ("local", "dask"):
        create_repo(tmp_path / name)
        repos[name] = GitRepo(tmp_path / name)
        repos[name].helix("init")
    # `all` keeps every value, so the store's contents do not depend on measured timings
    local = repos["local"].helix_json("run", "--materialize", "all")
    remote = repos["dask"].helix_json("run", "--materialize", "all", *_dask(dask_scheduler))
    assert remote["metrics"] == local["metrics"]
    assert [(n["name"], n["key"], n["state"]) for n in remote["nodes"]] == [
        (n["name"], n["key"], n["state"]) for n in local["nodes"]
    ]
    stores = {name: _store(repo) for name, repo in repos.items()}
    keys = set(stores["local"].keys())
    assert keys == {n["key"] for n in local["nodes"]} == set(stores["dask"].keys())
    checksums = {name: {k: s.info(k).checksum for k in keys} for name, s in stores.items()}
    assert checksums["dask"] == checksums["local"]  # byte for byte the same objects

    again = repos["dask"].helix_json("run", *_dask(dask_scheduler))
    assert computed(again) == set()
    assert again["metrics"] == local["metrics"]


# `scaled` says which worker process runs it, then waits while `hold` exists
HELD = (
    FILES["workflow.py"]
    .replace("import time\n", "import os\nimport time\nfrom pathlib import Path\n")
    .replace(
        "def scaled(xs, factor=2.0):\n    time.sleep(0.02)\n",
        "def scaled(xs, factor=2.0):\n"
        "    signals = Path(SIGNALS)\n"
        "    (signals / f'running-{os.getpid()}').touch()\n"
        "    while (signals / 'hold').exists():\n"
        "        time.sleep(0.02)\n",
    )
)


@pytest.fixture
def held(git_repo, tmp_path):
    """The toy workflow whose ``scaled`` waits on ``signals/hold``; returns (repo, signals)."""
    signals = tmp_path / "signals"
    signals.mkdir()
    (signals / "hold").touch()
    workflow = HELD.replace("wf = Workflow", f"SIGNALS = {str(signals)!r}\n\nwf = Workflow")
    git_repo.gen({**FILES, "workflow.py": workflow}, commit="held toy")
    git_repo.helix("init")
    return git_repo, signals


def _running(signals: Path, besides: set[int] = frozenset()) -> int | None:
    pids = {int(p.name.split("-")[1]) for p in signals.glob("running-*")} - besides
    return next(iter(pids), None)


@pytest.mark.slow
def test_killing_a_worker_mid_run_does_not_lose_the_run(held, dask_scheduler):
    repo, signals = held
    workers = _worker_pids(dask_scheduler)
    proc = repo.helix_proc("run", "--json", *_dask(dask_scheduler))
    first = _wait_for(lambda: _running(signals))
    assert first in workers
    os.kill(first, signal.SIGKILL)
    _wait_for(lambda: _running(signals, {first}))  # retried on another worker
    (signals / "hold").unlink()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    doc = json.loads(out)
    assert doc["status"] == "ok" and doc["metrics"] == {"total": TOTAL, "count": 3.0}
    assert [e["status"] for e in repo.helix_json("log")] == ["ok"]


@pytest.mark.slow
def test_an_operator_whose_worker_dies_twice_fails_the_run_and_keeps_what_finished(
    held, dask_scheduler
):
    repo, signals = held
    _worker_pids(dask_scheduler)  # both workers are up
    proc = repo.helix_proc("run", *_dask(dask_scheduler))
    first = _wait_for(lambda: _running(signals))
    os.kill(first, signal.SIGKILL)
    second = _wait_for(lambda: _running(signals, {first}))
    os.kill(second, signal.SIGKILL)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    # operators queued behind `scaled` on both workers fail alike; the first one is reported
    assert re.search(r"error: operator '\w+' failed: its worker died twice", err)
    assert re.search(r"failed +scaled", err)
    assert repo.helix_json("log")[0]["status"] == "failed"
    (signals / "hold").unlink()
    doc = repo.helix_json("run")  # the next run resumes from what finished
    assert doc["metrics"]["total"] == TOTAL
    assert not computed(doc) & {"raw", "xs", "ys"}


def test_a_bad_scheduler_address_is_one_line_exit_2_within_seconds(git_repo):
    git_repo.gen(FILES, commit="toy")
    git_repo.helix("init")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for address in (f"tcp://127.0.0.1:{port}", "tcp://127.0.0.1:notaport"):
        start = time.monotonic()
        proc = git_repo.helix_proc("run", "--executor", "dask", "--scheduler", address)
        out, err = proc.communicate(timeout=60)
        assert time.monotonic() - start < 10
        assert proc.returncode == 2, err
        assert out == ""
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert lines[0].startswith("error: ") and address in lines[0]
    assert git_repo.helix_json("log") == []  # nothing was recorded


def test_a_worker_that_cannot_see_the_store_stops_the_run_before_it_starts(
    tmp_path, dask_scheduler
):
    from helixvcs.errors import UserInputError
    from helixvcs.exec.dask_executor import DaskExecutor

    store = DiskObjectStore(tmp_path / "objects")
    for child in sorted(store.root.rglob("*"), reverse=True):
        child.rmdir()
    store.root.rmdir()  # as a worker on another machine, without the shared disk, sees it
    executor = DaskExecutor(dask_scheduler)
    with pytest.raises(UserInputError) as caught:
        executor.open(store)
    message = str(caught.value)
    assert f"cannot see the store at {store.root}" in message
    assert "file system every worker mounts" in message and "\n" not in message
    assert executor.client is None  # closed again


def test_the_local_cluster_is_used_without_a_scheduler(git_repo):
    """``--executor dask`` alone: a LocalCluster for the run, in a real ``helix`` process."""
    git_repo.gen(FILES, commit="toy")
    git_repo.helix("init")
    out = subprocess.run(
        [sys.executable, "-m", "helixvcs", "--repo", str(git_repo.path), "run", "--json",
         "--executor", "dask"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["metrics"]["total"] == TOTAL


def test_a_scheduler_without_workers_is_one_line(tmp_path, monkeypatch):
    from helixvcs.errors import UserInputError
    from helixvcs.exec import dask_executor

    monkeypatch.setattr(dask_executor, "WORKER_WAIT_SECONDS", 0.5)
    with distributed.LocalCluster(n_workers=0, protocol="tcp", dashboard_address=":0") as empty:
        executor = dask_executor.DaskExecutor(empty.scheduler_address)
        with pytest.raises(UserInputError, match="no Dask worker joined tcp://"):
            executor.open(DiskObjectStore(tmp_path / "objects"))
