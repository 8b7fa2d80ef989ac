"""``helix explore``: try the alternatives operators declare for their constants.

An operator declares alternatives with ``@wf.op(explore={"C": [0.01, 0.1, 1, 10]})``.
Exploring a version (the working tree, or a commit) runs, within a time budget:

1. the version itself, unless it has a successful run with the same keys (its *base*);
2. every variant that changes one constant to one of its alternatives, in workflow
   order (a value equal to the current default is the base itself and is skipped);
3. the best combination: each constant at its best value, when more than one constant
   has a value that beats the base.

A variant is the same workflow with the constants set (``graph.variants``): only the
changed operator and its descendants get new keys, so the ordinary planner loads or
prunes everything upstream and computes only what the change touches. The base and each
variant are described as a ``RunVariant`` and handed to the run room's one entry,
``run.run_variant``; each variant is recorded as a run of kind ``explored``, linked to
its base run, with the constants it set, and one already explored with the same keys is
not run again. Nothing is written
to git: ``helix suggest`` turns the best variants into patches for the user to apply.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from helixvcs.errors import UserInputError
from helixvcs.exec import Progress
from helixvcs.graph import Dag
from helixvcs.graph.variants import variant_label
from helixvcs.hashing import value_fingerprint
from helixvcs.repo.context import compile_version
from helixvcs.repo.feedback.explorer import ExplorationStopped, stoppable
from helixvcs.repo.run import RunOptions, run_variant
from helixvcs.repo.variants import RunVariant
from helixvcs.vcs import Version

if TYPE_CHECKING:
    from helixvcs.index import Index
    from helixvcs.repo import Repo

_LOWER_IS_BETTER = ("loss", "error", "err", "rmse", "mse", "mae", "regret", "cost")
_EXPLORED = """
SELECT e.run_id, e.base_run, e.variant, e.revision, e.sample FROM runs e
JOIN runs b ON b.run_id = e.base_run
WHERE e.kind = 'explored' AND e.status = 'ok'
  AND b."commit" IS NOT DISTINCT FROM ? AND b.fingerprint IS NOT DISTINCT FROM ?
