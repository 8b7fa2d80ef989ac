"""The compile cache: a compile is reused only while nothing its keys came from changed."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from helixvcs.graph import cache, compile_cached, compile_workflow
from helixvcs.graph.cache import ENV_SWITCH
from helixvcs.hashing import StatCache
from tests.integration.toy import FILES

_ages = iter(range(10**6))


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    _age(root)


def _age(root: Path) -> None:
    """Set every file and folder of the tree an hour back (a little later each time), as
    if edited long ago: out of the stat cache's racy window."""
    past = time.time() - 3600 + next(_ages)
    for path in [root, *root.rglob("*")]:
        os.utime(path, (past, past))


class Tree:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.record = root / ".helix" / "compiled.json"
        self.record.parent.mkdir(parents=True)
        _age(root)
        self.stats = StatCache(root / ".helix" / "statcache.json")

    def compile(self, reuse: bool = True):
        dag = compile_cached(
            self.root, self.root / "workflow.py", self.stats, self.record, reuse=reuse
        )
        self.outcome = cache.last_outcome
        return dag

    def edit(self, rel: str, old: str, new: str) -> None:
        path = self.root / rel
        text = path.read_text(encoding="utf-8")
        assert old in text
        path.write_text(text.replace(old, new), encoding="utf-8")
        _age(self.root)


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    _write(tmp_path / "repo", FILES)
    return Tree(tmp_path / "repo")


def _summary(dag) -> list[tuple]:
    return [
        (n.name, n.kind, n.parents, n.key, n.code.hash, dict(n.parts), n.inputs, n.file, n.line)
        for n in dag
    ]


def test_an_unchanged_tree_is_served_from_the_record_with_identical_keys(tree):
    first = tree.compile()
    assert not first.from_cache
    second = tree.compile()
    assert second.from_cache, tree.outcome
    assert _summary(second) == _summary(first)
    assert second.outputs == first.outputs
    assert second.sources is None  # no snapshot: nothing was imported


def test_reuse_false_always_compiles(tree):
    tree.compile()
    assert not tree.compile(reuse=False).from_cache


@pytest.mark.parametrize(
    ("rel", "old", "new", "changed"),
    [
        ("workflow.py", "return float(len(xs))", "return float(len(xs)) + 1", "count"),
        ("toylib.py", "return x * f", "return x * f + 1", "scaled"),
        ("toylib.py", "SHIFT = 1.0", "SHIFT = 2.0", "shifted"),
        ("data/points.csv", "3,30", "3,31", "raw"),
    ],
)
def test_an_edit_to_code_or_data_is_a_real_compile_with_new_keys(tree, rel, old, new, changed):
    before = tree.compile()
    tree.compile()
    tree.edit(rel, old, new)
    after = tree.compile()
    assert not after.from_cache
    assert after[changed].key != before[changed].key
    again = tree.compile()  # the new compile is recorded in turn
    assert again.from_cache and again.keys() == after.keys(), tree.outcome


def test_a_file_added_to_a_folder_source_is_seen(tmp_path):
    files = {
        **FILES,
        "workflow.py": FILES["workflow.py"].replace('"data/points.csv"', '"data/*.csv"'),
    }
    files["workflow.py"] = files["workflow.py"].replace(
        '    with open(path, newline="") as f:\n'
        "        return [tuple(float(x) for x in row) for row in csv.reader(f)]",
        "    return [tuple(float(x) for x in row) for p in path for row in csv.reader(open(p))]",
    )
    _write(tmp_path / "repo", files)
    tree = Tree(tmp_path / "repo")
    before = tree.compile()
    assert tree.compile().from_cache, tree.outcome
    _write(tree.root, {"data/more.csv": "4,40\n"})
    after = tree.compile()
    assert not after.from_cache
    assert after["raw"].inputs == ("data/more.csv", "data/points.csv")
    assert after["raw"].key != before["raw"].key


