"""Bad input exits 2 with one line naming file, line and operator; a failing operator exits 1."""

from __future__ import annotations

import pytest

from tests.integration.toy import FILES, computed

HEADER = "from helixvcs import Workflow\nwf = Workflow('bad')\n"

CASES = {
    "unknown parent": (
        HEADER + "@wf.op\ndef a(nothing):\n    return 1\n@wf.metric\ndef m(a):\n    return 1.0\n",
        ["workflow.py:3", "operator 'a'", "parameter 'nothing' names no operator"],
    ),
    "cycle": (
        HEADER
        + "@wf.op\ndef a(b):\n    return 1\n@wf.op\ndef b(a):\n    return 1\n"
        + "@wf.metric\ndef m(a):\n    return 1.0\n",
        ["workflow.py:", "cycle: ", "a <- b <- a"],
    ),
    "duplicate name": (
        HEADER + "@wf.op\ndef a():\n    return 1\n@wf.op\ndef a():\n    return 2\n"
        "@wf.metric\ndef m(a):\n    return 1.0\n",
        ["workflow.py:6", "operator 'a'", "duplicate operator name"],
    ),
    "source outside the repo": (
        HEADER + "@wf.source('../secret.csv')\ndef raw(path):\n    return 1\n"
        "@wf.metric\ndef m(raw):\n    return 1.0\n",
        ["workflow.py:3", "operator 'raw'", "inside the repository"],
    ),
    "source matches nothing": (
        HEADER + "@wf.source('data/*.parquet')\ndef raw(path):\n    return 1\n"
        "@wf.metric\ndef m(raw):\n    return 1.0\n",
        ["workflow.py:3", "operator 'raw'", "matches no file"],
    ),
    "no workflow": ("x = 1\n", ["workflow.py", "no Workflow in the module"]),
    "syntax error": (HEADER + "@wf.op\ndef a(:\n    return 1\n", ["workflow.py:4", "syntax error"]),
    "missing package": (
        "import not_a_real_package_xyz\n" + HEADER,
        ["workflow.py:1", "cannot import 'not_a_real_package_xyz'"],
    ),
    "parent that is also a constant": (
        HEADER + "@wf.op\ndef a():\n    return 1\n@wf.metric\ndef m(a=3):\n    return 1.0\n",
        ["workflow.py:6", "operator 'm'", "has a default"],
    ),
    "no outputs": (HEADER + "@wf.op\ndef a():\n    return 1\n", ["no @wf.metric or @wf.output"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("command", ["run", "plan"])
def test_compile_errors_exit_2_with_one_line(git_repo, case, command):
    source, fragments = CASES[case]
    git_repo.gen({"workflow.py": source, "data/x.csv": "1\n"}, commit="bad")
    git_repo.helix("init")
    result = git_repo.helix(command, code=2)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.output


def test_not_a_git_repo_and_not_initialized(tmp_path, git_repo):
    from click.testing import CliRunner

    from helixvcs.cli import cli

    outside = CliRunner().invoke(cli, ["--repo", str(tmp_path), "status"])
    assert outside.exit_code == 2
    assert "not inside a git repository" in outside.stderr
    git_repo.gen(FILES, commit="toy")
    uninit = git_repo.helix("run", code=2)
    assert "helix init" in uninit.stderr


FAILING = FILES["workflow.py"].replace(
    "    return [y + SHIFT for y in ys]", "    raise ValueError('bad shift')"
)


def test_failing_operator_exits_1_with_user_traceback_and_keeps_work(git_repo):
    git_repo.gen({**FILES, "workflow.py": FAILING}, commit="broken")
    git_repo.helix("init")
    result = git_repo.helix("run", code=1)
    assert "operator 'shifted' failed: ValueError: bad shift" in result.stderr
    assert (
        'workflow.py", line' in result.stderr and "raise ValueError('bad shift')" in result.stderr
    )
    assert "helixvcs/exec" not in result.stderr  # our frames are cut off
    log = git_repo.helix_json("log")
    assert log[0]["status"] == "failed"
    # fix it: the next run resumes from what finished (ys, xs, scaled, raw were kept)
    git_repo.write({"workflow.py": FILES["workflow.py"]})
    doc = git_repo.helix_json("run")
    assert computed(doc) == {"shifted", "total", "count"}
    assert doc["metrics"]["total"] == 75.0


def test_metric_of_wrong_type_fails_the_run(git_repo):
    bad = FILES["workflow.py"].replace("return float(len(xs))", "return 'many'")
    git_repo.gen({**FILES, "workflow.py": bad}, commit="bad metric")
    git_repo.helix("init")
    result = git_repo.helix("run", code=1)
    assert "metric 'count' returned str" in result.stderr


def test_internal_errors_do_not_show_tracebacks_without_debug(git_repo):
    git_repo.gen(FILES, commit="toy")
    git_repo.helix("init")
    (git_repo.path / ".helix" / "config.toml").write_text("max_store_bytes = 'lots'\n")
    result = git_repo.helix("run", code=2)
    config = git_repo.path / ".helix" / "config.toml"
    assert result.stderr.strip().splitlines() == [
        f"error: {config}: max_store_bytes: bad size 'lots'; use bytes or a unit, "
        "e.g. 500MB or 2GiB"
    ]


def test_a_failed_run_reports_only_what_ran_and_saves_nothing(git_repo):
    git_repo.gen({**FILES, "workflow.py": FAILING}, commit="broken")
    git_repo.helix("init")
    doc = git_repo.helix_json("run", code=1)
    states = {n["name"]: n["state"] for n in doc["nodes"]}
    assert doc["status"] == "failed" and doc["saved_seconds"] == 0
    assert states["shifted"] == "compute"  # the operator that raised
    assert states["total"] == "prune" and states["count"] == "prune"  # never reached
    log = git_repo.helix_json("log")
    assert log[0]["counts"]["compute"] == 5  # raw, xs, ys, scaled, and the failing shifted


def test_debug_still_shows_the_operators_traceback(git_repo):
    git_repo.gen({**FILES, "workflow.py": FAILING}, commit="broken")
    git_repo.helix("init")
    result = git_repo.helix("--debug", "run", code=1)
    assert "raise ValueError('bad shift')" in result.stderr


def test_a_non_finite_metric_is_null_in_json(git_repo):
    nan = FILES["workflow.py"].replace("return float(len(xs))", "return float('nan')")
    git_repo.gen({**FILES, "workflow.py": nan}, commit="nan")
    git_repo.helix("init")
    doc = git_repo.helix_json("run")
    assert doc["metrics"]["count"] is None


def test_workflow_configured_outside_the_repository_is_refused(git_repo):
    git_repo.gen(
        {**FILES, "pyproject.toml": '[tool.helix]\nworkflow = "../elsewhere.py"\n'}, commit="x"
    )
    (git_repo.path.parent / "elsewhere.py").write_text(FILES["workflow.py"])
    git_repo.helix("init")
    result = git_repo.helix("plan", code=2)
    assert "outside the repository" in result.stderr
