"""The generic run loop: walk the plan in topological order, load or compute, keep.

Glossary of the state it keeps:

* ``values``   -- name -> value held in memory for nodes done in this run;
* ``outcomes`` -- name -> ``NodeOutcome``: what happened to each node (the run record);
* ``stored``   -- keys known to be in the store (grows as values are materialized).

A load that finds its object corrupt or gone does not fail the run: the store has
already dropped the object, the driver asks for a new plan in which every value it holds
loads for free, and carries on. An operator that raises stops the run; every value that
finished is kept in the store so the next run resumes from it.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helixvcs.exec.budget import Budget, FixedBudget
from helixvcs.exec.executor import Executor
from helixvcs.exec.progress import Progress
from helixvcs.graph import Dag, Node, source_argument
from helixvcs.plan import (
    COMPUTE,
    LOAD,
    PRUNE,
    MaterializePolicy,
    estimate_load_seconds,
    should_materialize,
)
from helixvcs.plan.materialize import recompute_seconds
from helixvcs.store import (
    CorruptObject,
    MissingObject,
    ObjectInfo,
    ObjectStore,
    UnstorableValue,
    estimate_size,
)

_PACKAGE_DIR = str(Path(__file__).resolve().parents[1])

Replanner = Callable[[frozenset[str], frozenset[str]], Mapping[str, str]]
"""Given the keys held in memory and the keys found missing or corrupt, a fresh plan."""


@dataclass(frozen=True)
class RunSettings:
    policy: MaterializePolicy = MaterializePolicy.HELIX
    budget: Budget = field(default_factory=lambda: FixedBudget(5 * 2**30))
    probabilities: Mapping[str, float] = field(default_factory=dict)  # P(key survives)
    default_probability: float = 1.0


@dataclass
class NodeOutcome:
    name: str
    key: str
    state: str
    seconds: float = 0.0
    load_seconds: float | None = None
    bytes: int | None = None
    materialized: bool = False
    status: str = "skipped"  # ok | failed | skipped
    note: str = ""
    info: ObjectInfo | None = None
    recompute_seconds: float | None = None


@dataclass(frozen=True)
class OperatorFailure:
    name: str
    message: str
    traceback: str


@dataclass
class ExecResult:
    outcomes: dict[str, NodeOutcome]
    metrics: dict[str, float] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    failure: OperatorFailure | None = None
    warnings: list[str] = field(default_factory=list)


class _Failed(Exception):
    def __init__(self, failure: OperatorFailure) -> None:
        self.failure = failure


def execute(
    dag: Dag,
    states: Mapping[str, str],
    *,
    store: ObjectStore,
    executor: Executor,
    replan: Replanner,
    compute_estimates: Mapping[str, float],
    settings: RunSettings,
    progress: Progress,
    targets: Sequence[str] | None = None,
) -> ExecResult:
    """Run ``states``; ``targets`` names the nodes whose values to return (default: outputs)."""
    run = _Run(dag, store, executor, compute_estimates, settings, progress)
    run.targets = frozenset(dag.outputs if targets is None else targets)
    return run.go(dict(states), replan)


class _Run:
    def __init__(
        self,
        dag: Dag,
        store: ObjectStore,
        executor: Executor,
        estimates: Mapping[str, float],
        settings: RunSettings,
        progress: Progress,
    ) -> None:
        self.dag, self.store, self.executor = dag, store, executor
        self.settings, self.progress = settings, progress
        self.seconds = dict(estimates)  # compute seconds: measured this run, else estimated
        self.parents = dag.parents()
        self.values: dict[str, Any] = {}
        self.targets: frozenset[str] = frozenset(dag.outputs)
        self.unsaved: set[str] = set()  # computed this run, not (yet) in the store
        self.lost: set[str] = set()  # keys whose object turned out missing or corrupt
        self.stored = {n.name for n in dag if store.has(n.key)}
        self.budget = settings.budget
        self.result = ExecResult(outcomes={n.name: NodeOutcome(n.name, n.key, PRUNE) for n in dag})

    def go(self, states: dict[str, str], replan: Replanner) -> ExecResult:
        try:
            while not self._pass(states):
                held = frozenset(self.dag[n].key for n in self.values)
                states = dict(replan(held, frozenset(self.lost)))
        except _Failed as failed:
            self.result.failure = failed.failure
            self._keep_finished()
        for name, outcome in self.result.outcomes.items():
            if outcome.status == "skipped":  # planned but never reached when a run fails
                outcome.state = PRUNE if self.result.failure else states.get(name, PRUNE)
        return self.result

    def _pass(self, states: Mapping[str, str]) -> bool:
        """One walk over the plan; False when a load failed and a new plan is needed."""
        for node in self.dag:
            state = states[node.name]
            if state == PRUNE or node.name in self.values:
                continue
            if state == LOAD and not self._load(node):
                return False
            if state == COMPUTE:
                self._compute(node)
        return True

    def _load(self, node: Node) -> bool:
        self.progress.start(node.name, LOAD)
        start = time.perf_counter()
        try:
            value = self.store.get(node.key)
        except (CorruptObject, MissingObject) as exc:
            self.stored.discard(node.name)
            if node.key in self.lost:  # a plan must never load a lost key twice
                raise RuntimeError(f"planner chose to load lost object {node.key}") from exc
            self.lost.add(node.key)
            self.progress.finish(node.name, "lost", time.perf_counter() - start)
            if isinstance(exc, CorruptObject):
                self._warn(str(exc))
            else:
                self._warn(f"the stored value of {node.name} vanished; recomputing it")
            return False
        seconds = time.perf_counter() - start
        out = self.result.outcomes[node.name]
        out.state, out.status, out.seconds, out.load_seconds = LOAD, "ok", seconds, seconds
        info = self.store.info(node.key)
        out.bytes = info.bytes if info else None
        self._accept(node, value)
        self.progress.finish(node.name, LOAD, seconds)
        return True

    def _compute(self, node: Node) -> None:
        out = self.result.outcomes[node.name]
        out.state = COMPUTE
        self.progress.start(node.name, COMPUTE)
        try:
            value, seconds = self.executor.call(node, self._arguments(node))
        except Exception as exc:
            out.status = "failed"
            raise _Failed(_failure(node, exc)) from None
        out.status, out.seconds = "ok", seconds
        self.seconds[node.name] = seconds
        try:
            self._accept(node, value)
        except _Failed:
            out.status = "failed"
            raise
        self.unsaved.add(node.name)
        note = self._maybe_materialize(node, value)
        self.progress.finish(node.name, COMPUTE, seconds, note)

    def _arguments(self, node: Node) -> dict[str, Any]:
        kwargs: dict[str, Any] = {p: self.values[p] for p in node.parents}
        kwargs.update(node.constants)
        if node.kind == "source":
            kwargs[node.spec.params[0]] = source_argument(node, self.dag.root)
        return kwargs

    def _accept(self, node: Node, value: Any) -> None:
        if node.kind == "metric":
            self.result.metrics.update(_metric_values(node, value))
        if node.name in self.targets:
            self.result.outputs[node.name] = value
        self.values[node.name] = value

    def _maybe_materialize(self, node: Node, value: Any) -> str:
        if node.name in self.stored:
            return ""
        nbytes = estimate_size(value)
        recompute = recompute_seconds(node.name, self.parents, self.seconds, self.stored)
        probability = self.settings.probabilities.get(node.name, self.settings.default_probability)
        keep, _why = should_materialize(
            self.settings.policy,
            recompute=recompute,
            load_estimate=estimate_load_seconds(nbytes),
            probability=probability,
            is_output=node.is_output,
        )
        if not keep:
            return ""
        worth = probability * recompute / max(nbytes, 1)
        if not self._room(nbytes, worth):
            return "no room in the budget"
        return "kept" if self._save(node, value, recompute, worth) else ""

    def _room(self, nbytes: int, worth: float) -> bool:
        if nbytes <= self.budget.free():
            return True
        if self.settings.policy is MaterializePolicy.ALL:
            return False  # keep-everything keeps what fits, first come first served
        return self.budget.make_room(nbytes, worth)

    def _save(self, node: Node, value: Any, recompute: float, worth: float) -> bool:
        try:
            info = self.store.put(node.key, value)
        except UnstorableValue as exc:
            self._warn(f"{node.name}: {exc}; it will be recomputed when needed")
            return False
        self.budget.added(node.key, node.name, info.bytes, recompute)
        if self.budget.free() < 0 and not self._room(-self.budget.free(), worth):
            self.store.delete(node.key)  # compressed size beat the estimate the wrong way
            self.budget.removed(node.key, info.bytes)
            return False
        out = self.result.outcomes[node.name]
        out.materialized, out.bytes, out.info = True, info.bytes, info
        out.recompute_seconds = recompute
        self.stored.add(node.name)
        self.unsaved.discard(node.name)
        return True

    def _keep_finished(self) -> None:
        """After a failure: keep the values that finished, so the next run resumes from them.

        Only values that no child has received yet: a child may have changed its input in
        place, and a value stored under its key must be exactly what the operator returned.
        Children that did run are kept themselves, so the frontier survives either way.
        """
        if self.settings.policy is MaterializePolicy.NONE:
            return
        children = self.dag.children()
        for node in self.dag:
            if node.name not in self.unsaved:
                continue
            if any(self._received(c) for c in children[node.name]):
                continue
            value = self.values[node.name]
            recompute = recompute_seconds(node.name, self.parents, self.seconds, self.stored)
            worth = recompute / max(estimate_size(value), 1)
            if self._room(estimate_size(value), worth):
                self._save(node, value, recompute, worth)

    def _received(self, child: str) -> bool:
        out = self.result.outcomes[child]
        return out.state == COMPUTE and out.status != "skipped"

    def _warn(self, message: str) -> None:
        self.result.warnings.append(message)
        self.progress.warn(message)


def _metric_values(node: Node, value: Any) -> dict[str, float]:
    if isinstance(value, Mapping):
        items = {f"{node.name}.{k}": v for k, v in value.items()}
    else:
        items = {node.name: value}
    result = {}
    for name, v in items.items():
        try:
            if isinstance(v, bool | str | bytes):
                raise TypeError
            result[name] = float(v)
        except (TypeError, ValueError):
            raise _Failed(
                OperatorFailure(
                    node.name,
                    f"metric '{node.name}' returned {type(v).__name__}; "
                    "return a float or a dict of floats",
                    "",
                )
            ) from None
    return result


def _failure(node: Node, exc: BaseException) -> OperatorFailure:
    """The user's traceback: frames from helixvcs itself are cut off."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        tb = tb.tb_next
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    return OperatorFailure(
        node.name, f"operator '{node.name}' failed: {type(exc).__name__}: {exc}", text
    )
