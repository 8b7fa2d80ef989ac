"""The logical difference between two versions of a workflow: operators and edges.

A diff compares two *operator sets*. It works on ``Operator`` views, which come from a
compiled ``Dag`` (:func:`operators_of_dag`) or from the operator records the index keeps
for every run (:func:`operators_of`), so history commands can compare any two recorded
versions without compiling them again.

Glossary:

* **changed** -- an operator of both versions whose key differs. Its *causes* come from
  the labelled parts its key was built from (``body``, ``helper mylib.f``, ``constant
  mylib.X``, ``package sklearn 1.4 -> 1.5``, ``default C``, ``data data/x.csv``), from its
  kind and parent list, and ``upstream a, b`` when parents' keys moved.
* **direct** -- a change of the operator itself, not only of what flows into it. A
  version's *edits* are its direct changes plus the operators added, removed and renamed
  (same key, new name): what ``blame-metric`` attributes deltas to and what ``explain``
  counts as logical distance. Operators that changed only upstream are recomputed, not
  edited.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from helixvcs.graph.dag import Dag

ADDED, REMOVED, CHANGED, RENAMED = "added", "removed", "changed", "renamed"
_SHOWN_VALUES = frozenset({"package", "python"})  # parts whose value is a readable version
_MAX_SHOWN = 40


@dataclass(frozen=True)
class Operator:
    """What a diff needs of one operator: identity, edges, source and key parts."""

    name: str
    kind: str
    key: str
    parents: tuple[str, ...]
    source: str
    parts: Mapping[str, str]

    def same_own_identity(self, other: Operator) -> bool:
        """Equal code, constants, data and parent names (parents' keys aside)."""
        return (
            self.kind == other.kind
            and self.parents == other.parents
            and dict(self.parts) == dict(other.parts)
        )


class OperatorLike(Protocol):
    """An index ``OperatorRecord``, or anything else with these attributes."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def parents(self) -> Sequence[str]: ...
    @property
    def source(self) -> str: ...
    @property
    def parts(self) -> Mapping[str, str]: ...


def operators_of_dag(dag: Dag) -> list[Operator]:
    """The operators of a compiled workflow, in its topological order."""
    return [
        Operator(n.name, n.kind, n.key, tuple(n.parents), n.code.source, dict(n.parts)) for n in dag
    ]


def operators_of(records: Iterable[OperatorLike]) -> list[Operator]:
    """The operators of recorded runs (``Index.operators``), in the order given."""
    return [
        Operator(r.name, r.kind, r.key, tuple(r.parents), r.source, dict(r.parts)) for r in records
    ]


@dataclass(frozen=True)
class OperatorChange:
    name: str
    causes: tuple[str, ...]
    diff: str  # unified diff of the operator's normalized source; "" when it is the same
    direct: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "causes": list(self.causes),
            "diff": self.diff,
            "direct": self.direct,
        }


@dataclass(frozen=True)
class Edit:
    """One edit of a version: an operator changed, added, removed or renamed."""

    name: str  # the operator's name in the newer version (the older one if removed)
    change: str  # added | removed | changed | renamed
    causes: tuple[str, ...] = ()
    old_name: str | None = None  # renamed only

    def label(self) -> str:
        if self.change == RENAMED:
            return f"renamed {self.old_name} -> {self.name}"
        if self.change == CHANGED:
            return f"{self.name}: " + ", ".join(self.causes)
        return f"{self.change} {self.name}"


@dataclass(frozen=True)
class DagDiff:
    """How version B differs from version A. Lists follow B's order (A's for removals)."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    renamed: tuple[tuple[str, str], ...]  # (old, new): same key under another name
    changed: tuple[OperatorChange, ...]
    edges_added: tuple[tuple[str, str], ...]
    edges_removed: tuple[tuple[str, str], ...]

    @property
    def edits(self) -> tuple[Edit, ...]:
        """Direct changes, additions, removals and renames: what was edited."""
        edits = [Edit(c.name, CHANGED, c.causes) for c in self.changed if c.direct]
        edits += [Edit(name, ADDED) for name in self.added]
        edits += [Edit(name, REMOVED) for name in self.removed]
        edits += [Edit(new, RENAMED, old_name=old) for old, new in self.renamed]
        return tuple(edits)

    @property
    def distance(self) -> int:
        """Logical distance: the number of operators edited."""
        return len(self.edits)

    @property
    def recomputed(self) -> tuple[str, ...]:
        """Operators whose key moved only because something upstream did."""
        return tuple(c.name for c in self.changed if not c.direct)

    def to_json(self) -> dict[str, Any]:
        return {
            "added": list(self.added),
            "removed": list(self.removed),
            "renamed": [list(pair) for pair in self.renamed],
            "changed": [c.to_json() for c in self.changed],
            "edges": {
                "added": [list(e) for e in self.edges_added],
                "removed": [list(e) for e in self.edges_removed],
            },
        }


