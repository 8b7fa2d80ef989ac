"""``helix log``: runs, newest first, with metrics, wall time, counts and time saved.

Commits that the post-commit hook queued but whose run has not started yet come along as
``LogEntries.queued``; they have no run, so they are not entries (nor in ``--json``).

Every entry says what kind of run it is: ``commit`` (a version as it is), ``sampled``
(its metrics are approximate, with confidence intervals where the metric gives per-row
scores) or ``explored`` (a variant of a base run, with the constants it set). For a
sampled run of a commit whose first parent was run both ways too (full, and sampled
with the same fraction and seed), ``agreement`` says whether the sampled change of each
metric had the sign of the full change: how well quick runs predict the trend.

``limit`` counts iterations: runs of a version (``commit`` and ``sampled``). The
variants explored from those runs come along, uncounted, each an entry of kind
``explored`` whose base run lists it (``LogEntry.variants``). With ``variants=True``,
``limit`` counts every run, explored ones included.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from helixvcs.repo.feedback.explore import variant_of
from helixvcs.vcs import first_parent

if TYPE_CHECKING:
    from helixvcs.index import Index, RunRecord
    from helixvcs.repo import Repo
    from helixvcs.repo.feedback.hooks import QueuedCommit

T = TypeVar("T")
_VERSION_RUN = """
SELECT run_id FROM runs WHERE status = 'ok' AND "commit" = ? AND fingerprint IS NULL
  AND kind = ? AND sample IS NOT DISTINCT FROM ? AND seed IS NOT DISTINCT FROM ?
ORDER BY started DESC, run_id DESC LIMIT 1
"""


@dataclass(frozen=True)
class LogEntry:
    run_id: str
    revision: str
    commit: str | None
    subject: str | None
    status: str
    started: str
    wall_seconds: float | None
    saved_seconds: float | None
    metrics: dict[str, float]
    counts: dict[str, int]
    sample: float | None
    kind: str = "commit"
    seed: int | None = None
    ci: dict[str, tuple[float, float]] = field(default_factory=dict)
    base_run: str | None = None
    base_commit: str | None = None
    variant: dict[str, dict[str, Any]] | None = None
    agreement: dict[str, Agreement] = field(default_factory=dict)
    variants: list[str] = field(default_factory=list)  # runs explored from this one

    @property
    def approximate(self) -> bool:
        return self.sample is not None

    def to_json(self) -> dict[str, Any]:
        return {
            **self._base_json(),
            "kind": self.kind,
            "seed": self.seed,
            "approximate": self.approximate,
            "ci": {name: list(ci) for name, ci in sorted(self.ci.items())},
            "base_run": self.base_run,
            "base_commit": self.base_commit,
            "variant": self.variant,
            "agreement": {name: a.to_json() for name, a in sorted(self.agreement.items())},
            "variants": self.variants,
        }

    def _base_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "revision": self.revision,
            "commit": self.commit,
            "subject": self.subject,
            "status": self.status,
            "started": self.started,
            "wall_seconds": self.wall_seconds,
            "saved_seconds": self.saved_seconds,
            "sample": self.sample,
            "metrics": self.metrics,
            "counts": self.counts,
        }


@dataclass(frozen=True)
class Agreement:
    """A metric's change from the parent commit, sampled and full, and whether the
    sampled change pointed the same way."""

    sampled: float
    full: float

    @property
    def agree(self) -> bool:
        return _sign(self.sampled) == _sign(self.full)

    def to_json(self) -> dict[str, Any]:
        return {"sampled": self.sampled, "full": self.full, "agree": self.agree}


def _sign(x: float) -> int:
    return 0 if abs(x) < 1e-12 else (1 if x > 0 else -1)


class LogEntries(list[LogEntry]):
    """Runs, newest first, and the commits still waiting for a background run."""

    def __init__(self, entries: Iterable[LogEntry] = (), queued: Iterable[QueuedCommit] = ()):
        super().__init__(entries)
        self.queued = list(queued)

    def to_json(self) -> list[dict[str, Any]]:
        """The ``helix log --json`` document (docs/json.md)."""
        return [entry.to_json() for entry in self]


def log(
    repo: Repo, *, limit: int | None = None, metric: str | None = None, variants: bool = False
) -> LogEntries:
    from helixvcs.repo.feedback.hooks import waiting

    index = repo.index
    index.mark_interrupted()
    runs = index.runs(limit=limit if variants else None)
    if not variants:
        iterations = [r for r in runs if r.kind != "explored"][:limit]
        shown = {r.run_id for r in iterations}
        shown |= {r.run_id for r in runs if r.kind == "explored" and r.base_run in shown}
        runs = [r for r in runs if r.run_id in shown]
    ids = [r.run_id for r in runs]
    metrics, counts = index.metrics_for(ids), index.counts_for(ids)
    intervals = index.intervals_for(ids)
    entries = LogEntries(queued=waiting(repo))
    for r in runs:
        values = _only(metrics.get(r.run_id, {}), metric)
        entries.append(
            LogEntry(
                run_id=r.run_id,
                revision=r.revision,
                commit=r.commit if r.fingerprint is None else None,  # as `run --json`
                subject=r.subject,
                status=r.status,
                started=r.started.isoformat(timespec="seconds"),
                wall_seconds=r.wall_seconds,
                saved_seconds=r.saved_seconds,
                metrics=values,
                counts={
                    s: counts.get(r.run_id, {}).get(s, 0) for s in ("compute", "load", "prune")
                },
                sample=r.sample,
                kind=r.kind,
                seed=r.seed,
                ci=_only(intervals.get(r.run_id, {}), metric),
                base_run=r.base_run,
                base_commit=r.commit if r.kind == "explored" else None,
                variant=variant_of(r.variant) if r.kind == "explored" else None,
                agreement=_agreement(repo, r, values) if r.kind == "sampled" else {},
            )
        )
    by_id = {e.run_id: e for e in entries}
    for e in entries:  # newest first, as every list of runs
        if e.kind == "explored" and e.base_run in by_id:
            by_id[e.base_run].variants.append(e.run_id)
    return entries


def _only(values: dict[str, T], metric: str | None) -> dict[str, T]:
    if metric is None:
        return values
    return {k: v for k, v in values.items() if k == metric or k.startswith(metric + ".")}


def _agreement(repo: Repo, run: RunRecord, values: dict[str, float]) -> dict[str, Agreement]:
    """Per metric: the sampled and full changes from the first parent, when the commit
    and its parent both have a full run and a sampled run with the same sample."""
    if run.status != "ok" or run.commit is None or run.fingerprint is not None:
        return {}
    parent = first_parent(repo.root, run.commit)
    if parent is None:
        return {}
    index = repo.index
    found = [
        _newest(index, commit, kind, run)
        for commit, kind in ((parent, "sampled"), (run.commit, "commit"), (parent, "commit"))
    ]
    if any(f is None for f in found):
        return {}
    sampled_parent, full, full_parent = (index.metrics(str(f)) for f in found)
    return {
        name: Agreement(value - sampled_parent[name], full[name] - full_parent[name])
        for name, value in values.items()
        if name in sampled_parent and name in full and name in full_parent
    }


def _newest(index: Index, commit: str, kind: str, like: RunRecord) -> str | None:
    sample = (like.sample, like.seed) if kind == "sampled" else (None, None)
    rows = index.select(_VERSION_RUN, [commit, kind, *sample])
    return str(rows[0][0]) if rows else None
