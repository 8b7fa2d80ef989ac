"""``helix blame-metric M [RANGE] [--isolate]``: which edits moved metric M, commit by commit.

The walk follows first parents, oldest first. Every commit is compared with its first
parent: a commit whose value of M differs is listed with the operators it edited
(changed, added, removed, renamed; not those only recomputed downstream), and the delta
is attributed:

* one edit: the whole delta is that operator's;
* several edits, without ``--isolate``: the effects are unknown (``null``) and the whole
  delta is the commit's ``remainder``;
* several edits, with ``--isolate``: each edit is replayed alone on top of the parent (a
  hybrid workflow, see ``graph.hybrid``; replays are not recorded as runs), its effect is
  the hybrid's value minus the parent's, and the remainder is the interaction:
  ``delta - sum(effects)``. An edit that cannot stand alone (it needs an operator the
  parent lacks, or removes one the parent still uses) has no effect and is part of the
  remainder;
* no edit (data the commit does not track changed, or nondeterminism): all remainder.

So effects plus the remainder always add up to the delta. Commits without a successful
run are run first (``iterations.measure``); commits that cannot run (they do not compile,
or their run fails) are skipped, and their edits are merged into the next commit that
ran, which is compared with the last commit before them that ran: an edit made in a
broken commit still gets its share of the change. The metric's name is checked before
anything runs. The index is asked once for the values of every commit, and once for
their operators.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from helixvcs.exec import Progress
from helixvcs.graph import Dag
from helixvcs.graph.diff import ADDED, REMOVED, RENAMED, Edit, Operator, diff_operators
from helixvcs.graph.hybrid import SpliceError, splice
from helixvcs.repo.context import compile_version
from helixvcs.repo.history.iterations import (
    Measurement,
    measure,
    recorded_measurements,
    recorded_operators_for,
)
from helixvcs.repo.history.metrics import check_metric
from helixvcs.repo.history.reports import record
from helixvcs.repo.replay import replay
from helixvcs.vcs import CommitInfo, first_parent_history, resolve_range, shallow_note

if TYPE_CHECKING:
    from helixvcs.repo import Repo


@dataclass(frozen=True)
class OperatorEffect:
    name: str
    change: str  # changed | added | removed | renamed
    causes: tuple[str, ...]
    effect: float | None  # None: not isolated, or could not be replayed alone
    note: str  # how the effect was found, or why there is none

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "change": self.change,
            "causes": list(self.causes),
            "effect": self.effect,
            "note": self.note,
        }


@dataclass(frozen=True)
class BlamedCommit:
    commit: str
    subject: str
    parent: str
    before: float
    after: float
    operators: list[OperatorEffect]
    isolated: bool  # edits were replayed one by one
    merged: tuple[str, ...] = ()  # commits between parent and this one that did not run

    @property
    def delta(self) -> float:
        return self.after - self.before

    @property
    def remainder(self) -> float:
        """The part of the delta no single edit accounts for (interaction, unknowns)."""
        return self.delta - sum(o.effect for o in self.operators if o.effect is not None)

    def to_json(self) -> dict[str, Any]:
        return {
            "commit": self.commit,
            "subject": self.subject,
            "parent": self.parent,
            "a": self.before,
            "b": self.after,
            "delta": self.delta,
            "operators": [o.to_json() for o in self.operators],
            "remainder": self.remainder,
            "isolated": self.isolated,
            "merged": list(self.merged),
        }


@dataclass(frozen=True)
class OperatorTotal:
    name: str
    total: float  # sum of the effects attributed to it
    edits: int  # commits of the range that edited it
    unattributed: float  # sum of deltas of commits it shared with other edits, not isolated

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "total": self.total,
            "edits": self.edits,
            "unattributed": self.unattributed,
        }


@dataclass
class BlameReport:
    metric: str
    range: str
    walked: int  # commits in the range
    commits: list[BlamedCommit] = field(default_factory=list)
    operators: list[OperatorTotal] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (sha, why)
    runs: int = 0  # commits this command ran
    computed: int = 0  # operators computed by those runs and by the replays
    note: str | None = None  # where a shallow clone cut the history short

    def to_json(self) -> dict[str, Any]:
        """The ``helix blame-metric --json`` document (docs/history.md)."""
        return {
            "metric": self.metric,
            "range": self.range,
            "walked": self.walked,
            "commits": [c.to_json() for c in self.commits],
            "operators": [o.to_json() for o in self.operators],
            "skipped": [{"commit": sha, "reason": why} for sha, why in self.skipped],
            "runs": self.runs,
            "computed_operators": self.computed,
            "note": self.note,
        }


def blame_metric(
    repo: Repo, metric: str, spec: str | None, isolate: bool, progress: Progress
) -> BlameReport:
    span = resolve_range(repo.root, spec)
    history = first_parent_history(repo.root, span.end, span.start)
    check_metric(repo, metric, [span.end])
    report = BlameReport(metric, spec or "HEAD", len(history))
    report.note = shallow_note(repo.root, history)  # then the oldest has nothing to compare
    shas = [history[0].parent] if history and history[0].parent and not report.note else []
    values = {}
    commits = [*shas, *(c.sha for c in history)]
    recorded = recorded_measurements(repo.index, commits, metric)  # one read for them all
    for sha in commits:
        m = recorded.get(sha) or measure(repo, sha, metric, progress)
        values[sha] = m
        report.runs += m.ran
        report.computed += m.computed
    operators = recorded_operators_for(repo.index, commits)
    edits_seen: dict[str, int] = {}
    base = values.get(shas[0]) if shas else None  # the last commit with a value
    merged: list[str] = []  # commits since ``base`` without one
    for commit in history:
        after = values[commit.sha]
        if after.value is None:
            report.skipped.append((commit.sha, after.error or "no value"))
            if base is not None:
                merged.append(commit.sha)
            continue
        if base is not None:
            blamed = _commit(
                repo,
                commit,
                (base, after),
                operators,
                tuple(merged),
                isolate,
                progress,
                report,
                edits_seen,
            )
            if blamed is not None:
                report.commits.append(blamed)
        base, merged = after, []
    report.operators = _totals(report.commits, edits_seen)
    _check_metric(report, values.values(), metric)
    record(repo, "blame-metric", report.to_json(), isolate=isolate)  # for `helix ui`
    return report


def _commit(
    repo: Repo,
    commit: CommitInfo,
    values: tuple[Measurement, Measurement],
    operators: dict[str, list[Operator]],
    merged: tuple[str, ...],
    isolate: bool,
    progress: Progress,
    report: BlameReport,
    edits_seen: dict[str, int],
) -> BlamedCommit | None:
    """``commit`` against ``before``: its first parent, or the last commit before it that
    ran when ``merged`` ones in between did not."""
    before, after = values
    assert after.value is not None and before.value is not None
    old_ops = operators.get(before.commit, [])
    new_ops = operators.get(commit.sha, [])
    edits = diff_operators(old_ops, new_ops, with_source=False).edits
    for e in edits:
        edits_seen[e.name] = edits_seen.get(e.name, 0) + 1
    if math.isclose(after.value, before.value, rel_tol=1e-12, abs_tol=1e-12):
        return None
    delta = after.value - before.value
    if len(edits) == 1:
        effects = [_effect(edits[0], delta, "the only edit")]
    elif len(edits) > 1 and isolate:
        effects = _isolate(
            repo, commit, before.commit, edits, report.metric, before.value, progress, report
        )
    else:
        note = "shared with other edits; --isolate separates them"
        effects = [_effect(e, None, note) for e in edits]
    return BlamedCommit(
        commit.sha,
        commit.subject,
        before.commit,
        before.value,
        after.value,
        effects,
        isolated=isolate and len(edits) > 1,
        merged=merged,
    )


def _isolate(
    repo: Repo,
    commit: CommitInfo,
    parent_sha: str,
    edits: Sequence[Edit],
    metric: str,
    base: float,
    progress: Progress,
    report: BlameReport,
) -> list[OperatorEffect]:
    parent, _ = compile_version(repo.layout, parent_sha)
    child, _ = compile_version(repo.layout, commit.sha)
    effects = []
    for edit in edits:
        try:
            hybrid = _hybrid(parent, child, edit)
        except SpliceError as exc:
            effects.append(_effect(edit, None, f"cannot be replayed alone: {exc}"))
            continue
        result = replay(repo, hybrid, progress)
        report.computed += result.computed
        value = result.metrics.get(metric)
        if result.error is not None or value is None:
            why = result.error or f"the hybrid has no metric {metric}"
            effects.append(_effect(edit, None, f"replay failed: {why}"))
            continue
        effects.append(_effect(edit, value - base, "replayed alone on the parent"))
    return effects


def _hybrid(parent: Dag, child: Dag, edit: Edit) -> Dag:
    """The parent's workflow with this one edit applied."""
    if edit.change == REMOVED:
        return splice(parent, child, drop=[edit.name])
    if edit.change == RENAMED:
        assert edit.old_name is not None
        return splice(parent, child, take=[edit.name], drop=[edit.old_name])
    return splice(parent, child, take=[edit.name])  # changed or added


