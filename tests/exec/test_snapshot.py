"""Workers run the code that was compiled, never files edited since (the worst bug a cache
can have: a value computed by new code, stored under the old key)."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import time
from pathlib import Path

from helixvcs.graph import compile_workflow
from tests.integration.toy import FILES, TOTAL

# `xs` says it started, then waits while `hold` exists: the test edits files meanwhile
HELD = (
    FILES["workflow.py"]
    .replace("import time\n", "import time\nfrom pathlib import Path\n")
    .replace(
        "def xs(raw):\n    time.sleep(0.02)\n",
        "def xs(raw):\n"
        "    signals = Path(SIGNALS)\n"
        "    (signals / 'started').touch()\n"
        "    while (signals / 'hold').exists():\n"
        "        time.sleep(0.02)\n",
    )
)


def _wait_for(path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"timed out waiting for {path}"
        time.sleep(0.05)


def test_edits_saved_during_a_run_never_change_what_it_computes(git_repo, tmp_path, executor_args):
    signals = tmp_path / "signals"
    signals.mkdir()
    (signals / "hold").touch()
    workflow = HELD.replace("wf = Workflow", f"SIGNALS = {str(signals)!r}\n\nwf = Workflow")
    git_repo.gen({**FILES, "workflow.py": workflow}, commit="held toy")
    git_repo.helix("init")
    proc = git_repo.helix_proc("run", "--json", *executor_args)
    _wait_for(signals / "started")
    git_repo.edit("toylib.py", "return x * f", "return x * f + 100")  # `scaled` has not run
    git_repo.edit("workflow.py", "return float(len(xs))", "return 0.0")  # nor has `count`
    (signals / "hold").unlink()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    doc = json.loads(out)
    assert doc["metrics"] == {"total": TOTAL, "count": 3.0}  # the code that was compiled
    after = git_repo.helix_json("run", *executor_args)  # the edits are new keys
    assert after["metrics"] == {"total": TOTAL + 300, "count": 0.0}


SNAPSHOT_CHILD = """\
import pickle, sys, traceback
from helixvcs.graph.snapshot import snapshot_functions
snapshot = pickle.load(open(sys.argv[1], "rb"))
functions = snapshot_functions(snapshot)
module = sys.modules["helix_workflow"]
print(functions["scaled"]([1.0, 2.0]))
print(module.__file__)
print(sys.modules["toylib"].__file__)
try:
    functions["shifted"](None)
except TypeError:
    print(next(line.strip() for line in traceback.format_exc().splitlines() if " ys]" in line))
"""


def test_a_snapshot_imports_the_compiled_text_under_the_real_paths(git_repo, tmp_path):
    git_repo.gen(FILES, commit="toy")
    dag = compile_workflow(git_repo.path, git_repo.path / "workflow.py")
    assert dag.sources is not None
    assert {m.name: m.path for m in dag.sources.modules} == {
        "helix_workflow": "workflow.py",
        "toylib": "toylib.py",
    }
    git_repo.edit("toylib.py", "return x * f", "return x * f + 100")
    git_repo.edit("workflow.py", "return [y + SHIFT for y in ys]", "return [y - 1 for y in ys]")
    saved = tmp_path / "snapshot.pickle"
    saved.write_bytes(pickle.dumps(dag.sources))
    out = subprocess.run(
        [sys.executable, "-c", SNAPSHOT_CHILD, str(saved)],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    ).stdout.splitlines()  # fmt: skip
    assert out[0] == "[2.0, 4.0]"  # the compiled toylib, not the edited file
    assert out[1] == str(git_repo.path.resolve() / "workflow.py")
    assert out[2] == str(git_repo.path.resolve() / "toylib.py")
    assert out[3] == "return [y + SHIFT for y in ys]"  # tracebacks show the compiled lines
