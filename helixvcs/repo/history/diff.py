"""``helix diff A B``: the logical diff of two versions, with their metrics and costs.

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

    def metric_names(self) -> list[str]:
        return sorted(set(self.a.metrics) | set(self.b.metrics))

    def to_json(self) -> dict[str, Any]:
        """The ``helix diff --json`` document (docs/history.md)."""
        doc = self.diff.to_json()
        for entry in doc["changed"]:
            a, b = self.seconds.get(entry["name"], (None, None))
            entry["seconds"] = {"a": a, "b": b}
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


def diff(repo: Repo, a: str, b: str | None = None) -> DiffReport:
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
    return DiffReport(side_a, side_b, result, seconds)


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