def diff_operators(
    a: Sequence[Operator], b: Sequence[Operator], *, with_source: bool = True
) -> DagDiff:
    """The logical diff from operator set ``a`` to ``b`` (without source diffs if asked)."""
    old = {op.name: op for op in a}
    new = {op.name: op for op in b}
    added = [op for op in b if op.name not in old]
    removed = [op for op in a if op.name not in new]
    renamed = _renames(removed, added)
    gone = {old_name for old_name, _ in renamed}
    came = {new_name for _, new_name in renamed}
    moved: set[str] = set()  # operators of b whose key is not a's under the same name
    changed = []
    for op in b:
        before = old.get(op.name)
        if before is None:
            moved.add(op.name)
            continue
        if before.key == op.key:
            continue
        moved.add(op.name)
        causes, direct = _causes(before, op, moved)
        text = source_diff(op.name, before, op) if with_source else ""
        changed.append(OperatorChange(op.name, causes, text, direct))
    return DagDiff(
        added=tuple(op.name for op in added if op.name not in came),
        removed=tuple(op.name for op in removed if op.name not in gone),
        renamed=tuple(renamed),
        changed=tuple(changed),
        edges_added=_new_edges(a, b),
        edges_removed=_new_edges(b, a),
    )


def diff_dags(a: Dag, b: Dag) -> DagDiff:
    return diff_operators(operators_of_dag(a), operators_of_dag(b))


def _renames(removed: list[Operator], added: list[Operator]) -> list[tuple[str, str]]:
    """Pairs (old, new) of a removed and an added operator with the same key."""
    by_key: dict[str, list[str]] = {}
    for op in removed:
        by_key.setdefault(op.key, []).append(op.name)
    pairs = []
    for op in added:
        olds = by_key.get(op.key)
        if olds:
            pairs.append((olds.pop(0), op.name))
    return pairs


def _causes(before: Operator, after: Operator, moved: set[str]) -> tuple[tuple[str, ...], bool]:
    causes = []
    if before.kind != after.kind:
        causes.append(f"kind {before.kind} -> {after.kind}")
    if before.parents != after.parents:
        causes.append(f"parents ({', '.join(before.parents)}) -> ({', '.join(after.parents)})")
    causes += part_causes(before.parts, after.parts)
    direct = bool(causes)
    upstream = [p for p in after.parents if p in moved]
    if upstream:
        causes.append("upstream " + ", ".join(upstream))
    if not causes:  # the key moved for a reason its parts do not name (e.g. a source path)
        causes.append("inputs")
        direct = True
    return tuple(causes), direct


def part_causes(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    """Readable labels of the key parts that differ: ``body``, ``helper m.f``, ...

    Package and Python versions show their values: ``package sklearn 1.4.2 -> 1.5.0``.
    """
    causes = []
    for label in sorted(set(before) | set(after)):
        old, new = before.get(label), after.get(label)
        if old == new:
            continue
        kind, _, what = label.partition(":")
        text = f"{kind} {what}".strip()
        if old is None:
            text = f"added {text}"
        elif new is None:
            text = f"removed {text}"
        elif kind in _SHOWN_VALUES and max(len(old), len(new)) <= _MAX_SHOWN:
            text = f"{text} {old} -> {new}"
        causes.append(text)
    return causes


def source_diff(name: str, before: Operator, after: Operator) -> str:
    """A unified diff of the operator's normalized source (comments and docstrings gone)."""
    if before.source == after.source:
        return ""
    lines = difflib.unified_diff(
        _lines(before.source), _lines(after.source), fromfile=f"a/{name}", tofile=f"b/{name}"
    )
    return "".join(lines)


def _lines(text: str) -> list[str]:
    return [line if line.endswith("\n") else line + "\n" for line in text.splitlines()]


def _new_edges(a: Sequence[Operator], b: Sequence[Operator]) -> tuple[tuple[str, str], ...]:
    """Edges (parent, child) of ``b`` that ``a`` lacks, in ``b``'s order."""
    old = {(p, op.name) for op in a for p in op.parents}
    edges = dict.fromkeys((p, op.name) for op in b for p in op.parents)
    return tuple(e for e in edges if e not in old)