def _effect(edit: Edit, effect: float | None, note: str) -> OperatorEffect:
    name = edit.name if edit.change != RENAMED else f"{edit.old_name} -> {edit.name}"
    causes = edit.causes if edit.change not in (ADDED, REMOVED) else ()
    return OperatorEffect(name, edit.change, causes, effect, note)


def _totals(commits: list[BlamedCommit], edits_seen: dict[str, int]) -> list[OperatorTotal]:
    totals: dict[str, float] = {}
    shared: dict[str, float] = {}
    for c in commits:
        for o in c.operators:
            totals.setdefault(o.name, 0.0)
            shared.setdefault(o.name, 0.0)
            if o.effect is not None:
                totals[o.name] += o.effect
            elif len(c.operators) > 1:
                shared[o.name] += c.delta
    for name in edits_seen:  # edited, but the metric did not move
        if name not in totals and not any(t.endswith(f" -> {name}") for t in totals):
            totals[name], shared[name] = 0.0, 0.0
    rows = [
        OperatorTotal(name, totals[name], edits_seen.get(name.split(" -> ")[-1], 1), shared[name])
        for name in totals
    ]
    return sorted(rows, key=lambda r: (-abs(r.total), -abs(r.unattributed), -r.edits, r.name))


def _check_metric(report: BlameReport, values: Any, metric: str) -> None:
    from helixvcs.errors import UserInputError

    if any(m.value is not None for m in values) or report.walked == 0:
        return
    raise UserInputError(
        f"no commit in {report.range} has a metric named {metric!r}; "
        "check the name with `helix log`"
    )
