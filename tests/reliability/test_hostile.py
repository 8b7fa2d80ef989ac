"""Hostile inputs: each ends with exit 0, 1 or 2 and one clear line, never an internal error.

Each case was once an exit 70 (internal error), a silent exit, or a wrong record; the
issue's reproducers are here one by one. ``test_fuzz_hostile.py`` draws many more.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from helixvcs.index import Index
from tests.integration.toy import FILES, TOTAL
from tests.reliability.conftest import check_store, error_line, object_path

WF = FILES["workflow.py"]
FOLDER_SOURCE = WF.replace('@wf.source("data/points.csv")', '@wf.source("data")').replace(
    'with open(path, newline="") as f:', 'with open(path + "/points.csv", newline="") as f:'
)
GLOB_SOURCE = WF.replace('@wf.source("data/points.csv")', '@wf.source("data/*")').replace(
    'with open(path, newline="") as f:', 'with open(sorted(path)[0], newline="") as f:'
)


def _runs(repo):
    return Index(repo.path / ".helix" / "index.duckdb").runs()


def test_a_metric_too_large_for_a_float_fails_the_run_naming_it(git_repo):
    source = WF + "\n\n@wf.metric\ndef huge(count):\n    return 10**400\n"
    git_repo.gen({**FILES, "workflow.py": source}, commit="huge")
    git_repo.helix("init")
    result = git_repo.helix("run", "--json", code=1)
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "metric 'huge'" in lines[0] and "too large" in lines[0], lines
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert json.loads(result.stdout)["status"] == "failed"
    assert _runs(git_repo)[0].status == "failed"


def test_a_workflow_file_that_is_not_utf8_is_one_line_with_file_and_line(git_repo):
    git_repo.gen(FILES, commit="toy")
    git_repo.helix("init")
    git_repo.write({"workflow.py": WF.encode() + b"# caf\xe9\n"})
    lines = WF.count("\n") + 1
    for args in (["run"], ["plan"], ["status"]):
        line = error_line(git_repo.helix(*args, code=2).stderr)
        assert f"workflow.py:{lines}:" in line and "not valid utf-8" in line, line
        assert "UTF-8" in line
    # a repository module that is not UTF-8 is named the same way
    git_repo.write({"workflow.py": WF, "toylib.py": FILES["toylib.py"].encode() + b"# \xff\n"})
    line = error_line(git_repo.helix("run", code=2).stderr)
    assert "toylib.py:" in line and "not valid utf-8" in line, line
    # a declared encoding is honoured
    latin = b"# -*- coding: latin-1 -*-\n# caf\xe9\n" + FILES["toylib.py"].encode()
    git_repo.write({"toylib.py": latin})
    assert git_repo.helix_json("run")["metrics"]["total"] == TOTAL


@pytest.mark.parametrize("source", [FOLDER_SOURCE, GLOB_SOURCE], ids=["folder", "glob"])
def test_a_file_name_that_is_not_utf8_is_data(git_repo, source):
    name = os.fsdecode(b"data/z\xff.csv")
    git_repo.gen({**FILES, "workflow.py": source}, commit="toy")
    (git_repo.path / name).write_bytes(b"")
    git_repo.helix("init")
    first = git_repo.helix_json("run")
    assert first["status"] == "ok" and first["metrics"]["total"] == TOTAL
    again = git_repo.helix_json("run")
    assert {n["state"] for n in again["nodes"]} <= {"load", "prune"}
    (git_repo.path / name).write_bytes(b"changed")  # the file's content is in the key
    assert "data/z" in git_repo.helix("status").stdout
    changed = git_repo.helix_json("run")
    assert "raw" in {n["name"] for n in changed["nodes"] if n["state"] == "compute"}
    git_repo.commit("a file whose name is not UTF-8")
    assert git_repo.helix_json("run", "HEAD")["metrics"]["total"] == TOTAL
    assert git_repo.helix_json("log")[0]["status"] == "ok"


def test_sys_exit_in_an_operator_fails_the_run_with_the_code(git_repo):
    source = WF.replace("def ys(raw):\n", "def ys(raw):\n    import sys; sys.exit(3)\n")
    git_repo.gen({**FILES, "workflow.py": source}, commit="exits")
    git_repo.helix("init")
    result = git_repo.helix("run", "--json", code=1)
    assert "operator 'ys' called sys.exit(3)" in result.stderr
    assert "internal error" not in result.stderr
    run = _runs(git_repo)[0]
    assert run.status == "failed" and "sys.exit(3)" in (run.error or ""), run


def test_sys_exit_in_the_workflow_module_is_a_compile_error(git_repo):
    source = WF.replace("wf = Workflow", "import sys\nsys.exit(0)\nwf = Workflow")
    git_repo.gen({**FILES, "workflow.py": source}, commit="exits")
    git_repo.helix("init")
    line = error_line(git_repo.helix("run", code=2).stderr)
    assert "workflow.py:" in line and "sys.exit(0)" in line, line


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        ("def xs(raw):", "async def xs(raw):", "async def"),
        ("def xs(raw):", "def xs(raw, /):", "positional-only"),
    ],
    ids=["async", "positional-only"],
)
def test_operators_helix_cannot_call_are_refused_at_compile_time(git_repo, old, new, words):
    git_repo.gen({**FILES, "workflow.py": WF.replace(old, new)}, commit="bad")
    git_repo.helix("init")
    for args in (["run"], ["plan"]):
        line = error_line(git_repo.helix(*args, code=2).stderr)
        assert "workflow.py:" in line and "(operator 'xs')" in line and words in line, line
    assert _runs(git_repo) == []


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        ('wf = Workflow("toy")', 'wf = Workflow("")', "non-empty string"),
        ('@wf.source("data/points.csv")', "@wf.source(None)", "path or glob"),
        ("@wf.op\ndef xs", "@wf.op(3)\ndef xs", "must decorate a function"),
        ("@wf.op\ndef xs", "wf.op(print)\n\n@wf.op\ndef xs", "named function"),
    ],
    ids=["workflow name", "source path", "op argument", "builtin"],
)
def test_decorator_errors_carry_file_and_line(git_repo, old, new, words):
    source = WF.replace(old, new)
    git_repo.gen({**FILES, "workflow.py": source}, commit="bad")
    git_repo.helix("init")
    line = error_line(git_repo.helix("run", code=2).stderr)
    expected = source[: source.index(new)].count("\n") + 1
    assert "<unknown>" not in line and words in line, line
    assert f"workflow.py:{expected}" in line or f"workflow.py:{expected + 1}" in line, line


def test_a_path_component_longer_than_255_bytes_is_one_line(git_repo):
    long = "data/" + "a" * 300 + ".csv"
    git_repo.gen({**FILES, "workflow.py": WF.replace("data/points.csv", long)}, commit="long")
    git_repo.helix("init")
    for args in (["run"], ["run", "HEAD"], ["plan"]):
        line = error_line(git_repo.helix(*args, code=2).stderr)
        assert "(operator 'raw')" in line and "File name too long" in line, line


def test_show_of_a_deeply_nested_value_is_cut_short(git_repo):
    deep = "\n\n@wf.output\ndef deep(count):\n    v = []\n    for _ in range(100000):\n"
    deep += "        v = [v]\n    return v\n"
    git_repo.gen({**FILES, "workflow.py": WF + deep}, commit="deep")
    git_repo.helix("init")
    git_repo.helix("run")
    result = git_repo.helix("show", "deep")
    assert "nested too deeply" in result.stdout and "[[[" in result.stdout
    assert git_repo.helix_json("show", "deep")["name"] == "deep"


def test_a_folder_where_an_object_belongs_is_replaced(toy):
    first = toy.helix_json("run")
    key = next(n["key"] for n in first["nodes"] if n["name"] == "total")
    path = object_path(toy, key)
    path.unlink()
    (path / "inside").mkdir(parents=True)
    for _ in range(2):
        doc = toy.helix_json("run")
        assert doc["status"] == "ok" and doc["metrics"]["total"] == TOTAL
    assert path.is_file()
    check_store(toy)


def test_a_file_where_a_fanout_folder_belongs_is_replaced(toy):
    first = toy.helix_json("run")
    key = next(n["key"] for n in first["nodes"] if n["name"] == "total")
    folder = object_path(toy, key).parent
    shutil.rmtree(folder)
    folder.write_bytes(b"not a folder")
    for _ in range(2):
        doc = toy.helix_json("run")
        assert doc["status"] == "ok" and doc["metrics"]["total"] == TOTAL
    assert object_path(toy, key).is_file()
    check_store(toy)


def test_temp_files_of_dead_writers_are_removed_by_the_next_command(toy):
    helix = toy.path / ".helix"
    toy.helix("run")
    dead = _dead_pid()
    old = [helix / ".statcache.json.abc123xy.tmp", helix / ".compiled.json.k2_3j9aa.tmp"]
    killed = [helix / f".statcache.json.{dead}-0123456789ab.tmp"]
    live = [helix / f".compiled.json.{os.getpid()}-0123456789ab.tmp"]
    young = [helix / ".statcache.json.zz9yy8xx.tmp"]
    for path in old + killed + live + young:
        path.write_bytes(b"{")
    hour_ago = time.time() - 3700
    for path in old:
        os.utime(path, (hour_ago, hour_ago))
    toy.helix("log")  # a command that writes nothing
    assert [p for p in old + killed if p.exists()] == []
    assert all(p.exists() for p in live + young)  # a writer may still hold them
    assert toy.helix_json("run")["metrics"]["total"] == TOTAL


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


@pytest.mark.parametrize(
    ("setting", "words"),
    [
        ("max_store_bytes = -1", "cannot be negative"),
        ('max_store_bytes = "lots"', "bad size 'lots'"),
        ("max_store_bytes = true", "bad size True"),
    ],
)
def test_a_bad_store_size_in_the_configuration_names_the_file(toy, setting, words):
    config = toy.path / ".helix" / "config.toml"
    config.write_text(setting + "\n")
    line = error_line(toy.helix("run", code=2).stderr)
    assert str(config) in line and "max_store_bytes" in line and words in line, line


def test_time_saved_never_counts_the_work_of_a_failed_run(git_repo):
    slow = WF.replace("def xs(raw):\n    time.sleep(0.02)", "def xs(raw):\n    time.sleep(0.6)")
    failing = slow.replace("def count(xs):\n", "def count(xs):\n    raise ValueError('no')\n")
    git_repo.gen({**FILES, "workflow.py": failing}, commit="fails")
    git_repo.helix("init")
    failed = git_repo.helix_json("run", "--materialize", "all", code=1)
    assert failed["status"] == "failed" and failed["saved_seconds"] == 0
    git_repo.write({"workflow.py": slow})  # fixed: xs, kept by the failed run, is loaded
    fixed = git_repo.helix_json("run")
    assert {n["name"]: n["state"] for n in fixed["nodes"]}["xs"] == "load"
    assert fixed["saved_seconds"] < 0.5, fixed  # xs's 0.6 s were the failed run's work
    again = git_repo.helix_json("run")  # now an ok run has computed what it reuses... or not
    assert again["saved_seconds"] < 0.5
    git_repo.write({"workflow.py": slow.replace("time.sleep(0.6)", "time.sleep(0.61)")})
    computed = git_repo.helix_json("run")  # an ok run computes xs
    assert {n["name"]: n["state"] for n in computed["nodes"]}["xs"] == "compute"
    reused = git_repo.helix_json("run")
    assert reused["saved_seconds"] >= 0.6  # work of an ok run, reused: saved


LONG_QUERY = """\
import signal, sys
from helixvcs.index import Index

