"""The ``helix`` process ends without being torn down (``cli.leave``), in real processes:
what the interpreter's exit does that anyone sees still happens, codes are kept."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import GitRepo

LEAVING = """\
import atexit, sys, threading, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from helixvcs.cli.leave import leave

out = Path(sys.argv[1])
atexit.register(lambda: (out / "atexit").write_text("ran"))

def late():
    time.sleep(0.3)
    (out / "thread").write_text("done")

threading.Thread(target=late).start()  # not a daemon: waited for
pool = ThreadPoolExecutor(2)  # idle workers, never shut down: told to end, not waited on
pool.submit(time.sleep, 0.1).result()
sys.stdout.write("x" * 200_000)  # buffered, no newline: flushed on the way out
leave(3)
print("never")
"""


def test_leaving_joins_threads_runs_atexit_flushes_and_keeps_the_code(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", LEAVING, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 3, done.stderr
    assert done.stdout == "x" * 200_000
    assert (tmp_path / "thread").read_text() == "done"
    assert (tmp_path / "atexit").read_text() == "ran"


ENTRY = """\
import sys

from helixvcs.cli import entry

sys.argv = ["helix", *sys.argv[1:]]
entry()
"""


def _entry(repo: GitRepo, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", ENTRY, "--repo", str(repo.path), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_program_s_codes_and_output_are_a_normal_exit_s(git_repo: GitRepo) -> None:
    git_repo.gen(
        {
            "workflow.py": "from helixvcs import Workflow\n\nwf = Workflow('w')\n\n\n"
            "@wf.metric\ndef m():\n    return 1.0\n"
        },
        commit="w",
    )
    assert _entry(git_repo, "init").returncode == 0
    ran = _entry(git_repo, "--json", "run")
    assert ran.returncode == 0, ran.stderr
    assert '"status": "ok"' in ran.stdout and ran.stdout.endswith("\n")
    bad = _entry(git_repo, "run", "--materialize", "sometimes")
    assert bad.returncode == 2 and bad.stderr.strip()
    missing = _entry(git_repo, "no-such-command")
    assert missing.returncode == 2 and "no-such-command" in missing.stderr
