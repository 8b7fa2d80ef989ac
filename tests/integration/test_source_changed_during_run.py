"""A data file written while a run goes never ends up stored under the key of its old
content: the source that reads it fails instead, and no stale value is kept.

The workflow's first operator says it started and waits; the test rewrites the data file
then, after the run computed the source's key from the old content and before the
source reads it. Restoring the old content afterwards must give the old metric, as a
fresh run would: a value of the new content stored under the old key would give the new.
"""

from __future__ import annotations

import subprocess

from tests.reliability.conftest import helix_json_proc, run_until_marker

WORKFLOW = """\
import os
import time
from pathlib import Path

from helixvcs import Workflow

wf = Workflow("moving-data")


@wf.op
def wait():
    marker = os.environ.get("HELIX_TEST_MARKER")
    if marker:
        Path(marker).write_text("waiting")
        time.sleep(2.0)
    return 0.0


@wf.source("data/n.txt")
def n(path):
    return float(Path(path).read_text())


@wf.metric
def total(wait, n):
    return wait + n
"""


def test_a_source_file_written_during_a_run_is_never_stored_under_its_old_key(git_repo, tmp_path):
    git_repo.gen({"workflow.py": WORKFLOW, "data/n.txt": "1\n", ".gitignore": ".helix/\n"})
    git_repo.commit("moving data")
    git_repo.helix("init")
    process = run_until_marker(
        git_repo,
        tmp_path / "waiting",
        "run",
        "--materialize",
        "all",
        timeout=60,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    (git_repo.path / "data" / "n.txt").write_text("100\n")  # saved while the run waits
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1, (out, err)
    assert "source 'n': " in err and "changed after this run computed its key" in err
    assert "Traceback" not in err

    (git_repo.path / "data" / "n.txt").write_text("1\n")  # the old content again
    again = helix_json_proc(git_repo, "run")
    assert again["metrics"] == {"total": 1.0}
    (git_repo.path / "data" / "n.txt").write_text("100\n")
    assert helix_json_proc(git_repo, "run")["metrics"] == {"total": 100.0}