# as in a terminal: a process started in the background by a shell inherits SIGINT
# ignored, and Python then installs no KeyboardInterrupt handler
signal.signal(signal.SIGINT, signal.default_int_handler)
index = Index(sys.argv[1])
print("querying", flush=True)
try:
    index.query("SELECT count(*) FROM range(100000000000)")  # ~12 s
except KeyboardInterrupt:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the test may send another one
    print("interrupted", flush=True)
    sys.exit(130)
print("finished", flush=True)
"""


def test_sigint_during_an_index_query_is_an_interruption(toy):
    """Ctrl-C while DuckDB runs a query: a KeyboardInterrupt (DuckDB says RuntimeError
    'Query interrupted'), and the index is fine afterwards. In a process of its own with
    Python's SIGINT handler (whatever the test runner inherited: a runner started in the
    background by a shell ignores SIGINT), sent SIGINT until it ends."""
    import signal

    path = toy.path / ".helix" / "index.duckdb"
    child = subprocess.Popen(
        [sys.executable, "-c", LONG_QUERY, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "querying\n"
        deadline = time.monotonic() + 60
        while child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.3)
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        out = child.stdout.read()
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
    assert out == "interrupted\n" and child.returncode == 130
    assert Index(path).runs() == []  # the index is fine afterwards
