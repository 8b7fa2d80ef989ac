"""Variants of one run: which version runs, on which rows, with which constants set.

Three kinds of run go through ``run``, all planned and executed the same way:

* ``commit``: a version as it is (a commit, or the working tree);
* ``sampled`` (``--sample F --seed N``): the same, with every source cut down to a
  deterministic sample of its rows; the sample is part of every source's key, so its
  intermediates never mix with full ones, and its metrics are approximate;
* ``explored``: a variant that exploration derived from a version by setting some
  constants (``graph.variants.with_constants``), recorded with the run it came from;
* ``precision`` (``--precision float32``): float64 values cast to float32 where every
  operator that descends from a source returns, in a key space of its own;
* ``pruned`` (``--prune-zero-weight``): the feature blocks that a recorded sparse model
  gave no weight left out of their assemblies (``zero_weight``), in a key space of its
  own that shares every unpruned block.

A ``RunVariant`` describes one of them; ``run.run_variant`` runs it, or finds a recorded
run of it whose operators have the same keys. This module owns what tells variants
apart: the DAG a variant runs, and the kind, revision and fingerprint it is recorded with.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from helixvcs.errors import UserInputError
from helixvcs.graph import Dag
from helixvcs.graph.variants import (
    Overrides,
    VariantError,
    variant_label,
    with_constants,
    with_precision,
    with_pruned,
    with_sample,
)
from helixvcs.hashing import SampleSpec, digest
from helixvcs.vcs import Version

if TYPE_CHECKING:
    from helixvcs.index import Index

_LAST_VERSION_RUN = """
SELECT run_id FROM runs WHERE status = 'ok' AND kind = ? AND workflow = ?
  AND "commit" IS NOT DISTINCT FROM ? AND fingerprint IS NOT DISTINCT FROM ?
  AND sample IS NOT DISTINCT FROM ? AND seed IS NOT DISTINCT FROM ?
ORDER BY started DESC, run_id DESC
"""


@dataclass(frozen=True)
class RunVariant:
    """One run of a version, described: the version, the rows, the constants set."""

    rev: str | None = None  # a commit to run; None runs the working tree
    sample: SampleSpec | None = None  # run on a sample of every source's rows
    overrides: Overrides = field(default_factory=dict)  # explored: operator -> constant -> value
    base_run: str | None = None  # explored: the run of the version it is compared with
    precision: str | None = None  # cast float64 values to this (``float32``)
    prune_zero_weight: bool = False  # leave out the blocks recorded weights say are unused
    pruned: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # assembly -> blocks
    pruned_from: str | None = None  # pruned: the run whose weights decided

    def __post_init__(self) -> None:
        if self.overrides and self.base_run is None:
            raise ValueError("constants are set by an explored variant, which has a base run")

    @property
    def explored(self) -> bool:
        """Derived by exploration: a version of its own, never taken for ``rev``'s run."""
        return self.base_run is not None

    @property
    def kind(self) -> str:
        """How the index records it: ``commit``, ``sampled``, ``explored``, ``pruned``
        or ``precision``."""
        if self.explored:
            return "explored"
        if self.pruned:
            return "pruned"
        if self.precision is not None:
            return "precision"
        return "sampled" if self.sample is not None else "commit"

    def pruning(self, drop: Mapping[str, tuple[str, ...]], weights_run: str | None) -> RunVariant:
        """This variant with ``drop`` (assembly -> blocks) left out, decided by the weights
        that ``weights_run`` recorded."""
        return replace(self, pruned=dict(drop), pruned_from=weights_run if drop else None)

    @property
    def label(self) -> str:
        """``model.C=0.1``: the constants it sets, as logs name it."""
        return variant_label(self.overrides)

    def to_json(self) -> dict[str, dict[str, Any]]:
        """The constants it sets, ``{operator: {constant: value}}``."""
        return {op: dict(values) for op, values in sorted(self.overrides.items())}

    def exploring(self, overrides: Overrides, base_run: str) -> RunVariant:
        """This version (on the same rows) with ``overrides`` set, compared with ``base_run``."""
        return replace(self, overrides=overrides, base_run=base_run)

    def dag(self, dag: Dag) -> Dag:
        """The compiled ``dag`` of the version, on the variant's rows, with its constants."""
        if self.sample is not None:
            dag = with_sample(dag, self.sample)
        if self.precision is not None:
            try:
                dag = with_precision(dag, self.precision)
            except VariantError as exc:
                raise UserInputError(f"bad --precision: {exc}") from None
        if self.explored:
            try:
                dag = with_constants(dag, self.overrides)
            except VariantError as exc:
                raise UserInputError(f"cannot explore {self.label}: {exc}") from None
        if self.pruned:
            try:
                dag = with_pruned(dag, self.pruned)
            except VariantError as exc:
                raise UserInputError(f"cannot prune: {exc}") from None
        return dag

    def revision(self, version: Version) -> str:
        """``1a2b3c4``, or ``1a2b3c4[model.C=0.1]`` for an explored variant."""
        return f"{version.revision}[{self.label}]" if self.explored else version.revision

    def fingerprint(self, version: Version) -> str | None:
        """What tells an explored variant apart from its base version and from other variants
        (in the ``fingerprint`` column, where a dirty tree keeps the digest of its changes)."""
        if not self.explored:
            return version.fingerprint
        return digest(
            "explored",
            version.commit or "",
            version.fingerprint or "",
            json.dumps(self.to_json(), sort_keys=True, default=repr),
            self.sample.label if self.sample else "",
        )


def recorded_run(index: Index, variant: RunVariant, dag: Dag, version: Version) -> str | None:
    """The newest successful run of ``variant`` of ``version`` (compiled: ``dag``) whose
    operators have the keys the variant's DAG has, or None."""
    keyed = variant.dag(dag)
    sample = variant.sample
    rows = index.select(
        _LAST_VERSION_RUN,
        [
            variant.kind,
            keyed.workflow,
            version.commit,
            variant.fingerprint(version),
            sample.fraction if sample else None,
            sample.seed if sample else None,
        ],
    )
    keys = keyed.keys()
    for (run_id,) in rows[:5]:
        if {op.name: op.key for op in index.operators(run_id)} == keys:
            return str(run_id)
    return None
