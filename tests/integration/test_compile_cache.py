"""`helix status` and `helix plan` skip importing an unchanged workflow, in real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.toy import FILES, TOTAL, computed

MARK = "toy workflow imported"
WORKFLOW = FILES["workflow.py"].replace(
    "import csv\n", f"import csv\nimport sys\n\nprint({MARK!r}, file=sys.stderr)\n", 1
)


def _age(root: Path, seconds: float = 60.0) -> None:
    """Move every file's mtime back, as if the edits were made a minute ago (outside the
    stat cache's racy window, which a test's quick edit-then-run would otherwise hit)."""
    stamp = time.time() - seconds
    for path in [root, *root.rglob("*")]:
        if ".git" not in path.relative_to(root).parts:
            os.utime(path, (stamp, stamp))


def _helix(root: Path, *args: str, env: dict[str, str] | None = None) -> tuple[str, str]:
    out = subprocess.run(
        [sys.executable, "-m", "helixvcs", "--repo", str(root), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout, out.stderr


@pytest.fixture
def ran(git_repo):
    git_repo.gen({**FILES, "workflow.py": WORKFLOW}, commit="toy")
    git_repo.helix("init")
    _helix(git_repo.path, "run")
    _age(git_repo.path)
    return git_repo


def test_an_unchanged_tree_is_planned_without_importing_the_workflow(ran):
    first, err = _helix(ran.path, "--json", "status")
    assert MARK in err  # the first status after the aging compiles and records
    second, err = _helix(ran.path, "--json", "status")
    assert MARK not in err
    assert json.loads(second) == json.loads(first)
    assert json.loads(second)["would_compute"] == []
    plan, err = _helix(ran.path, "--json", "plan")
    assert MARK not in err
    fresh, err = _helix(ran.path, "--json", "plan", env={"HELIX_COMPILE_CACHE": "0"})
    assert MARK in err
    assert json.loads(plan) == json.loads(fresh)


def test_an_edit_is_seen_at_once(ran):
    _helix(ran.path, "status")
    ran.edit("toylib.py", "return x * f", "return x * f + 1")  # same size is no shortcut
    out, err = _helix(ran.path, "--json", "status")
    assert MARK in err
    status = json.loads(out)
    assert [c["name"] for c in status["changed"]][:1] == ["scaled"]
    assert "scaled" in status["would_compute"]


def test_a_data_edit_is_seen_at_once(ran):
    _helix(ran.path, "status")
    (ran.path / "data" / "points.csv").write_text("1,10\n2,20\n3,31\n", encoding="utf-8")
    out, _ = _helix(ran.path, "--json", "status")
    assert "raw" in json.loads(out)["would_compute"]


def test_an_unchanged_run_loads_its_outputs_without_importing_the_workflow(ran):
    _helix(ran.path, "status")  # records the compile
    out, err = _helix(ran.path, "--json", "run")
    assert MARK not in err
    doc = json.loads(out)
    assert doc["metrics"] == {"total": TOTAL, "count": 3.0}
    assert computed(doc) == set()


def test_a_corrupt_stored_output_is_recomputed_by_the_real_workflow(ran):
    first, _ = _helix(ran.path, "--json", "run")
    _helix(ran.path, "status")
    key = next(n["key"] for n in json.loads(first)["nodes"] if n["name"] == "total")
    path = ran.path / ".helix" / "objects" / key[:2] / key[2:]
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x01
    path.write_bytes(bytes(data))
    out, err = _helix(ran.path, "--json", "run")
    doc = json.loads(out)
    assert doc["status"] == "ok"
    assert doc["metrics"]["total"] == TOTAL
    assert "total" in computed(doc)
    assert MARK in err  # the real functions, after their keys were checked


def test_an_unchanged_status_imports_neither_the_workflow_nor_the_executors(ran):
    _helix(ran.path, "status")
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "helixvcs", "--repo", str(ran.path), "status"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines() if "|" in line}
    assert "helixvcs.repo.status" in imported  # the measurement itself works
    assert MARK not in out.stderr
    assert not imported & {"helixvcs.exec.driver", "toylib"}
