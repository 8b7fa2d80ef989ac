"""One contract, every executor: the same plans, metrics, store contents and failures.

Each test runs with ``local``, ``threads`` and ``dask`` (a real 2-process LocalCluster,
see ``conftest.py``). ``local`` is the reference: the expectations below are what it does,
and the tests of ``tests/integration`` pin it further.
"""

from __future__ import annotations

from helixvcs.store import DiskObjectStore
from tests.integration.toy import FILES, NAMES, TOTAL, computed, states

VALUES = {
    "raw": [(1.0, 10.0), (2.0, 20.0), (3.0, 30.0)],
    "xs": [1.0, 2.0, 3.0],
    "ys": [10.0, 20.0, 30.0],
    "scaled": [2.0, 4.0, 6.0],
    "shifted": [11.0, 21.0, 31.0],
    "total": TOTAL,
    "count": 3.0,
}


def _store(repo) -> DiskObjectStore:
    return DiskObjectStore(repo.path / ".helix" / "objects")


def test_same_plan_metrics_and_store_contents_then_nothing_to_compute(toy, executor_args):
    first = toy.helix_json("run", *executor_args)
    assert [n["name"] for n in first["nodes"]] == NAMES
    assert states(first) == {n: "prune" if n == "unused" else "compute" for n in NAMES}
    assert first["metrics"] == {"total": TOTAL, "count": 3.0}
    keys = {n["name"]: n["key"] for n in first["nodes"]}
    store = _store(toy)
    assert set(store.keys()) == {keys[name] for name in VALUES}  # every value was worth keeping
    assert {name: store.get(keys[name]) for name in VALUES} == VALUES
    assert all(n["materialized"] for n in first["nodes"] if n["name"] in VALUES)

    second = toy.helix_json("run", *executor_args)
    assert computed(second) == set()
    assert {n for n, s in states(second).items() if s == "load"} == {"total", "count"}
    assert second["metrics"] == first["metrics"]


MICRO = """\
from helixvcs import Workflow

wf = Workflow("micro")


@wf.op
def a():
    return list(range(10))


@wf.op
def b(a):
    return [x * 2 for x in a]


@wf.metric
def m(b):
    return float(sum(b))


@wf.output
def out(b):
    return {"b": b}
"""


def test_a_rerun_of_microsecond_operators_computes_nothing(git_repo, executor_args):
    git_repo.gen({"workflow.py": MICRO, ".gitignore": ".helix/\n"}, commit="micro")
    git_repo.helix("init")
    first = git_repo.helix_json("run", *executor_args)
    # operators that take far less than any load (a loaded machine may stretch one a little)
    assert all(n["seconds"] < 0.1 for n in first["nodes"])
    second = git_repo.helix_json("run", *executor_args)
    assert computed(second) == set()
    assert states(second) == {"a": "prune", "b": "prune", "m": "load", "out": "load"}
    assert second["metrics"] == first["metrics"] == {"m": 90.0}
    git_repo.edit("workflow.py", "x * 2", "x * 3")  # and an edit still recomputes
    assert computed(git_repo.helix_json("run", *executor_args)) == {"a", "b", "m", "out"}


def test_an_edit_recomputes_only_what_changed(toy, executor_args):
    toy.helix("run", *executor_args)
    toy.edit("workflow.py", "return [y + SHIFT for y in ys]", "return [y + 2 * SHIFT for y in ys]")
    doc = toy.helix_json("run", *executor_args)
    assert computed(doc) == {"shifted", "total"}
    assert states(doc)["ys"] == "load"
    assert doc["metrics"]["total"] == TOTAL + 3


FAILING = FILES["workflow.py"].replace(
    "    return [y + SHIFT for y in ys]", "    raise ValueError('bad shift')"
)


def test_a_failing_operator_exits_1_with_its_traceback_and_the_next_run_resumes(
    git_repo, executor_args
):
    git_repo.gen({**FILES, "workflow.py": FAILING}, commit="broken")
    git_repo.helix("init")
    result = git_repo.helix("run", *executor_args, code=1)
    assert "operator 'shifted' failed: ValueError: bad shift" in result.stderr
    assert 'workflow.py", line' in result.stderr
    assert "raise ValueError('bad shift')" in result.stderr
    assert "helixvcs/exec" not in result.stderr  # our frames are cut off, wherever it ran
    assert git_repo.helix_json("log")[0]["status"] == "failed"
    git_repo.write({"workflow.py": FILES["workflow.py"]})
    doc = git_repo.helix_json("run", *executor_args)
    # `count` may have finished before `shifted` failed when branches run at once
    assert {"shifted", "total"} <= computed(doc) <= {"shifted", "total", "count"}
    assert doc["metrics"]["total"] == TOTAL


KEEP = """\
from helixvcs import Workflow

wf = Workflow("keep")


@wf.source("data/n.txt")
def n(path):
    return int(open(path).read())


@wf.op
def numbers(n):
    return list(range(n))


@wf.op
def boom(n):
    raise RuntimeError("no")


@wf.metric
def score(numbers, boom):
    return float(sum(numbers))
"""


