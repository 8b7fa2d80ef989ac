"""``helix diff [A [B]]``: the logical diff of two versions, with their metrics and costs.

As ``git diff``: no revision compares HEAD with the working tree, one compares it with
the working tree. Each changed operator says where it is declared (``workflow.py:12``),
and each helper, class or constant among its causes comes with the hunks of the file
that defines it (``sources``), with that file's line numbers.

Both versions are compiled (a commit from a scratch tree, ``WORKTREE`` or no B from the
working tree), so the diff is exact even for versions that never ran. Metrics and wall
time come from each version's newest successful run, when it has one; each changed
operator's compute seconds come from the index, by key. Variants that ``helix explore``
ran from either version are listed apart (``explored``), never taken for the version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from helixvcs.graph import Dag
from helixvcs.graph.diff import DagDiff, diff_dags
from helixvcs.index import RunRecord
from helixvcs.repo.context import compile_version
from helixvcs.repo.feedback.explore import RecordedVariant, explored_variants
from helixvcs.repo.history.iterations import is_worktree, last_run
from helixvcs.repo.history.sources import Hunk, cause_hunks, operator_place

if TYPE_CHECKING:
    from helixvcs.repo import Repo


@dataclass(frozen=True)
class DiffSide:
    """One of the two versions compared."""

    revision: str  # short sha, "<short>+dirty", or "worktree"
    commit: str | None  # None for an uncommitted working tree
    subject: str | None
    run_id: str | None  # its newest successful run, if any
    metrics: dict[str, float]
    wall_seconds: float | None
    explored: list[tuple[RecordedVariant, dict[str, float]]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "commit": self.commit,
            "subject": self.subject,
            "run_id": self.run_id,
            "wall_seconds": self.wall_seconds,
        }


@dataclass(frozen=True)
class DiffReport:
    a: DiffSide
    b: DiffSide
    diff: DagDiff
    seconds: dict[str, tuple[float | None, float | None]]  # changed operator -> compute s
    places: dict[str, str] = field(default_factory=dict)  # changed operator -> file:line
    hunks: dict[str, list[Hunk]] = field(default_factory=dict)  # ... -> its causes' hunks

    def metric_names(self) -> list[str]:
        return sorted(set(self.a.metrics) | set(self.b.metrics))

    def to_json(self) -> dict[str, Any]:
        """The ``helix diff --json`` document (docs/history.md)."""
        doc = self.diff.to_json()
        for entry in doc["changed"]:
            a, b = self.seconds.get(entry["name"], (None, None))
            entry["seconds"] = {"a": a, "b": b}
            entry["where"] = self.places.get(entry["name"])
            entry["hunks"] = [h.to_json() for h in self.hunks.get(entry["name"], [])]
        metrics = {}
        for name in self.metric_names():
            a, b = self.a.metrics.get(name), self.b.metrics.get(name)
            metrics[name] = {"a": a, "b": b, "delta": None if a is None or b is None else b - a}
        return {
            "a": self.a.to_json(),
            "b": self.b.to_json(),
            **doc,
            "metrics": metrics,
            "wall_seconds": {"a": self.a.wall_seconds, "b": self.b.wall_seconds},
            "explored": {
                "a": [v.to_json(m) for v, m in self.a.explored],
                "b": [v.to_json(m) for v, m in self.b.explored],
            },
        }


def diff(repo: Repo, a: str = "HEAD", b: str | None = None) -> DiffReport:
    dag_a, side_a = _side(repo, a)
    dag_b, side_b = _side(repo, b)
    result = diff_dags(dag_a, dag_b)
    names = [c.name for c in result.changed]
    keys_a = [dag_a[n].key for n in names]
    keys_b = [dag_b[n].key for n in names]
    by_key, _ = repo.index.compute_seconds([*keys_a, *keys_b], [])
    seconds = {
        n: (by_key.get(ka), by_key.get(kb)) for n, ka, kb in zip(names, keys_a, keys_b, strict=True)
    }
    places, hunks = {}, {}
    for change in result.changed:
        node = dag_b[change.name]
        places[change.name] = operator_place(dag_b.root, node.spec.file, node.spec.line)
        found = [h for c in change.causes for h in cause_hunks(_label(c), dag_a.root, dag_b.root)]
        if found and change.direct:
            hunks[change.name] = _first_per_file(found)
    return DiffReport(side_a, side_b, result, seconds, places, hunks)


def _label(cause: str) -> str:
    """A cause without the ``#2`` that tells apart two parts of one label."""
    head, _, tail = cause.partition("#")
    return head if tail.isdigit() else cause


def _first_per_file(hunks: list[Hunk]) -> list[Hunk]:
    """One entry per distinct text: two causes in one definition share its hunks."""
    seen: set[str] = set()
    kept = []
    for h in hunks:
        if h.diff not in seen:
            seen.add(h.diff)
            kept.append(h)
    return kept


def _side(repo: Repo, rev: str | None) -> tuple[Dag, DiffSide]:
    worktree = is_worktree(rev)
    dag, version = compile_version(repo.layout, None if worktree else rev)
    fingerprint = version.fingerprint if worktree else None
    run: RunRecord | None = last_run(repo.index, version.commit, fingerprint)
    variants = explored_variants(repo.index, version.commit, fingerprint)
    values = repo.index.metrics_for([v.run_id for v in variants])
    side = DiffSide(
        revision=version.revision,
        commit=version.commit if not version.dirty else None,
        subject=version.subject if not version.dirty else None,
        run_id=run.run_id if run else None,
        metrics=repo.index.metrics(run.run_id) if run else {},
        wall_seconds=run.wall_seconds if run else None,
        explored=[(v, values.get(v.run_id, {})) for v in variants],
    )
    return dag, side
