"""Early cutoff: a recomputed operator whose value came out unchanged stops the recompute.

An operator recomputes because its key changed (its code, a constant, an input). If the
value it produces is byte for byte the one its previous version produced (a refactor, a
comment-like change the AST still sees, a tweak that does not reach the result), its
children receive the same inputs as before: they need not run again. Bazel and make's
``restat`` do the same. The record model:

* **previous** -- what the last run of the workflow (a run of a version, never a sample
  or an explored variant) had under each operator's name: key, kind, code, parts,
  parents, and the checksum of the object stored under that key, if any;
* **trigger** -- an operator computed in this run whose key differs from its previous
  key, whose previous value is stored: its new value is packed as the store would write
  it, and the two checksums compared (blake2b of the compressed payload; the same bytes
  or nothing). Equal: the new key is made a name of the stored object (a hard link),
  and the value counts as *equal* to the previous run's;
* **equivalent** -- an operator whose own identity (kind, code, constants, options,
  parents by name) is that of its previous version, and all of whose parents are equal
  (unchanged key, a trigger that came out equal, or equivalent themselves), computes
  what its previous version computed: its new key is made a name of its previous
  object, if that is stored, and the plan loads it instead of recomputing it; a later
  run finds it under the new key like any stored value.

Nothing here ever concludes "equal" from anything but equal keys or equal stored bytes,
so a value whose inputs really changed is never reused: a trigger whose value differs
stops nothing, and an operator with one parent that really changed is not equivalent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from helixvcs.graph import Dag, Node


@dataclass(frozen=True)
class Previous:
    """An operator as the last run of the workflow had it."""

    key: str
    kind: str
    code_hash: str
    parents: tuple[str, ...]
    parts: Mapping[str, str] = field(hash=False)
    checksum: str | None = None  # of the object stored under ``key``, when there is one


def same_computation(node: Node, previous: Previous) -> bool:
    """Whether ``node`` computes what ``previous`` did, given equal inputs."""
    return (
        node.code.settled
        and node.kind == previous.kind
        and node.code.hash == previous.code_hash
        and tuple(node.parents) == tuple(previous.parents)
        and dict(node.parts) == dict(previous.parts)
    )


def trigger(node: Node, previous: Mapping[str, Previous]) -> Previous | None:
    """``node``'s previous version when a computation of ``node`` may come out equal
    to it and that would be worth knowing: another key, and a stored previous value."""
    before = previous.get(node.name)
    if before is None or before.key == node.key or before.checksum is None:
        return None
    return before


def unchanged(dag: Dag, previous: Mapping[str, Previous]) -> set[str]:
    """Names whose key is the one the previous run had: equal values by construction."""
    return {n.name for n in dag if (p := previous.get(n.name)) is not None and p.key == n.key}


def equivalents(dag: Dag, previous: Mapping[str, Previous], equal: set[str]) -> list[str]:
    """Operators (not in ``equal``) that compute what their previous version did because
    every parent is equal, in topological order; each is added to ``equal``, so that
    equivalence carries on down the graph."""
    found: list[str] = []
    for node in dag:
        if node.name in equal or not node.parents:
            continue
        before = previous.get(node.name)
        if before is None or not same_computation(node, before):
            continue
        if all(p in equal for p in node.parents):
            equal.add(node.name)
            found.append(node.name)
    return found
