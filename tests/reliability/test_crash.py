"""Case 1, crash safety: SIGKILL ``helix run`` at 30 seeded random moments of one run.

One repository for all 30: each round edits a module constant that every value depends
on (so the round's run computes everything again: no value comes out as before, so early
cutoff stops nothing), starts ``helix run`` as a real process, kills it after a seeded
random delay somewhere between start-up and the end of the run, then checks the store
and the index, and runs the same version to completion: its metric must equal the one
the workflow's functions give when called directly.
"""

from __future__ import annotations

import random
import re
import subprocess
import time

import pytest

from tests.reliability.conftest import check_index, check_store, helix_cmd, helix_json_proc

SEED = 20261128
ROUNDS = 30

# eight operators of ~60 ms that each return 200 kB of incompressible bytes: writes take
# long enough to be hit, and a whole run (with interpreter start-up) takes about a second
WORKFLOW = """\
import hashlib
import random
import time

from helixvcs import Workflow

wf = Workflow("crash")
SALT = 0


def blob(seed):
    return random.Random(seed).randbytes(200_000)


@wf.source("data/seed.txt")
def seed(path):
    time.sleep(0.06)
    with open(path) as f:
        return int(f.read()) + SALT


@wf.op
def a(seed):
    time.sleep(0.06)
    return blob(seed + 1)


@wf.op
def b(a):
    time.sleep(0.06)
    return blob(a[0] + 2)


@wf.op
def c(a):
    time.sleep(0.06)
    return blob(a[1] + 3)


@wf.op
def d(b, c):
    time.sleep(0.06)
    return blob(b[0] + c[0])


@wf.op
def e(d):
    time.sleep(0.06)
    return blob(d[2])


@wf.op
def f(d):
    time.sleep(0.06)
    return blob(d[3])


@wf.metric
def score(e, f):
    time.sleep(0.06)
    return float(int.from_bytes(hashlib.blake2b(e + f, digest_size=4).digest(), "big"))
"""


def _salted(round_: int) -> str:
    return WORKFLOW.replace("SALT = 0", f"SALT = {round_}")


def _expected(round_: int, seed_file: str) -> float:
    """The metric of round ``round_``, by calling the operators directly (the decorators
    return them unchanged)."""
    names: dict[str, object] = {}
    exec(_salted(round_).replace("time.sleep(0.06)", "pass"), names)
    op = names.__getitem__
    a = op("a")(op("seed")(seed_file))
    d = op("d")(op("b")(a), op("c")(a))
    return op("score")(op("e")(d), op("f")(d))


@pytest.mark.slow
def test_sigkill_at_30_random_points_never_leaves_a_bad_store(git_repo):
    git_repo.gen({"workflow.py": WORKFLOW, "data/seed.txt": "7\n"}, commit="crash toy")
    git_repo.helix("init")
    git_repo.commit("ignore .helix/")
    started = time.monotonic()
    baseline = helix_json_proc(git_repo, "run")
    full = time.monotonic() - started
    assert baseline["status"] == "ok"
    assert all(n["materialized"] for n in baseline["nodes"]), baseline  # writes to hit
    seed_file = str(git_repo.path / "data" / "seed.txt")
    assert baseline["metrics"] == {"score": _expected(0, seed_file)}

    rng = random.Random(SEED)
    killed, finished, interrupted, resumed_loads = 0, 0, 0, 0
    for round_ in range(1, ROUNDS + 1):
        git_repo.write({"workflow.py": _salted(round_)})
        proc = subprocess.Popen(
            helix_cmd(git_repo, "run"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(rng.uniform(0.05, full))
        proc.kill()
        code = proc.wait()
        killed += code == -9
        finished += code == 0  # the run was over before the kill: it is one more ok run

        check_store(git_repo)  # no partial, torn or unrecorded-but-wrong object
        before = check_index(git_repo)  # readable right after the kill
        doc = git_repo.helix_json("run")
        assert doc["status"] == "ok", (round_, doc)
        assert doc["metrics"] == {"score": _expected(round_, seed_file)}, round_
        resumed_loads += any(n["state"] == "load" for n in doc["nodes"])
        after = check_index(git_repo)
        assert not [r for r in after if r.status == "running"], round_
        # the killed run's record is kept, marked interrupted (if it got as far as begin)
        assert {r.run_id for r in before} <= {r.run_id for r in after}
        interrupted += any(r.status == "interrupted" for r in after if r not in before) or any(
            r.status == "running" for r in before
        )
        check_store(git_repo)

    # the seeded delays really spread over the run: most rounds were killed mid-way,
    # some after the run was recorded, some after objects were written
    assert killed >= ROUNDS * 2 // 3, killed
    assert interrupted >= 5, interrupted
    assert resumed_loads >= 5, resumed_loads
    runs = check_index(git_repo)
    # every verifying run is ok; so is a killed run that was over before the kill (exit 0)
    # or that had recorded its result when the kill arrived (before it could exit)
    assert ROUNDS + 1 + finished <= sum(r.status == "ok" for r in runs) <= 2 * ROUNDS + 1
    assert all(re.fullmatch(r"ok|interrupted", r.status) for r in runs)
