"""``Node`` and ``Dag``: the frozen result of compiling a workflow."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from helixvcs.dsl import NodeSpec
    from helixvcs.graph.snapshot import SourceSnapshot
    from helixvcs.hashing import CodeIdentity, SampleSpec


@dataclass(frozen=True)
class Node:
    """One operator of a compiled workflow, identified by ``key``."""

    name: str
    kind: str
    parents: tuple[str, ...]
    key: str
    code: CodeIdentity = field(repr=False)
    constants: Mapping[str, Any] = field(repr=False, compare=False)
    spec: NodeSpec = field(repr=False, compare=False)
    inputs: tuple[str, ...] = ()  # sources only: files the node reads, relative to input_root
    input_root: Path | None = None  # sources only: where ``inputs`` are (the repo root, or
    # the working tree for data that a committed revision does not track)
    parts: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    """Labelled pieces of the key ("body", "helper:m.f", "default:C", "data:x.csv", ...),
    recorded per run so that later commands can say what changed."""
    extra: str = field(default="", repr=False, compare=False)
    """What the key covers beyond code, constants and parents (decorator options, a
    source's file digests), so that the node can be re-keyed under other parents."""
    sample: SampleSpec | None = field(default=None, compare=False)
    """Sources of a sampled run: the rows the source's value is cut down to
    (``graph.variants.with_sample``); part of ``extra``, hence of the key."""
    overrides: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """Constants an explored variant sets instead of the function's defaults
    (``graph.variants.with_constants``); already in ``constants`` and the key."""
    precision: str | None = field(default=None, compare=False)
    """Nodes of a low-precision run (``graph.variants.with_precision``): the dtype that
    float64 values are cast to where the operator returns; part of ``extra``."""
    dropped: tuple[str, ...] = field(default=(), compare=False)
    """A feature assembly of a pruned run (``graph.variants.with_pruned``): the blocks
    left out, no longer among ``parents``; part of ``extra``."""

    @property
    def is_output(self) -> bool:
        return self.kind in ("metric", "output")

    @property
    def blocks(self) -> tuple[str, ...]:
        """A feature assembly's blocks, in parameter order, including dropped ones."""
        mine = set(self.parents) | set(self.dropped)
        return tuple(p for p in self.spec.params if p in mine)

    @property
    def file(self) -> str:
        return self.spec.file

    @property
    def line(self) -> int:
        return self.spec.line


@dataclass(frozen=True)
class Dag:
    """Operators in a deterministic topological order (declaration order breaks ties)."""

    workflow: str
    root: Path
    module_file: Path
    nodes: Mapping[str, Node]
    sources: SourceSnapshot | None = field(default=None, repr=False, compare=False)
    """The compiled source, for executors whose workers import the workflow themselves."""
    from_cache: bool = field(default=False, repr=False, compare=False)
    """Rebuilt from the last compile (``helixvcs.graph.cache``) without importing the
    workflow: keys, parts and structure only. A node's function compiles the workflow
    for real, and checks its key, the first time it is called."""

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes.values())

    def __len__(self) -> int:
        return len(self.nodes)

    def __getitem__(self, name: str) -> Node:
        return self.nodes[name]

    @property
    def outputs(self) -> tuple[str, ...]:
        return tuple(n.name for n in self if n.is_output)

    def parents(self) -> dict[str, tuple[str, ...]]:
        return {n.name: n.parents for n in self}

    def children(self) -> dict[str, list[str]]:
        kids: dict[str, list[str]] = {n.name: [] for n in self}
        for n in self:
            for p in n.parents:
                kids[p].append(n.name)
        return kids

    def ancestors(self, name: str) -> set[str]:
        seen: set[str] = set()
        stack = list(self.nodes[name].parents)
        while stack:
            p = stack.pop()
            if p not in seen:
                seen.add(p)
                stack.extend(self.nodes[p].parents)
        return seen

    def keys(self) -> dict[str, str]:
        return {n.name: n.key for n in self}
