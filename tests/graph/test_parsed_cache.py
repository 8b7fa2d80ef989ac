"""Normalized definitions kept between compiles (``.helix/parsed.pickle``): a compile after an
edit reads the definitions it did not change from there, and gets the keys a compile from
nothing gets."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from helixvcs.graph.cache import PARSED_FILE
from helixvcs.hashing import source
from tests.graph.test_cache import Tree, _summary, _write
from tests.integration.toy import FILES


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    _write(tmp_path / "repo", FILES)
    return Tree(tmp_path / "repo")


def _compile(tree: Tree) -> tuple[list[tuple], int]:
    """A compile that cannot be served from the record, and the definitions it read from
    the kept file."""
    hits = source.kept_hits
    dag = tree.compile(reuse=False)
    return _summary(dag), source.kept_hits - hits


def _from_nothing(tree: Tree) -> list[tuple]:
    (tree.record.parent / PARSED_FILE).unlink(missing_ok=True)
    summary, hits = _compile(tree)
    assert hits == 0
    return summary


def test_a_compile_after_an_edit_reads_unchanged_definitions_and_keys_as_from_nothing(tree):
    first, hits = _compile(tree)
    assert hits == 0
    assert (tree.record.parent / PARSED_FILE).is_file()

    tree.edit("workflow.py", "return float(len(xs))", "return float(len(xs)) * 10")
    edited, hits = _compile(tree)
    assert hits >= 6  # every operator but the edited one (and toylib's scale)
    assert edited == _from_nothing(tree)
    changed = {row[0] for row, before in zip(edited, first, strict=True) if row != before}
    assert changed == {"count"}


def test_an_edit_is_never_read_back_as_the_definition_it_replaced(tree):
    _compile(tree)
    tree.edit("toylib.py", "return x * f", "return x * f + 1")
    edited, _ = _compile(tree)
    assert edited == _from_nothing(tree)
    tree.edit("toylib.py", "return x * f + 1", "return x * f")
    back, hits = _compile(tree)
    assert hits > 0
    assert back == _from_nothing(tree)
    assert back != edited


def test_a_cosmetic_edit_keeps_every_key(tree):
    first, _ = _compile(tree)
    tree.edit(
        "workflow.py",
        "    return [r[0] for r in raw]",
        "    # first\n    return [r[0]  for r in raw]",
    )
    edited, _ = _compile(tree)
    assert [row[:4] for row in edited] == [row[:4] for row in first]  # lines moved


class _Planted:
    """What a hostile kept file would make a plain ``pickle.load`` call."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("content", ["planted", "damaged", "other format"])
def test_a_kept_file_that_is_not_ours_is_ignored_and_never_runs_code(tree, tmp_path, content):
    expected = _from_nothing(tree)
    kept = tree.record.parent / PARSED_FILE
    marker = tmp_path / "ran"
    if content == "planted":
        kept.write_bytes(pickle.dumps((1, {"k": _Planted(marker)})))
    elif content == "damaged":
        kept.write_bytes(kept.read_bytes()[:40])
    else:
        kept.write_bytes(pickle.dumps((999, {})))
    summary, hits = _compile(tree)
    assert hits == 0
    assert summary == expected
    assert not marker.exists()
    assert _compile(tree)[1] > 0  # rewritten as ours
