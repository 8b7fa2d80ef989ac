"""``with_tree``: a snapshot that carries every module of the repository, for workers
that cannot read its files (a Dask run with a remote as its store)."""

from __future__ import annotations

import pickle
import shutil
import subprocess
import sys
from pathlib import Path

from helixvcs.graph import compile_workflow
from helixvcs.graph.snapshot import with_tree
from tests.conftest import GitRepo

FILES = {
    "flows/workflow.py": (
        "from helixvcs import Workflow\n"
        "wf = Workflow('tree')\n"
        "@wf.source('n.txt')\n"
        "def n(path):\n"
        "    return 2\n"
        "@wf.metric\n"
        "def total(n):\n"
        "    import late  # beside the workflow: imported only when it runs\n"
        "    from lib.helpers import twice  # a package at the root\n"
        "    return float(twice(late.plus_one(n)))\n"
    ),
    "flows/late.py": "def plus_one(x):\n    return x + 1\n",
    "lib/__init__.py": "",
    "lib/helpers.py": "def twice(x):\n    return 2 * x\n",
    "n.txt": "2",
    ".hidden/secret.py": "X = 1\n",
    "venv/pyvenv.cfg": "home = /usr/bin\n",
    "venv/lib/site.py": "X = 1\n",
    "bad-name/mod.py": "X = 1\n",
}

CHILD = """\
import pickle, sys
from helixvcs.graph.snapshot import snapshot_functions
functions = snapshot_functions(pickle.load(open(sys.argv[1], "rb")))
print(functions["total"](2))
"""


def test_modules_imported_when_operators_run_come_with_the_snapshot(
    git_repo: GitRepo, tmp_path: Path
) -> None:
    git_repo.gen(FILES, commit="tree")
    dag = compile_workflow(git_repo.path, git_repo.path / "flows" / "workflow.py")
    assert dag.sources is not None
    shipped = with_tree(dag.sources)
    names = {m.name: m.path for m in shipped.tree}
    assert names["late"] == "flows/late.py"  # from the workflow's folder
    assert names["lib.helpers"] == "lib/helpers.py" and names["lib"] == "lib/__init__.py"
    assert not any(p.startswith((".hidden/", "venv/", "bad-name/")) for p in names.values())
    assert shipped.digest != dag.sources.digest

    saved = tmp_path / "snapshot.pickle"
    saved.write_bytes(pickle.dumps(shipped))
    shutil.rmtree(git_repo.path)  # as on a worker that has no copy of the repository
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(saved)],
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "6.0"

    without = tmp_path / "without.pickle"  # the snapshot alone reads those from the files
    without.write_bytes(pickle.dumps(dag.sources))
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(without)],
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert "No module named 'late'" in out.stderr
