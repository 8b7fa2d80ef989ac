"""Case 4, disk full: the file system refuses a store write part-way through.

Two real ways to run out of room, both in a real ``helix run`` process:

* ``tmpfs``: a 1 MiB tmpfs mounted over ``.helix/objects`` (needs the right to mount;
  skipped where the sandbox forbids it), so the write fails with ENOSPC;
* ``fsize``: ``RLIMIT_FSIZE`` of 1.5 MB set in the child (SIGXFSZ ignored), so the write
  of a larger object fails with EFBIG, as a full quota would. It needs no privilege and
  runs everywhere.

Either way the run fails with one line and exit 2, is recorded as failed, the store is
left with whole objects only, and the next run with room succeeds.
"""

from __future__ import annotations

import resource
import signal
import subprocess

import pytest

from helixvcs.index import Index
from tests.reliability.conftest import (
    check_index,
    check_store,
    error_line,
    helix_json_proc,
    helix_run,
    objects_dir,
)

WORKFLOW = """\
import random

from helixvcs import Workflow

wf = Workflow("full")


@wf.source("data/n.txt")
def n(path):
    with open(path) as f:
        return int(f.read())


@wf.op
def small(n):
    return [n] * 10


@wf.op
def big(small):
    return random.Random(small[0]).randbytes(3_000_000)  # incompressible


@wf.metric
def size(big, small):
    return float(len(big) + len(small))
"""


def _limit_file_size() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a signal
    resource.setrlimit(resource.RLIMIT_FSIZE, (1_500_000, 1_500_000))


def _mount_tmpfs(path) -> None:
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")


@pytest.mark.parametrize("how", ["tmpfs", "fsize"])
def test_a_refused_store_write_fails_the_run_cleanly(git_repo, how):
    git_repo.gen({"workflow.py": WORKFLOW, "data/n.txt": "3\n"}, commit="full")
    git_repo.helix("init")
    git_repo.commit("ignore .helix/")
    objects = objects_dir(git_repo)
    kwargs = {}
    if how == "tmpfs":
        _mount_tmpfs(objects)
    else:
        kwargs["preexec_fn"] = _limit_file_size
    try:
        done = helix_run(git_repo, "--quiet", "run", "--materialize", "all", **kwargs)
        assert done.returncode == 2, done.stderr
        line = error_line(done.stderr)
        reason = "No space left on device" if how == "tmpfs" else "File too large"
        assert line.startswith("error: could not write object") and reason in line, line
        assert "helix gc" in line  # what to do
        check_store(git_repo)  # the partial file is gone, what was written verifies
        runs = Index(git_repo.path / ".helix" / "index.duckdb").runs()
        assert [r.status for r in runs] == ["failed"], runs
        assert runs[0].error is not None and reason in runs[0].error
    finally:
        if how == "tmpfs":
            subprocess.run(["umount", str(objects)], check=True)
    again = helix_run(git_repo, "run", "--materialize", "all", "--json")
    assert again.returncode == 0, again.stderr
    check_store(git_repo)


def _limit_to_4k() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4000, 4000))


def test_a_full_disk_while_writing_the_index_says_what_to_do(toy):
    toy.helix("run")
    toy.edit("workflow.py", "factor=2.0", "factor=5.0")  # a run with something to record
    done = helix_run(toy, "run", preexec_fn=_limit_to_4k)
    assert done.returncode == 2, done.stderr
    line = error_line(done.stderr)
    assert "run index" in line and "File too large" in line, line
    assert "free space on that file system" in line and "helix gc" in line, line
    # nothing recorded was lost, and with room the next run succeeds
    assert len(check_index(toy)) == 1
    doc = helix_json_proc(toy, "run")
    assert doc["status"] == "ok"
