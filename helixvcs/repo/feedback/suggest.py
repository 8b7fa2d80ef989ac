"""``helix suggest``: what to try next, from exploration and from history.

Two kinds of advice, both read from the index (nothing runs, nothing is written):

* **explored variants** of the current version (the working tree: HEAD, or HEAD plus
  uncommitted edits) that beat it, best first, each with its gain in the metric over its
  base run and the exact source edit that applies it: a unified diff for ``git apply``;
* **operators whose edits moved the metric most** along HEAD's first-parent history:
  each recorded commit is compared with its nearest recorded ancestor; a commit with one
  edit has its whole change attributed to that operator, one with several shares it
  equally among them (``shared``);
* **a prune**: feature blocks that the last recorded model gave zero weight, and the
  operators that only they need (``zero_weight``), when there are any.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from helixvcs.errors import UserInputError
from helixvcs.graph.diff import diff_operators, operators_of
from helixvcs.repo.context import compile_version
from helixvcs.repo.feedback.explore import explored_variants, lower_is_better
from helixvcs.repo.feedback.patches import NoPatch, Rewrite, patch
from helixvcs.repo.records import last_ok_run
from helixvcs.repo.zero_weight import NothingToPrune, ZeroWeight, find
from helixvcs.vcs import first_parent_history, working_version

if TYPE_CHECKING:
    from helixvcs.repo import Repo

_HISTORY = 200  # first-parent commits read for the history part


@dataclass(frozen=True)
class Suggestion:
    label: str  # model.C=0.1
    variant: dict[str, dict[str, Any]]
    run_id: str
    base_run: str
    value: float
    base_value: float
    gain: float  # improvement in the metric's direction (positive: better)
    approximate: bool  # measured on a sample
    patch: str | None  # unified diff relative to the repository root
    note: str | None = None  # why there is no patch

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "variant": self.variant,
            "run_id": self.run_id,
            "base_run": self.base_run,
            "metric": self.value,
            "base_metric": self.base_value,
            "gain": self.gain,
            "approximate": self.approximate,
            "patch": self.patch,
            "note": self.note,
        }


@dataclass(frozen=True)
class Mover:
    name: str
    moved: float  # sum of |change| attributed to its edits
    net: float  # sum of the signed changes attributed
    edits: int  # recorded commits that edited it
    shared: int  # of those, commits where it shared the change with other edits

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "moved": self.moved,
            "net": self.net,
            "edits": self.edits,
            "shared": self.shared,
        }


@dataclass
class SuggestReport:
    metric: str
    minimize: bool
    revision: str
    explored: int  # variants of this version in the index
    suggestions: list[Suggestion] = field(default_factory=list)
    movers: list[Mover] = field(default_factory=list)
    commits: int = 0  # recorded commit pairs the history part compared
    prune: ZeroWeight | None = None  # zero-weight blocks a pruned run would leave out

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "direction": "minimize" if self.minimize else "maximize",
            "revision": self.revision,
            "explored": self.explored,
            "suggestions": [s.to_json() for s in self.suggestions],
            "operators": [m.to_json() for m in self.movers],
            "compared_commits": self.commits,
            "prune": None
            if self.prune is None
            else {**self.prune.to_json(), "command": "helix run --prune-zero-weight"},
        }


def suggest(
    repo: Repo, metric: str | None, minimize: bool | None = None, limit: int = 3
) -> SuggestReport:
    version = working_version(repo.root)
    index = repo.index
    variants = explored_variants(index, version.commit, version.fingerprint)
    ids = list(dict.fromkeys([v.run_id for v in variants] + [v.base_run for v in variants]))
    values = index.metrics_for(ids)
    chosen = _metric(metric, [v.base_run for v in variants], repo)
    down = lower_is_better(chosen) if minimize is None else minimize
    report = SuggestReport(chosen, down, version.revision, len(variants))
    found = []
    for v in variants:
        value, base = values[v.run_id].get(chosen), values[v.base_run].get(chosen)
        if value is None or base is None:
            continue
        found.append(((base - value) if down else (value - base), v, value, base))
    found.sort(key=lambda f: f[0], reverse=True)
    for gain, v, value, base in found[:limit]:
        if gain <= 0:
            break
        text, note = _patch(repo, v.variant)
        report.suggestions.append(
            Suggestion(
                v.label,
                v.variant,
                v.run_id,
                v.base_run,
                value,
                base,
                gain,
                v.sample is not None,
                text,
                note,
            )
        )
    report.movers, report.commits = _movers(repo, chosen)
    report.prune = _prune(repo)
    return report


def _prune(repo: Repo) -> ZeroWeight | None:
    """The prune that recorded weights offer for the working tree, if any."""
    try:
        dag, _ = compile_version(repo.layout, None, reuse=True)
        found = find(repo.index, dag)
    except (NothingToPrune, UserInputError):
        return None
    return found if found.drop else None


def _metric(wanted: str | None, base_runs: list[str], repo: Repo) -> str:
    """``wanted``, else the first metric the workflow declares (as ``explore`` picks it)."""
    if wanted is not None:
        return wanted
    last = repo.index.last_run(status="ok")
    run_id = base_runs[0] if base_runs else last.run_id if last else None
    if run_id is not None:
        metrics = repo.index.metrics(run_id)
        kinds = [(op.name, op.kind) for op in repo.index.operators(run_id)]
        for name, kind in kinds:
            for metric in sorted(metrics):
                if kind == "metric" and (metric == name or metric.startswith(name + ".")):
                    return metric
    raise UserInputError(
        "no metric to suggest for: nothing explored and no run recorded; "
        "run `helix run` and `helix explore`, or pass --metric"
    )


def _patch(repo: Repo, variant: dict[str, dict[str, Any]]) -> tuple[str | None, str | None]:
    """The diff that applies ``variant`` to the working tree, or why there is none."""
    try:
        dag, _ = compile_version(repo.layout, None)
        rewrites = [
            Rewrite(Path(dag[op].file), op, constant, value)
            for op, values in variant.items()
            for constant, value in values.items()
        ]
        return patch(repo.root, rewrites), None
    except (NoPatch, KeyError, OSError, SyntaxError) as exc:
        return None, f"no patch: {exc}"


def _movers(repo: Repo, metric: str) -> tuple[list[Mover], int]:
    """Operators whose edits moved ``metric`` most along HEAD's first-parent history."""
    index = repo.index
    head = working_version(repo.root).commit
    if head is None:
        return [], 0
    chain = first_parent_history(repo.root, head)[-_HISTORY:]
    recorded = []
    for commit in chain:
        run_id = last_ok_run(index, commit.sha)
        if run_id is not None:
            recorded.append(run_id)
    values = index.metrics_for(recorded)
    points = [(r, values[r][metric]) for r in recorded if metric in values[r]]
    totals: dict[str, list[float]] = {}
    counts: dict[str, list[int]] = {}
    for (a, va), (b, vb) in itertools.pairwise(points):
        edits = diff_operators(
            operators_of(index.operators(a)), operators_of(index.operators(b)), with_source=False
        ).edits
        if not edits:
            continue
        share = (vb - va) / len(edits)
        for edit in edits:
            moved, net = totals.setdefault(edit.name, [0.0, 0.0])
            totals[edit.name] = [moved + abs(share), net + share]
            n, shared = counts.setdefault(edit.name, [0, 0])
            counts[edit.name] = [n + 1, shared + (len(edits) > 1)]
    movers = [
        Mover(name, t[0], t[1], counts[name][0], counts[name][1]) for name, t in totals.items()
    ]
    movers.sort(key=lambda m: m.moved, reverse=True)
    return movers, max(len(points) - 1, 0)
