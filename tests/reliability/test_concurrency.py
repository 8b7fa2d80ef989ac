"""Case 2, concurrency: several helix processes on one repository at once.

Two ``helix run`` of the same revision and one of another revision, a background run
started by the post-commit hook for a commit made while they go, and a fourth process
polling ``helix log`` and ``helix status`` the whole time. Every process succeeds, none
shows a lock error, every run is recorded with its own metrics, and the store holds only
whole objects.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time

from helixvcs.index import Index
from tests.integration.toy import FILES
from tests.reliability.conftest import check_store, helix_cmd

# the toy workflow, each operator ~0.12 s: a run takes about a second
SLOWER = FILES["workflow.py"].replace("time.sleep(0.02)", "time.sleep(0.12)")
# total = factor * (1 + 2 + 3) + 63
TOTALS = {"2.0": 75.0, "3.0": 81.0, "4.0": 87.0}


def _factor(value: str) -> dict[str, str]:
    return {"workflow.py": SLOWER.replace("factor=2.0", f"factor={value}")}


def _poll(repo, stop: threading.Event, failures: list[str], calls: list[int]) -> None:
    while not stop.is_set():
        for command in (["log", "--json"], ["status", "--json"]):
            done = subprocess.run(helix_cmd(repo, *command), capture_output=True, text=True)
            calls.append(done.returncode)
            if done.returncode != 0 or "lock" in done.stderr.lower():
                failures.append(f"{command}: exit {done.returncode}: {done.stderr}")
                continue
            json.loads(done.stdout)


def _wait(predicate, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _run_all(git_repo, a: str, index: Index) -> tuple[dict, str]:
    procs = {
        "same-1": subprocess.Popen(
            helix_cmd(git_repo, "run", "--json"), stdout=-1, stderr=-1, text=True
        ),
        "other": subprocess.Popen(
            helix_cmd(git_repo, "run", a, "--json"), stdout=-1, stderr=-1, text=True
        ),
        "same-2": subprocess.Popen(
            helix_cmd(git_repo, "run", "--json"), stdout=-1, stderr=-1, text=True
        ),
    }
    try:
        # all three compiled (a run is recorded once its workflow is read): the commit below
        # changes the working tree, which a run still reading it would rightly pick up
        _wait(lambda: len(index.runs()) >= 3)
        # a commit while they run: the hook runs it in the background
        git_repo.gen(_factor("4.0"), commit="C: factor 4")
        c = git_repo.git("rev-parse", "HEAD")
        docs = {}
        for name, proc in procs.items():
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, (name, err)
            assert "lock" not in err.lower() and "Traceback" not in err, (name, err)
            docs[name] = json.loads(out)
        _wait(lambda: any(r.commit == c and r.status != "running" for r in index.runs()))
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return docs, c


def test_runs_readers_and_a_hook_run_share_one_repository(git_repo):
    git_repo.gen({**FILES, **_factor("2.0")}, commit="A: factor 2")
    a = git_repo.git("rev-parse", "HEAD")
    git_repo.helix("init")
    git_repo.gen(_factor("3.0"), commit="B: factor 3")
    git_repo.helix("hooks", "install")
    index = Index(git_repo.path / ".helix" / "index.duckdb")

    stop, failures, calls = threading.Event(), [], []
    poller = threading.Thread(target=_poll, args=(git_repo, stop, failures, calls), daemon=True)
    poller.start()
    try:
        docs, c = _run_all(git_repo, a, index)
    finally:
        stop.set()
        poller.join()

    assert failures == [], failures
    assert len(calls) >= 4  # the readers really ran alongside
    assert docs["same-1"]["metrics"]["total"] == TOTALS["3.0"]
    assert docs["same-2"]["metrics"]["total"] == TOTALS["3.0"]
    assert docs["other"]["metrics"]["total"] == TOTALS["2.0"]
    runs = index.runs()
    assert sorted(r.status for r in runs) == ["ok"] * 4, runs  # no lost or stuck record
    by_id = {r.run_id: r for r in runs}
    for doc in docs.values():
        assert by_id[doc["run_id"]].status == "ok"
    hook_run = next(r for r in runs if r.commit == c)
    assert index.metrics(hook_run.run_id)["total"] == TOTALS["4.0"]
    # the hook's worker writes its line once the run's process has ended, which is after the
    # run recorded itself: wait for the line rather than read the log at once
    hooks_log = git_repo.path / ".helix" / "logs" / "hooks.log"
    _wait(lambda: f"finished {c}" in hooks_log.read_text(), timeout=30.0)
    assert f"finished {c}: ok" in hooks_log.read_text()
    check_store(git_repo)  # every object whole, and the one the index recorded
