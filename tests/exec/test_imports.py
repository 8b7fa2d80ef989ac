"""The core never imports dask: not on import, not in a run with another executor."""

from __future__ import annotations

import subprocess
import sys

from tests.integration.toy import FILES

CHILD = """\
import sys

import helixvcs.exec

assert "dask" not in sys.modules and "distributed" not in sys.modules, "import helixvcs.exec"
from click.testing import CliRunner

from helixvcs.cli import cli

for executor in ("local", "threads"):
    result = CliRunner().invoke(cli, ["--repo", sys.argv[1], "run", "--executor", executor])
    assert result.exit_code == 0, result.output
    assert "dask" not in sys.modules and "distributed" not in sys.modules, executor
print("no dask")
"""


def test_import_and_local_runs_never_import_dask(git_repo):
    git_repo.gen(FILES, commit="toy")
    git_repo.helix("init")
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(git_repo.path)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "no dask"