def test_a_file_read_while_importing_the_workflow_is_tracked(tmp_path):
    workflow = (
        FILES["workflow.py"]
        .replace(
            "wf = Workflow",
            "import json\nFACTOR = json.load(open(__file__.replace('workflow.py', 'params.json')))"
            "['factor']\n\nwf = Workflow",
        )
        .replace(
            "def scaled(xs, factor=2.0):\n    time.sleep(0.02)\n    return [scale(x, factor)",
            "def scaled(xs):\n    time.sleep(0.02)\n    return [scale(x, FACTOR)",
        )
    )
    _write(tmp_path / "repo", {**FILES, "workflow.py": workflow, "params.json": '{"factor": 2}'})
    tree = Tree(tmp_path / "repo")
    before = tree.compile()
    assert tree.compile().from_cache, tree.outcome
    tree.edit("params.json", "2", "3")
    after = tree.compile()
    assert not after.from_cache
    assert after["scaled"].key != before["scaled"].key


def test_a_module_outside_the_repository_and_the_libraries_is_tracked(tmp_path, monkeypatch):
    outside = tmp_path / "outside"
    _write(outside, {"extlib.py": "def bump(x):\n    return x + 1\n"})
    monkeypatch.syspath_prepend(str(outside))
    workflow = (
        FILES["workflow.py"]
        .replace(
            "from toylib import SHIFT, scale",
            "from toylib import SHIFT, scale\nfrom extlib import bump",
        )
        .replace("return float(len(xs))", "return float(bump(len(xs)))")
    )
    _write(tmp_path / "repo", {**FILES, "workflow.py": workflow})
    tree = Tree(tmp_path / "repo")
    tree.compile()
    assert tree.compile().from_cache, tree.outcome
    (outside / "extlib.py").write_text("def bump(x):\n    return x + 2\n", encoding="utf-8")
    _age(outside)
    assert not tree.compile().from_cache, tree.outcome
    sys.modules.pop("extlib", None)


def test_an_environment_variable_change_is_a_real_compile(tree, monkeypatch):
    tree.compile()
    assert tree.compile().from_cache, tree.outcome
    monkeypatch.setenv("HELIX_TEST_SETTING", "on")
    assert not tree.compile().from_cache, tree.outcome
    assert tree.compile().from_cache, tree.outcome
    monkeypatch.setenv("PWD", "/somewhere/else")  # differs between shells: ignored
    assert tree.compile().from_cache, tree.outcome
    monkeypatch.setenv(ENV_SWITCH, "explain")  # asking why must not change the answer
    assert tree.compile().from_cache, tree.outcome


def test_a_key_that_is_not_settled_is_never_reused(tmp_path):
    workflow = FILES["workflow.py"].replace(
        "return float(len(xs))", "return float(len(xs)) + made_at_run_time()"
    )
    _write(tmp_path / "repo", {**FILES, "workflow.py": workflow})
    tree = Tree(tmp_path / "repo")
    first = tree.compile()
    second = tree.compile()
    assert not second.from_cache
    assert second["count"].key != first["count"].key  # unsure: unique to each compile


def test_a_file_modified_within_the_racy_window_is_not_recorded(tree):
    (tree.root / "toylib.py").touch()  # just now: it may still be changing
    tree.compile()
    assert not tree.compile().from_cache, tree.outcome
    _age(tree.root)
    tree.compile()
    assert tree.compile().from_cache, tree.outcome


def test_the_switch_turns_the_cache_off(tree, monkeypatch):
    tree.compile()
    monkeypatch.setenv(ENV_SWITCH, "0")
    assert not tree.compile().from_cache, tree.outcome


def test_a_cached_node_runs_the_real_function_after_checking_its_key(tree):
    tree.compile()
    cached = tree.compile()
    assert cached.from_cache, tree.outcome
    assert cached["count"].spec.func(xs=[1.0, 2.0]) == 2.0


def test_a_cached_node_whose_code_moved_refuses_to_run(tree):
    from helixvcs.errors import CompileError

    tree.compile()
    cached = tree.compile()
    tree.edit("workflow.py", "return float(len(xs))", "return float(len(xs)) * 10")
    with pytest.raises(CompileError, match="changed after this run was planned"):
        cached["count"].spec.func(xs=[1.0])


def test_a_corrupt_record_is_a_real_compile(tree):
    tree.compile()
    tree.record.write_text("{not json", encoding="utf-8")
    assert not tree.compile().from_cache, tree.outcome
    assert tree.compile().from_cache, tree.outcome


def test_the_record_matches_a_plain_compile(tree):
    tree.compile()
    cached = tree.compile()
    plain = compile_workflow(tree.root, tree.root / "workflow.py", StatCache(None))
    assert _summary(cached) == _summary(plain)
