"""Zero-weight feature blocks: which operators a sparse model lets a run prune.

The rule (docs/pruning.md): an estimator counts when its operator's direct parent is a
feature assembly (``@wf.features``) and the value it returned has ``coef_`` or
``feature_importances_`` with ``n_features_in_`` equal to the assembly's width; the run
that computed or loaded it recorded which columns carry a non-zero weight
(``estimator_weights``), and the assembly's column provenance (``feature_blocks``). A
block is prunable when none of its columns has a non-zero weight in any estimator that
counts; the operators it makes prunable are those that no output needs once the block
is left out of the assembly.

Weights come from the latest successful run whose assembly and estimator keys are the
current ones; when only the assembly's key matches (the estimator changed, e.g. another
``C``), the newest weights of an estimator of the same name are used and a note says so.
An estimator whose width does not match is refused with a note, never guessed at.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from helixvcs.errors import UserInputError
from helixvcs.graph import Dag
from helixvcs.graph.variants import with_pruned
from helixvcs.index import BlockRecord, Index, WeightsRecord


class NothingToPrune(UserInputError):
    """No @wf.features operator, or no recorded weights to decide from: exit 2."""


@dataclass(frozen=True)
class PrunableOperator:
    name: str
    key: str
    seconds: float | None  # recorded compute seconds of this key (else of this name)
    bytes: int | None  # what its stored value takes in the store, if stored

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "key": self.key, "seconds": self.seconds, "bytes": self.bytes}


@dataclass
class ZeroWeight:
    """What the recorded weights say about a compiled workflow's feature assemblies."""

    drop: dict[str, tuple[str, ...]] = field(default_factory=dict)  # assembly -> blocks
    operators: list[PrunableOperator] = field(default_factory=list)
    estimators: dict[str, list[str]] = field(default_factory=dict)  # assembly -> estimators
    weights_run: str | None = None  # the newest run whose weights were used
    notes: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return sum(op.seconds or 0.0 for op in self.operators)

    @property
    def bytes(self) -> int:
        return sum(op.bytes or 0 for op in self.operators)

    def to_json(self) -> dict[str, Any]:
        return {
            "weights_run": self.weights_run,
            "blocks": {a: list(b) for a, b in self.drop.items()},
            "estimators": self.estimators,
            "operators": [op.to_json() for op in self.operators],
            "seconds": round(self.seconds, 6),
            "bytes": self.bytes,
            "notes": self.notes,
        }


def find(index: Index, dag: Dag) -> ZeroWeight:
    """The prunable blocks and operators of ``dag``, from the weights the index recorded.

    Raises ``NothingToPrune`` when the workflow has no feature assembly, or when no run
    recorded usable weights for any of them."""
    assemblies = [n for n in dag if n.kind == "features"]
    if not assemblies:
        raise NothingToPrune(
            f"workflow {dag.workflow!r} has no @wf.features operator, so helix cannot tell "
            "which operator made which feature column; stack the feature blocks with "
            "@wf.features (docs/pruning.md)"
        )
    found = ZeroWeight()
    children = dag.children()
    runs: list[str] = []
    for node in assemblies:
        blocks = index.feature_blocks(node.key)
        used = _estimators(index, dag, node.name, children[node.name], blocks, found.notes)
        if not blocks or not used:
            continue
        found.estimators[node.name] = [w.name for w in used]
        runs.extend(w.run_id for w in used)
        zero = tuple(b.block for b in blocks if b.block in node.parents and _all_zero(b, used))
        if zero and len(zero) == len(node.parents):
            found.notes.append(f"every block of '{node.name}' has zero weight; none is pruned")
        elif zero:
            found.drop[node.name] = zero
    if not found.estimators:
        names = ", ".join(f"'{n.name}'" for n in assemblies)
        raise NothingToPrune(
            f"no earlier run recorded the weights of an estimator trained on {names} as it is "
            "now; run `helix run` first (an estimator's operator must take the assembly as "
            "a parameter and return a fitted model with coef_ or feature_importances_)"
            + ("; " + "; ".join(found.notes) if found.notes else "")
        )
    found.weights_run = _newest(index, runs)
    found.operators = _costs(index, dag, found.drop)
    return found


def _estimators(
    index: Index,
    dag: Dag,
    assembly: str,
    children: list[str],
    blocks: list[BlockRecord],
    notes: list[str],
) -> list[WeightsRecord]:
    """The weights to decide from: per child of the assembly, its exact key's, else its
    name's (with a note), only if their width is the assembly's."""
    recorded = index.estimator_weights(dag[assembly].key)
    width = blocks[-1].stop if blocks else None
    used = []
    for child in children:
        exact = [w for w in recorded if w.key == dag[child].key]
        named = [w for w in recorded if w.name == child]
        chosen = exact[0] if exact else named[0] if named else None
        if chosen is None:
            continue
        if not exact:
            notes.append(
                f"'{child}' changed since run {chosen.run_id} recorded its weights; "
                "deciding from those weights"
            )
        if chosen.width != width:
            notes.append(
                f"'{child}' saw {chosen.width} features but '{assembly}' has {width} columns: "
                "its weights cannot be mapped to blocks and are not used"
            )
            continue
        used.append(chosen)
    return used


def _all_zero(block: BlockRecord, weights: list[WeightsRecord]) -> bool:
    return all(
        stop <= block.start or start >= block.stop for w in weights for start, stop in w.nonzero
    )


def _newest(index: Index, runs: list[str]) -> str | None:
    records = [r for r in (index.run(run_id) for run_id in set(runs)) if r is not None]
    return max(records, key=lambda r: (r.started, r.run_id)).run_id if records else None


def needed(dag: Dag) -> set[str]:
    """Operators some output needs: the outputs and their ancestors."""
    wanted = set(dag.outputs)
    for name in dag.outputs:
        wanted |= dag.ancestors(name)
    return wanted


def _costs(index: Index, dag: Dag, drop: Mapping[str, tuple[str, ...]]) -> list[PrunableOperator]:
    if not drop:
        return []
    gone = needed(dag) - needed(with_pruned(dag, drop))
    names = [n.name for n in dag if n.name in gone]
    keys = [dag[n].key for n in names]
    by_key, by_name = index.compute_seconds(keys, names)
    stored = index.objects(keys)
    return [
        PrunableOperator(
            name,
            dag[name].key,
            by_key.get(dag[name].key, by_name.get(name)),
            stored[dag[name].key].bytes if dag[name].key in stored else None,
        )
        for name in names
    ]


def record_features(index: Index, dag: Dag, run_id: str, outcomes: Mapping[str, Any]) -> None:
    """Record, with the run, the column provenance of every assembly of its version
    (computed, or else that recorded for its key) and the weights of estimators on them."""
    blocks: list[BlockRecord] = []
    for node in dag:
        out = outcomes.get(node.name)
        if node.kind != "features":
            continue
        if out is not None and out.columns is not None:
            blocks.extend(
                BlockRecord(node.name, node.key, i, block, start, stop)
                for i, (block, start, stop) in enumerate(out.columns)
            )
        else:
            blocks.extend(index.feature_blocks(node.key))
    weights = []
    for node in dag:
        out = outcomes.get(node.name)
        if out is None or out.weights is None or out.status != "ok":
            continue
        assembly = next(p for p in node.parents if dag[p].kind == "features")
        w = out.weights
        weights.append(
            WeightsRecord(
                node.name, node.key, assembly, dag[assembly].key, w.attribute, w.width, w.nonzero
            )
        )
    index.record_features(run_id, blocks, weights)
