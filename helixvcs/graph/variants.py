"""Variants of a compiled workflow: a sampled run, and constants set by exploration.

Both are the same workflow with a few nodes changed and every node below them re-keyed
with the rule compilation uses (``hashing.node_key``), so the ordinary planner reuses
whatever the store holds for the untouched ancestors and computes the rest:

* :func:`with_sample` puts a ``SampleSpec`` into every source's key (its ``extra``) and
  marks the source so that its value is cut down to the sampled rows where it is
  computed. Everything that descends from a source gets a key of its own, so sampled and
  full intermediates never mix. Nodes that descend from no source read no data and keep
  their keys.
* :func:`with_constants` gives some operators other values for their constants, as an
  explored variant does (``@wf.op(explore={...})``): the node's constants, its
  ``default:<name>`` parts and its key change, and so do its descendants' keys.
* :func:`with_precision` puts a low precision (``float32``) into every source's key and
  marks every node that descends from a source, whose float64 values are then cast where
  the operator returns: a key space of its own, like a sample's.
* :func:`with_pruned` leaves some blocks out of feature assemblies (``@wf.features``):
  the assembly loses them as parents and has the pruned set in its key, so only it and
  its descendants are re-keyed, and every unpruned block keeps its key and its value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from helixvcs.graph.dag import Dag, Node
from helixvcs.hashing import SampleSpec, digest, node_key, sampled_extra, value_fingerprint

PRECISIONS = ("float32",)
"""The low precisions a run may use (``--precision``)."""

Overrides = Mapping[str, Mapping[str, Any]]
"""operator -> constant -> value."""


class VariantError(ValueError):
    """The asked-for variant names an operator or constant the workflow does not have."""


def with_sample(dag: Dag, sample: SampleSpec) -> Dag:
    """``dag`` with every source cut down to ``sample`` and every descendant re-keyed."""
    changed: dict[str, Node] = {}
    for node in dag:
        if node.kind == "source":
            extra = sampled_extra(node.extra, sample)
            parts = {**node.parts, "sample": sample.label}
            changed[node.name] = replace(node, extra=extra, parts=parts, sample=sample)
    return _rekeyed(dag, changed)


def with_constants(dag: Dag, overrides: Overrides) -> Dag:
    """``dag`` with the constants in ``overrides`` set, and every descendant re-keyed."""
    changed: dict[str, Node] = {}
    for name, values in overrides.items():
        if name not in dag.nodes:
            raise VariantError(f"no operator named {name!r} in workflow {dag.workflow!r}")
        node = dag[name]
        unknown = sorted(set(values) - set(node.constants))
        if unknown:
            known = ", ".join(sorted(node.constants)) or "none"
            raise VariantError(
                f"operator {name!r} has no constant {', '.join(unknown)} (its constants: {known})"
            )
        parts = dict(node.parts)
        parts.update({f"default:{k}": value_fingerprint(v) for k, v in values.items()})
        changed[name] = replace(
            node,
            constants={**node.constants, **values},
            overrides={**node.overrides, **values},
            parts=parts,
        )
    return _rekeyed(dag, changed)


def with_precision(dag: Dag, precision: str) -> Dag:
    """``dag`` with every value that descends from a source cast to ``precision``."""
    if precision not in PRECISIONS:
        raise VariantError(f"unknown precision {precision!r}; use {', '.join(PRECISIONS)}")
    changed: dict[str, Node] = {}
    for node in dag:  # topological order: a node's parents are decided before it
        if node.kind != "source" and not any(p in changed for p in node.parents):
            continue
        extra = digest(node.extra, "precision", precision) if node.kind == "source" else node.extra
        parts = {**node.parts, "precision": precision}
        changed[node.name] = replace(node, extra=extra, parts=parts, precision=precision)
    return _rekeyed(dag, changed)


def with_pruned(dag: Dag, drop: Mapping[str, tuple[str, ...]]) -> Dag:
    """``dag`` with the blocks in ``drop`` (assembly -> blocks) left out of each feature
    assembly; the assembly and its descendants are re-keyed, nothing else."""
    changed: dict[str, Node] = {}
    for name, blocks in drop.items():
        node = dag.nodes.get(name)
        if node is None or node.kind != "features":
            raise VariantError(f"no @wf.features operator named {name!r} in {dag.workflow!r}")
        unknown = sorted(set(blocks) - set(node.parents))
        if unknown:
            raise VariantError(f"{', '.join(unknown)} is not a block of {name!r}")
        if not blocks:
            continue
        kept = tuple(p for p in node.parents if p not in blocks)
        if not kept:
            raise VariantError(f"every block of {name!r} would be pruned; nothing left to train on")
        label = ",".join(sorted(blocks))
        changed[name] = replace(
            node,
            parents=kept,
            dropped=tuple(p for p in node.parents if p in blocks),
            extra=digest(node.extra, "prune", label),
            parts={**node.parts, "prune": label},
        )
    return _rekeyed(dag, changed)


def _rekeyed(dag: Dag, changed: Mapping[str, Node]) -> Dag:
    nodes: dict[str, Node] = {}
    for node in dag:  # topological order: parents are keyed first
        current = changed.get(node.name, node)
        parent_keys = [nodes[p].key for p in current.parents]
        if node.name in changed or parent_keys != [dag[p].key for p in node.parents]:
            key = node_key(
                current.kind, current.code.hash, current.constants, parent_keys, current.extra
            )
            current = replace(current, key=key)
        nodes[node.name] = current
    return replace(dag, nodes=nodes)


def variant_label(overrides: Overrides) -> str:
    """``model.C=0.1, f1.threshold=0.4``: how a variant is named in logs."""
    return ", ".join(
        f"{op}.{name}={value!r}"
        for op, values in sorted(overrides.items())
        for name, value in sorted(values.items())
    )