ORDER BY e.started DESC, e.run_id DESC
"""


@dataclass(frozen=True)
class Grid:
    """One constant of one operator and the values declared for it."""

    operator: str
    constant: str
    values: tuple[Any, ...]
    current: Any


@dataclass(frozen=True)
class Explored:
    """One variant, as run (or found already run) by this exploration."""

    overrides: dict[str, dict[str, Any]]
    run_id: str | None
    status: str  # ok | failed | known (explored before, not run again)
    value: float | None  # the metric
    computed: tuple[str, ...]  # operators its run computed
    combined: bool = False  # the best combination, not a single change

    @property
    def label(self) -> str:
        return variant_label(self.overrides)

    def to_json(self, base: float | None) -> dict[str, Any]:
        delta = None if self.value is None or base is None else self.value - base
        return {
            "variant": self.overrides,
            "label": self.label,
            "run_id": self.run_id,
            "status": self.status,
            "metric": self.value,
            "delta": delta,
            "computed": list(self.computed),
            "combined": self.combined,
        }


@dataclass
class ExploreReport:
    revision: str
    metric: str
    minimize: bool
    base_run: str
    base_value: float | None
    ran_base: bool
    sample: float | None
    variants: list[Explored] = field(default_factory=list)
    skipped: int = 0  # variants left out: the budget ran out, or exploration was stopped
    stopped: str | None = None  # why exploration ended early
    seconds: float = 0.0

    def gain(self, value: float | None) -> float | None:
        if value is None or self.base_value is None:
            return None
        return (self.base_value - value) if self.minimize else (value - self.base_value)

    def best(self) -> Explored | None:
        scored = [v for v in self.variants if self.gain(v.value) is not None]
        return max(scored, key=lambda v: self.gain(v.value) or 0.0, default=None)

    def to_json(self) -> dict[str, Any]:
        best = self.best()
        return {
            "revision": self.revision,
            "metric": self.metric,
            "direction": "minimize" if self.minimize else "maximize",
            "base": {"run_id": self.base_run, "metric": self.base_value, "ran": self.ran_base},
            "sample": self.sample,
            "variants": [v.to_json(self.base_value) for v in self.variants],
            "best": best.to_json(self.base_value) if best else None,
            "skipped": self.skipped,
            "stopped": self.stopped,
            "seconds": round(self.seconds, 6),
        }


def grids(dag: Dag) -> list[Grid]:
    """The alternatives every operator declares, in workflow order."""
    found = []
    for node in dag:
        for constant, values in dict(node.spec.options.get("explore") or {}).items():
            found.append(Grid(node.name, constant, tuple(values), node.constants.get(constant)))
    return found


def lower_is_better(metric: str) -> bool:
    """A loss or an error rate: its name says so."""
    words = metric.lower().replace(".", "_").split("_")
    return any(w in _LOWER_IS_BETTER for w in words)


def explore(
    repo: Repo,
    options: RunOptions,
    progress: Progress,
    *,
    metric: str | None = None,
    minimize: bool | None = None,
    budget: float | None = None,
    interrupt: Callable[[], str | None] = lambda: None,
) -> ExploreReport:
    """Explore the declared alternatives of ``options.rev`` (None: the working tree)."""
    started = time.monotonic()
    base = options.variant()  # the version as it is, or on the sample asked for
    dag, version = compile_version(repo.layout, base.rev)
    declared = grids(dag)
    if not declared:
        raise UserInputError(
            f"no operator of workflow {dag.workflow!r} ({dag.module_file}) declares "
            "alternatives to explore; declare some, e.g. @wf.op(explore={'C': [0.1, 1, 10]})"
        )
    _check_declared(metric, dag)
    base_id, base_metrics, ran = _base(repo, options, progress, base, (dag, version))
    chosen = _metric(metric, base_metrics, dag, base_id)
    report = ExploreReport(
        revision=version.revision,
        metric=chosen,
        minimize=lower_is_better(chosen) if minimize is None else minimize,
        base_run=base_id,
        base_value=base_metrics.get(chosen),
        ran_base=ran,
        sample=base.sample.fraction if base.sample else None,
    )
    singles = [
        {g.operator: {g.constant: v}}
        for g in declared
        for v in g.values
        if value_fingerprint(v) != value_fingerprint(g.current)
    ]
    todo: list[tuple[dict[str, dict[str, Any]], bool]] = [(s, False) for s in singles]
    try:
        while todo:
            overrides, combined = todo.pop(0)
            why = _why_stop(started, budget, interrupt)
            if why is not None:
                report.stopped, report.skipped = why, len(todo) + 1
                break
            variant = base.exploring(overrides, base_id)
            with stoppable():
                done = _variant(repo, options, progress, (dag, version), variant, chosen, combined)
            report.variants.append(done)
            if not todo and not combined:
                combo = _best_combination(report, declared)
                if combo is not None:
                    todo.append((combo, True))
    except ExplorationStopped:
        report.stopped = "stopped: a new commit arrived or a foreground run started"
        report.skipped = len(todo) + 1
    report.seconds = time.monotonic() - started
    return report


def _why_stop(
    started: float, budget: float | None, interrupt: Callable[[], str | None]
) -> str | None:
    if budget is not None and time.monotonic() - started >= budget:
        return f"the time budget ({budget:g} s) is spent"
    reason = interrupt()
    return None if reason is None else f"stopped: {reason}"


def _base(
    repo: Repo,
    options: RunOptions,
    progress: Progress,
    base: RunVariant,
    compiled: tuple[Dag, Version],
) -> tuple[str, dict[str, float], bool]:
    """The run the variants are compared with: the version's newest successful run with
    exactly these keys, or a new run of it."""
    done = run_variant(repo, base, options, progress, reuse=compiled)
    if done.report is not None and done.report.failure is not None:
        raise UserInputError(
            f"{compiled[1].revision} fails ({done.report.failure.message}); fix it before exploring"
        )
    return done.run_id, done.metrics, done.report is not None


def _check_declared(wanted: str | None, dag: Dag) -> None:
    """Before anything runs: ``wanted`` must be a metric of the workflow (or of a dict one)."""
    names = [n.name for n in dag if n.kind == "metric"]
    if wanted is None or any(wanted == n or wanted.startswith(n + ".") for n in names):
        return
    raise UserInputError(
        f"unknown metric {wanted!r}: workflow {dag.workflow!r} declares "
        f"{', '.join(names) or 'no metric'}; pass one of them with --metric"
    )


def _metric(wanted: str | None, metrics: Mapping[str, float], dag: Dag, run_id: str) -> str:
    if wanted is not None:
        if wanted not in metrics:
            known = ", ".join(sorted(metrics)) or "none"
            raise UserInputError(
                f"unknown metric {wanted!r}: run {run_id} measured {known}; "
                "pass one of them with --metric"
            )
        return wanted
    for node in dag:  # the first metric the workflow declares
        for name in sorted(metrics):
            if node.kind == "metric" and (name == node.name or name.startswith(node.name + ".")):
                return name
    raise UserInputError(f"run {run_id} measured no metric; explore needs one to compare")


def _variant(
    repo: Repo,
    options: RunOptions,
    progress: Progress,
    compiled: tuple[Dag, Version],
    variant: RunVariant,
    metric: str,
    combined: bool,
) -> Explored:
    """Run one variant, or find it explored before with the same keys."""
    done = run_variant(repo, variant, options, progress, reuse=compiled)
    overrides = {op: dict(values) for op, values in variant.overrides.items()}
    report = done.report
    if report is None:
        return Explored(overrides, done.run_id, "known", done.metrics.get(metric), (), combined)
    computed = tuple(n["name"] for n in report.nodes if n["state"] == "compute")
    value = report.metrics.get(metric) if report.failure is None else None
    return Explored(overrides, report.run_id, report.status, value, computed, combined)


def _best_combination(report: ExploreReport, declared: list[Grid]) -> dict[str, Any] | None:
    """Each constant at the value that beat the base by most, when two or more did."""
    best: dict[tuple[str, str], tuple[float, Any]] = {}
    for v in report.variants:
        gain = report.gain(v.value)
        if gain is None or gain <= 0 or math.isnan(gain):
            continue
        ((op, values),) = v.overrides.items()
        ((constant, value),) = values.items()
        if (op, constant) not in best or gain > best[(op, constant)][0]:
            best[(op, constant)] = (gain, value)
    if len(best) < 2:
        return None
    combo: dict[str, dict[str, Any]] = {}
    for g in declared:
        if (g.operator, g.constant) in best:
            combo.setdefault(g.operator, {})[g.constant] = best[(g.operator, g.constant)][1]
    return combo


@dataclass(frozen=True)
class RecordedVariant:
    """An explored variant of a version, as the index has it (its newest run)."""

    run_id: str
    base_run: str
    revision: str  # 1a2b3c4[model.C=0.1]
    variant: dict[str, dict[str, Any]]
    sample: float | None

    @property
    def label(self) -> str:
        return self.revision.partition("[")[2].removesuffix("]") or self.revision

    def to_json(self, metrics: Mapping[str, float]) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "base_run": self.base_run,
            "revision": self.revision,
            "variant": self.variant,
            "sample": self.sample,
            "metrics": dict(metrics),
        }


def explored_variants(
    index: Index, commit: str | None, fingerprint: str | None
) -> list[RecordedVariant]:
    """The variants explored from a version (a commit, or an uncommitted edit of one),
    newest first, one per variant."""
    rows = index.select(_EXPLORED, [commit, fingerprint])
    newest: dict[str, RecordedVariant] = {}
    for run_id, base_run, variant, revision, sample in rows:
        key = f"{variant}|{sample}"
        if key not in newest:
            newest[key] = RecordedVariant(run_id, base_run, revision, variant_of(variant), sample)
    return list(newest.values())


def variant_of(text: str | None) -> dict[str, dict[str, Any]]:
    """A run's recorded variant (JSON) back as ``{operator: {constant: value}}``."""
    if not text:
        return {}
    value = json.loads(text)
    return value if isinstance(value, dict) else {}
