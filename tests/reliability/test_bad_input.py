"""Case 5, bad input that is not a compile error of the module's shape.

Syntax errors, missing packages, cycles, unknown parents, parents that are also
constants, globs that match nothing and modules without a ``Workflow`` are covered by
``tests/integration/test_errors.py`` (and the fuzzing of ``test_fuzz_compile.py``); this
file adds what only shows when operators run, and unusual paths.
"""

from __future__ import annotations

import json

from tests.integration.toy import FILES, TOTAL, computed, states
from tests.reliability.conftest import error_line, object_path, warnings

WF = FILES["workflow.py"]


def test_an_unpicklable_value_is_one_warning_and_the_run_succeeds(git_repo):
    source = WF.replace("import csv\n", "import csv\nimport threading\n").replace(
        "    return len(raw)", "    return threading.Lock()"
    )
    source = source.replace(
        "def count(xs):\n    return float(len(xs))",
        "def count(xs, unused):\n    return float(len(xs))",
    )
    git_repo.gen({**FILES, "workflow.py": source}, commit="a lock")
    git_repo.helix("init")
    result = git_repo.helix("run", "--materialize", "all", "--json")
    doc = json.loads(result.stdout)
    assert doc["status"] == "ok" and doc["metrics"]["total"] == TOTAL
    noted = warnings(result.stderr)
    assert len(noted) == 1, result.stderr
    assert "unused: cannot store a value of type _thread.lock" in noted[0]
    assert "recomputed when needed" in noted[0]
    assert "Traceback" not in result.stderr


MUTATES = WF.replace(
    "def xs(raw):\n    time.sleep(0.02)\n    return [r[0] for r in raw]",
    "def xs(raw):\n    time.sleep(0.02)\n    raw.append((0.0, 0.0))\n"
    "    return [r[0] for r in raw]",
)


def test_an_operator_that_changes_a_shared_input_fails_the_run_naming_it(git_repo):
    git_repo.gen({**FILES, "workflow.py": MUTATES}, commit="mutates raw")
    git_repo.helix("init")
    result = git_repo.helix("run", "--json", code=1)
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.stderr
    assert "operator 'xs' changed its input 'raw' in place" in lines[0]
    assert "copy" in lines[0]
    assert "Traceback" not in result.stderr
    # ys, a sibling, never saw the changed value: it ran before xs or not at all
    doc = json.loads(result.stdout)
    assert doc["status"] == "failed"
    # nothing lost: with xs fixed, the next run starts from what was kept (raw)
    git_repo.write({"workflow.py": WF})
    fixed = git_repo.helix_json("run")
    assert fixed["metrics"]["total"] == TOTAL and "raw" not in computed(fixed)


def test_changing_an_input_no_other_operator_receives_is_allowed(git_repo):
    # shifted is the only operator that receives ys
    source = WF.replace(
        "    return [y + SHIFT for y in ys]", "    ys.reverse()\n    return [y + SHIFT for y in ys]"
    )
    git_repo.gen({**FILES, "workflow.py": source}, commit="mutates ys")
    git_repo.helix("init")
    doc = git_repo.helix_json("run")
    assert doc["metrics"]["total"] == TOTAL


NOISY = WF.replace("import csv\n", "import csv\nimport random\n").replace(
    "    return [y + SHIFT for y in ys]", "    return [y + SHIFT + random.random() for y in ys]"
)


def test_a_non_deterministic_operator_is_reported_when_its_value_is_computed_again(git_repo):
    git_repo.gen({**FILES, "workflow.py": NOISY}, commit="noisy")
    git_repo.helix("init")
    first = git_repo.helix_json("run")
    key = next(n["key"] for n in first["nodes"] if n["name"] == "shifted")
    total = next(n["key"] for n in first["nodes"] if n["name"] == "total")
    object_path(git_repo, key).unlink()  # lost: its value must be computed again
    object_path(git_repo, total).unlink()
    result = git_repo.helix("run", "--json")
    assert result.exit_code == 0
    noted = [w for w in warnings(result.stderr) if "deterministic" in w]
    assert len(noted) == 1, result.stderr
    assert "operator 'shifted' is not deterministic" in noted[0] and key[:12] in noted[0]
    again = git_repo.helix("run", "--json")
    assert not [w for w in warnings(again.stderr) if "deterministic" in w]  # once
    assert states(json.loads(again.stdout))["total"] == "load"


def test_a_source_symlink_out_of_the_repository_is_refused(git_repo):
    outside = git_repo.path.parent / "secret.csv"
    outside.write_text("1,2\n")
    git_repo.gen(FILES, commit="toy")
    link = git_repo.path / "data" / "points.csv"
    link.unlink()
    link.symlink_to(outside)
    git_repo.commit("points are a link")
    git_repo.helix("init")
    for args in (["run"], ["run", "HEAD"], ["plan"]):
        line = error_line(git_repo.helix(*args, code=2).stderr)
        assert "operator 'raw'" in line and "outside the repository" in line, line


def test_paths_with_spaces_and_unicode_work(tmp_path, isolated_git):
    from tests.conftest import GitRepo

    path = tmp_path / "my ml répo ✓"
    path.mkdir()
    repo = GitRepo(path)
    repo.git("init", "-q", "-b", "main")
    data = "data/points été 1.csv"
    source = WF.replace('"data/points.csv"', f'"{data}"')
    repo.gen({**FILES, "workflow.py": source, data: FILES["data/points.csv"]}, commit="ü")
    repo.helix("init")
    assert repo.helix_json("run")["metrics"]["total"] == TOTAL
    assert repo.helix_json("run", "HEAD")["metrics"]["total"] == TOTAL
    shown = repo.helix_json("show", "raw")
    assert shown["name"] == "raw"
