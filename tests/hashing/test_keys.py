"""digest() and node_key(): the two functions every stored key goes through."""

from __future__ import annotations

import pytest

from helixvcs.hashing import digest, node_key


def test_digest_is_40_hex_and_length_prefixed() -> None:
    assert len(digest("a")) == 40
    assert digest("ab", "c") != digest("a", "bc")
    assert digest("a") != digest("a", "")
    assert digest() != digest("")
    assert digest("x", b"y") == digest(b"x", "y")


def test_digest_rejects_other_types() -> None:
    with pytest.raises(TypeError):
        digest(1)  # type: ignore[arg-type]


BASE = {
    "kind": "op",
    "code_hash": "c" * 40,
    "constants": {"k": 1, "s": "x"},
    "parent_keys": ["p1", "p2"],
}


@pytest.mark.parametrize(
    "change",
    [
        {"kind": "metric"},
        {"code_hash": "d" * 40},
        {"constants": {"k": 2, "s": "x"}},
        {"constants": {"k": 1.0, "s": "x"}},
        {"constants": {"k": 1, "t": "x"}},
        {"constants": {"k": 1}},
        {"parent_keys": ["p2", "p1"]},
        {"parent_keys": ["p1"]},
        {"parent_keys": ["p1p2"]},
        {"extra": "files:abc"},
    ],
    ids=str,
)
def test_node_key_changes_with_each_input(change: dict) -> None:
    assert node_key(**{**BASE, **change}) != node_key(**BASE)


def test_node_key_ignores_constant_order() -> None:
    swapped = {**BASE, "constants": {"s": "x", "k": 1}}
    assert node_key(**swapped) == node_key(**BASE)


def test_node_key_constants_cannot_pose_as_parents() -> None:
    as_constant = node_key("op", "c", {"p": "k"}, [])
    as_parents = node_key("op", "c", {}, ["p", "k"])
    assert as_constant != as_parents
