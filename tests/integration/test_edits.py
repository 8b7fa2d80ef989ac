"""Each kind of edit recomputes exactly the operators it can affect, and cosmetic edits none."""

from __future__ import annotations

import pytest

from tests.integration.toy import FILES, TOTAL, computed

EVERYTHING = {"raw", "xs", "ys", "scaled", "shifted", "unused", "total", "count"}

SEMANTIC = {
    "operator body": (
        "workflow.py",
        "return [r[1] for r in raw]",
        "return [r[1] * 1 for r in raw][::-1]",
        {"ys", "shifted", "total"},
    ),
    "constant default": ("workflow.py", "factor=2.0", "factor=2.5", {"scaled", "total"}),
    "helper in another module": (
        "toylib.py",
        "return x * f",
        "return x * f * 1.0 + 0",
        {"scaled", "total"},
    ),
    "module-level constant in another module": (
        "toylib.py",
        "SHIFT = 1.0",
        "SHIFT = 1.5",
        {"shifted", "total"},
    ),
    "parent order": (
        "workflow.py",
        "def total(scaled, shifted):",
        "def total(shifted, scaled):",
        {"total"},
    ),
    "data file": ("data/points.csv", "3,30", "3,31", EVERYTHING),
    "third-party call swapped": (
        "workflow.py",
        "return float(len(xs))",
        "return float(__import__('math').fsum(1 for _ in xs))",
        {"count"},
    ),
}

COSMETIC = {
    "comment": ("workflow.py", "def ys(raw):\n", "def ys(raw):  # second column\n"),
    "docstring": ("workflow.py", "def ys(raw):\n", 'def ys(raw):\n    """Second column."""\n'),
    "blank lines": ("workflow.py", "@wf.op\ndef shifted", "\n\n\n@wf.op\ndef shifted"),
    "formatting": ("workflow.py", "return [r[0] for r in raw]", "return [ r[0]  for r in (raw) ]"),
    "quote style in helper module": ("toylib.py", "def scale(x, f):", "def scale(x, f):  # 'f'"),
    "decorator form": ("workflow.py", "@wf.op\ndef xs", "@wf.op()\ndef xs"),
}  # fmt: skip


@pytest.fixture
def toy(git_repo):
    git_repo.gen(FILES, commit="toy")
    git_repo.helix("init")
    first = git_repo.helix_json("run", "--materialize", "all")
    return git_repo, {n["name"]: n["key"] for n in first["nodes"]}


def _changed_keys(before: dict[str, str], doc: dict) -> set[str]:
    return {n["name"] for n in doc["nodes"] if before[n["name"]] != n["key"]}


@pytest.mark.parametrize("kind", sorted(SEMANTIC))
def test_semantic_edit_recomputes_the_right_operators(toy, kind):
    repo, keys = toy
    path, old, new, expected = SEMANTIC[kind]
    repo.edit(path, old, new)
    doc = repo.helix_json("run", "--materialize", "all")
    assert _changed_keys(keys, doc) == expected
    # everything changed is computed, or reused because its inputs came out unchanged
    # (early cutoff); anything else computed is a cheap node the optimizer preferred to
    # recompute from a loaded parent rather than load
    reused = set(doc["cutoff"]["reused"])
    assert expected - {"unused"} <= computed(doc) | reused
    assert computed(doc) <= expected | {"count"}
    assert not reused & computed(doc)


@pytest.mark.parametrize("kind", sorted(COSMETIC))
def test_cosmetic_edit_recomputes_nothing(toy, kind):
    repo, keys = toy
    path, old, new = COSMETIC[kind]
    repo.edit(path, old, new)
    doc = repo.helix_json("run")
    assert _changed_keys(keys, doc) == set()
    assert computed(doc) == set()
    assert doc["metrics"]["total"] == TOTAL