def test_a_failed_run_keeps_finished_values_no_child_received(git_repo, executor_args):
    git_repo.gen({"workflow.py": KEEP, "data/n.txt": "5"}, commit="keep")
    git_repo.helix("init")
    doc = git_repo.helix_json("run", *executor_args, code=1)
    keys = {n["name"]: n["key"] for n in doc["nodes"]}
    store = _store(git_repo)
    # too cheap to keep while the run went; kept when it failed, since nothing received it
    assert store.get(keys["numbers"]) == [0, 1, 2, 3, 4]
    # `n` went to `numbers` and `boom`, which may have changed it in place: not kept
    assert not store.has(keys["n"])
    assert not store.has(keys["boom"]) and not store.has(keys["score"])


def test_a_corrupt_object_is_recomputed_within_the_run(toy, executor_args):
    first = toy.helix_json("run", *executor_args)
    key = next(n["key"] for n in first["nodes"] if n["name"] == "total")
    path = toy.path / ".helix" / "objects" / key[:2] / key[2:]
    path.write_bytes(path.read_bytes()[:-3])
    result = toy.helix("run", *executor_args, "--json")
    assert "corrupt" in result.stderr
    import json

    doc = json.loads(result.stdout)
    assert doc["status"] == "ok" and doc["metrics"] == first["metrics"]
    assert "total" in computed(doc)
    assert _store(toy).get(key) == TOTAL


CLASSES = {
    "shapes.py": """\
        from dataclasses import dataclass


        @dataclass
        class Box:
            items: list

            def total(self):
                return sum(self.items)
        """,
    "workflow.py": """\
        import time

        from helixvcs import Workflow
        from shapes import Box

        wf = Workflow("boxes")


        class Tag:
            def __init__(self, label):
                self.label = label


        @wf.source("data/n.txt")
        def n(path):
            time.sleep(0.02)
            return int(open(path).read())


        @wf.op
        def left(n):
            time.sleep(0.02)
            return Box(list(range(n)))


        @wf.op
        def right(n):
            time.sleep(0.02)
            return Box([2 * x for x in range(n)])


        @wf.op
        def tag(n):
            time.sleep(0.02)
            return Tag(f"n={n}")


        @wf.metric
        def both(left, right, tag):
            assert tag.label == "n=4"
            return float(left.total() + right.total())
        """,
    "data/n.txt": "4",
}


def test_values_of_classes_the_repository_defines(git_repo, executor_args):
    git_repo.gen(CLASSES, commit="boxes")
    git_repo.helix("init")
    assert git_repo.helix_json("run", *executor_args)["metrics"] == {"both": 18.0}
    git_repo.edit("workflow.py", "float(left.total()", "1.0 + float(left.total()")
    doc = git_repo.helix_json("run", *executor_args)  # loads the stored Box and Tag values
    assert doc["metrics"] == {"both": 19.0}
    assert {n for n, s in states(doc).items() if s == "load"} == {"left", "right", "tag"}


def test_the_budget_holds_wherever_values_are_written(git_repo, executor_args):
    from tests.integration.test_budget import WORKFLOW

    git_repo.gen({"workflow.py": WORKFLOW, "data/seed.txt": "1"}, commit="budget")
    git_repo.helix("init")
    # room for the small values, each in the 4 KiB block a loose file takes
    doc = git_repo.helix_json("run", "--budget", "20000", *executor_args)
    keys = {n["name"]: n["key"] for n in doc["nodes"]}
    store = _store(git_repo)
    assert not store.has(keys["big"])  # written by the task, then deleted by the driver
    assert store.has(keys["summary"]) and store.has(keys["score"])
    assert store.total_bytes() <= 20000


BRANCHES = """\
import time

from helixvcs import Workflow

wf = Workflow("branches")


@wf.source("data/left.txt")
def left(path):
    start = time.time()
    time.sleep(0.5)
    return (start, time.time())


@wf.source("data/right.txt")
def right(path):
    start = time.time()
    time.sleep(0.5)
    return (start, time.time())


@wf.output
def spans(left, right):
    return [left, right]
"""


def test_independent_branches_run_at_once_except_locally(git_repo, executor, executor_args):
    git_repo.gen(
        {"workflow.py": BRANCHES, "data/left.txt": "l", "data/right.txt": "r"}, commit="branches"
    )
    git_repo.helix("init")
    doc = git_repo.helix_json("run", *executor_args)
    spans = _store(git_repo).get(next(n["key"] for n in doc["nodes"] if n["name"] == "spans"))
    (a_start, a_end), (b_start, b_end) = spans
    overlap = min(a_end, b_end) - max(a_start, b_start)
    if executor == "local":
        assert overlap <= 0  # one operator at a time, in the plan's order
    else:
        assert overlap > 0.2
