"""Early cutoff: an operator recomputed to the same value stops the recompute below it;
a value whose inputs really changed is never reused. With every executor."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from helixvcs import servers
from helixvcs.exec.task import TaskMeta, _compare
from helixvcs.plan import COMPUTE
from helixvcs.store import DiskObjectStore, hot
from helixvcs.store.objectfile import Encoded, Packed
from tests.integration.toy import computed, states

WORKFLOW = """\
import time

from helixvcs import Workflow

wf = Workflow("cut")


@wf.op
def a():
    time.sleep(0.05)
    return list(range(100))


@wf.op
def b(a):
    time.sleep(0.05)
    return [x * 2 for x in a]


@wf.op
def d(a, shift=0):
    time.sleep(0.05)
    return [x + shift for x in a]


@wf.op
def c(b):
    time.sleep(0.05)
    return sum(b)


@wf.op
def e(b, d):
    time.sleep(0.05)
    return sum(x * y for x, y in zip(b, d))


@wf.metric
def m(c):
    return float(c)


@wf.metric
def n(e):
    return float(e)
"""
REFACTOR = ("return [x * 2 for x in a]", "return [x + x for x in a]  # same values")


def _setup(git_repo, executor_args):
    git_repo.gen({"workflow.py": WORKFLOW, ".gitignore": ".helix/\n"}, commit="cut")
    git_repo.helix("init")
    return git_repo.helix_json("run", "--materialize", "all", *executor_args)


def test_a_refactor_that_keeps_the_value_recomputes_one_operator(git_repo, executor_args):
    first = _setup(git_repo, executor_args)
    git_repo.edit("workflow.py", *REFACTOR)
    doc = git_repo.helix_json("run", *executor_args)
    assert computed(doc) == {"b"}
    assert doc["cutoff"] == {"unchanged": ["b"], "reused": ["c", "e", "m", "n"]}
    assert {n["name"] for n in doc["nodes"] if n["cutoff"]} == {"b", "c", "e", "m", "n"}
    assert states(doc)["m"] == "load" and states(doc)["n"] == "load"
    assert doc["metrics"] == first["metrics"]
    again = git_repo.helix_json("run", *executor_args)  # the new keys are stored now
    assert computed(again) == set() and again["cutoff"] == {"unchanged": [], "reused": []}
    git_repo.edit("workflow.py", "[x + x for x in a]", "[2 * x for x in a]")  # once more
    text = git_repo.helix("--quiet", "run", *executor_args).stdout
    assert "1 computed" in text and "unchanged output of b: 4 operators reused" in text


def test_a_value_that_really_changed_is_never_cut_off(git_repo, executor_args):
    _setup(git_repo, executor_args)
    git_repo.edit("workflow.py", "return [x * 2 for x in a]", "return [x * 3 for x in a]")
    doc = git_repo.helix_json("run", *executor_args)
    assert computed(doc) == {"b", "c", "e", "m", "n"}
    assert doc["cutoff"] == {"unchanged": [], "reused": []}
    assert doc["metrics"]["m"] == 3 * sum(range(100))


def test_one_equal_parent_does_not_cut_off_a_child_whose_other_parent_changed(
    git_repo, executor_args
):
    first = _setup(git_repo, executor_args)
    git_repo.edit("workflow.py", *REFACTOR)
    git_repo.edit("workflow.py", "shift=0", "shift=1")  # d really changes
    doc = git_repo.helix_json("run", *executor_args)
    assert doc["cutoff"]["unchanged"] == ["b"]
    assert "e" in computed(doc) and "n" in computed(doc)  # e sees a changed d
    assert "c" not in computed(doc) and doc["metrics"]["m"] == first["metrics"]["m"]
    expected = sum(2 * x * (x + 1) for x in range(100))
    assert doc["metrics"]["n"] == expected


# -- with the previous value in the hot tier: compared in memory ------------------------


@pytest.fixture
def hot_tier(tmp_path: Path) -> Iterator[None]:
    """A live process registered as one of the user's warm servers: the hot tier is on
    for the runs below, as it is while a server runs."""
    process = subprocess.Popen(["sleep", "300"])
    servers.register(process.pid, tmp_path, "test")
    try:
        yield
    finally:
        servers.unregister(process.pid)
        process.kill()
        process.wait()
        hot.clear()


def test_with_the_previous_values_hot_a_refactor_is_cut_off_and_a_change_is_not(git_repo, hot_tier):
    first = _setup(git_repo, ["--executor", "local"])
    folder = hot.tier_folder()
    assert folder is not None and any(folder.iterdir())  # the values went hot
    git_repo.edit("workflow.py", *REFACTOR)
    doc = git_repo.helix_json("run")
    assert computed(doc) == {"b"} and doc["cutoff"]["unchanged"] == ["b"]
    assert doc["metrics"] == first["metrics"]
    git_repo.edit("workflow.py", "[x + x for x in a]", "[x * 3 for x in a]")
    changed = git_repo.helix_json("run")
    assert computed(changed) == {"b", "c", "e", "m", "n"}
    assert changed["cutoff"] == {"unchanged": [], "reused": []}
    assert changed["metrics"]["m"] == 3 * sum(range(100))


def test_a_hot_previous_value_is_compared_in_memory_and_a_different_one_written_later(
    tmp_path, hot_tier
):
    store = DiskObjectStore(tmp_path / "objects")
    before, new = "ab" * 20, "cd" * 20
    info = store.put(before, np.arange(1000.0))
    assert store.hot is not None and store.hot.has(before)
    meta = TaskMeta("b", COMPUTE)
    # different: nothing compressed on the run's thread; the encoded bytes go to the writer
    out, encoded = _compare(new, (before, info.checksum), store, np.arange(1000.0) + 1, meta)
    assert not out.cutoff and isinstance(encoded, Encoded)
    # equal: the stored object is linked under the new key
    out, encoded = _compare(new, (before, info.checksum), store, np.arange(1000.0), meta)
    assert out.cutoff and encoded is None and out.info is not None
    np.testing.assert_array_equal(store.get(new), np.arange(1000.0))
    # a hot entry that is not the stored object (another run's bytes of the key): what
    # decides is the stored object's checksum
    from helixvcs.store.objectfile import encode_value

    store.hot.path(before).unlink()
    other_bytes = encode_value(np.arange(1000.0) * 2)
    store.hot.put(before, other_bytes.codec, other_bytes.raw)
    out, packed = _compare("12" * 20, (before, info.checksum), store, np.arange(1000.0) * 2, meta)
    assert not out.cutoff and packed is not None
    # a damaged hot entry is not trusted: back to packing and the recorded checksum
    other = "ef" * 20
    path = store.hot.path(before)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    out, encoded = _compare(other, (before, info.checksum), store, np.arange(1000.0), meta)
    assert out.cutoff and encoded is None


def test_a_value_of_another_size_than_the_previous_one_is_never_compressed_to_compare(tmp_path):
    """Without a hot tier the stored object's header gives the previous size: a value of
    another size differs, and goes to the writer encoded (compressed there, off the run's
    thread); one of the same size is packed and checked against the checksum."""
    store = DiskObjectStore(tmp_path / "objects", hot=False)
    before = "ab" * 20
    info = store.put(before, np.arange(1000.0))
    meta = TaskMeta("b", COMPUTE)
    out, encoded = _compare("cd" * 20, (before, info.checksum), store, np.arange(999.0), meta)
    assert not out.cutoff and isinstance(encoded, Encoded)
    out, packed = _compare("ef" * 20, (before, info.checksum), store, np.arange(1000.0) + 1, meta)
    assert not out.cutoff and isinstance(packed, Packed)
    out, none = _compare("12" * 20, (before, info.checksum), store, np.arange(1000.0), meta)
    assert out.cutoff and none is None
