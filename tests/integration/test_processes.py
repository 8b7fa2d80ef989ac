"""Real processes: a killed run, a corrupted object, readers while a run is writing."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helixvcs.store import DiskObjectStore
from tests.integration.toy import FILES, TOTAL, computed

# ``total`` waits while data/hold exists: tests hold a run in progress as long as they need,
# without changing any key (the file is read at run time, not by the operator's identity)
SLOW = (
    FILES["workflow.py"]
    .replace("import time\n", "import time\nfrom pathlib import Path\n")
    .replace(
        "def total(scaled, shifted):\n    time.sleep(0.02)",
        "def total(scaled, shifted):\n"
        "    while (Path(__file__).parent / 'data' / 'hold').exists():\n"
        "        time.sleep(0.02)",
    )
)


@pytest.fixture
def slow_toy(git_repo):
    git_repo.gen({**FILES, "workflow.py": SLOW, ".gitignore": "data/hold\n"}, commit="slow toy")
    git_repo.helix("init")
    git_repo.commit("ignore .helix/")
    return git_repo


def _object_path(repo, key: str) -> Path:
    return repo.path / ".helix" / "objects" / key[:2] / key[2:]


def _wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _running(repo) -> bool:
    out = subprocess.run(
        [sys.executable, "-m", "helixvcs", "--repo", str(repo.path), "log", "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return any(e["status"] == "running" for e in json.loads(out.stdout))


def test_corrupt_object_is_detected_and_recomputed(slow_toy):
    first = slow_toy.helix_json("run")
    key = next(n["key"] for n in first["nodes"] if n["name"] == "total")
    path = _object_path(slow_toy, key)
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))
    result = slow_toy.helix("run", "--json")
    doc = json.loads(result.stdout)
    assert doc["metrics"] == first["metrics"]
    assert "total" in computed(doc)
    assert "corrupt" in result.stderr
    assert DiskObjectStore(path.parents[1]).get(key) == TOTAL  # stored again, valid


def test_sigkill_mid_run_leaves_no_partial_object_and_next_run_succeeds(slow_toy):
    hold = slow_toy.path / "data/hold"
    hold.touch()
    proc = slow_toy.helix_proc("run")
    _wait_for(lambda: _running(slow_toy))
    objects = slow_toy.path / ".helix" / "objects"
    _wait_for(lambda: sum(1 for p in objects.glob("??/*")) >= 4)  # the fast operators finished
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    store = DiskObjectStore(objects)
    for key in list(store.keys()):
        store.get(key)  # every object verifies
    log = slow_toy.helix_json("log")
    assert log[0]["status"] == "interrupted"
    hold.unlink()
    doc = slow_toy.helix_json("run")
    assert doc["status"] == "ok" and doc["metrics"]["total"] == TOTAL
    assert "xs" not in computed(doc)  # resumed from what the killed run kept


def test_log_and_status_work_while_a_run_is_writing(slow_toy):
    hold = slow_toy.path / "data/hold"
    hold.touch()
    proc = slow_toy.helix_proc("run", "--json")
    _wait_for(lambda: _running(slow_toy))
    for _ in range(3):
        for command in (["log", "--json"], ["status", "--json"]):
            reader = slow_toy.helix_proc(*command)
            out, err = reader.communicate(timeout=60)
            assert reader.returncode == 0, err
            json.loads(out)
    status = json.loads(slow_toy.helix_proc("status", "--json").communicate(timeout=60)[0])
    assert status["running"]
    hold.unlink()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert json.loads(out)["status"] == "ok"
    assert [e["status"] for e in slow_toy.helix_json("log")] == ["ok"]


def test_two_runs_at_once_both_succeed(slow_toy):
    hold = slow_toy.path / "data/hold"
    hold.touch()
    procs = [slow_toy.helix_proc("run", "--json") for _ in range(2)]
    _wait_for(lambda: sum(e["status"] == "running" for e in slow_toy.helix_json("log")) == 2)
    hold.unlink()
    docs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        docs.append(json.loads(out))
    assert docs[0]["metrics"] == docs[1]["metrics"]
    assert len(slow_toy.helix_json("log")) == 2
