"""``helix log``: runs, newest first, with metrics, wall time, counts and time saved.

Commits that the post-commit hook queued but whose run has not started yet come along as
``LogEntries.queued``; they have no run, so they are not entries (nor in ``--json``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from helixvcs.repo import Repo
    from helixvcs.repo.hooks import QueuedCommit


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

    def to_json(self) -> dict[str, Any]:
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


class LogEntries(list[LogEntry]):
    """Runs, newest first, and the commits still waiting for a background run."""

    def __init__(self, entries: Iterable[LogEntry] = (), queued: Iterable[QueuedCommit] = ()):
        super().__init__(entries)
        self.queued = list(queued)


def log(repo: Repo, *, limit: int | None = None, metric: str | None = None) -> LogEntries:
    from helixvcs.repo.hooks import waiting

    index = repo.index
    index.mark_interrupted()
    runs = index.runs(limit=limit)
    ids = [r.run_id for r in runs]
    metrics, counts = index.metrics_for(ids), index.counts_for(ids)
    entries = LogEntries(queued=waiting(repo))
    for r in runs:
        values = metrics.get(r.run_id, {})
        if metric is not None:
            values = {k: v for k, v in values.items() if k == metric or k.startswith(metric + ".")}
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
            )
        )
    return entries
