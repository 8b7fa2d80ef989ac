"""What a pruned or low-precision run reports: the metric change against a full run.

A pruned run (``--prune-zero-weight``) is compared with the run whose weights decided
what to prune: for an L1 model the optimum over the remaining columns is the same, so
its metrics should agree within the solver's tolerance, and a change above
``tolerance`` (default 1e-3) is a loud warning. A low-precision run (``--precision
float32``) is compared with the last full-precision run of the same version, on the
same rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from helixvcs.exec import ExecResult, Progress
from helixvcs.index import Index, RunRecord

if TYPE_CHECKING:
    from helixvcs.repo.zero_weight import ZeroWeight

DEFAULT_TOLERANCE = 1e-3

_FULL_PRECISION_RUN = """
SELECT run_id FROM runs WHERE status = 'ok' AND workflow = ? AND kind IN ('commit', 'sampled')
  AND precision IS NULL AND "commit" IS NOT DISTINCT FROM ?
  AND fingerprint IS NOT DISTINCT FROM ? AND sample IS NOT DISTINCT FROM ?
  AND seed IS NOT DISTINCT FROM ? AND run_id <> ?
ORDER BY started DESC, run_id DESC LIMIT 1
"""


@dataclass
class Comparison:
    """Metrics of a run against those of the run it is compared with."""

    run_id: str | None  # the run compared with; None: none recorded
    metrics: dict[str, dict[str, float | None]] = field(default_factory=dict)

    def largest(self) -> float:
        deltas = [abs(m["delta"]) for m in self.metrics.values() if m["delta"] is not None]
        return max(deltas, default=0.0)

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "metrics": self.metrics}


def compare(index: Index, other: str | None, metrics: Mapping[str, float]) -> Comparison:
    if other is None:
        return Comparison(None)
    before = index.metrics(other)
    found = {}
    for name in sorted(set(before) | set(metrics)):
        a, b = before.get(name), metrics.get(name)
        delta = None if a is None or b is None else b - a
        found[name] = {"before": a, "now": b, "delta": delta}
    return Comparison(other, found)


def full_precision_run(index: Index, record: RunRecord) -> str | None:
    """The last full-precision run of the version ``record`` ran, on the same rows."""
    rows = index.select(
        _FULL_PRECISION_RUN,
        [
            record.workflow,
            record.commit,
            record.fingerprint,
            record.sample,
            record.seed,
            record.run_id,
        ],
    )
    return str(rows[0][0]) if rows else None


def exceeded(comparison: Comparison, tolerance: float) -> list[str]:
    """Metrics that moved by more than ``tolerance``."""
    return [
        name
        for name, m in comparison.metrics.items()
        if m["delta"] is not None and abs(m["delta"]) > tolerance
    ]


def report(
    index: Index,
    record: RunRecord,
    zero: ZeroWeight | None,
    result: ExecResult,
    tolerance: float | None,
    progress: Progress,
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The reports of a pruned and of a low-precision run (``reduced``); warnings go to
    the run's warnings and the progress display."""
    pruning = precision = None
    if zero is not None:
        tolerance = DEFAULT_TOLERANCE if tolerance is None else tolerance
        against = compare(index, zero.weights_run, result.metrics)
        moved = exceeded(against, tolerance)
        pruning = {
            **zero.to_json(),
            "saved_seconds": round(zero.seconds, 6),
            "tolerance": tolerance,
            "metrics": against.metrics,
            "exceeded": moved,
        }
        for note in zero.notes:
            _warn(result, progress, f"pruning: {note}")
        if not zero.drop:
            _warn(result, progress, "pruning: no feature block has zero weight; nothing pruned")
        if moved:
            _warn(
                result,
                progress,
                f"PRUNED RUN DISAGREES with run {zero.weights_run}: {', '.join(moved)} moved by "
                f"{against.largest():.3g}, more than the tolerance {tolerance:g}; the pruned "
                "blocks carried signal, or the model did not converge: do not keep this prune",
            )
    if record.precision is not None:
        full = full_precision_run(index, record)
        precision = {
            "precision": record.precision,
            **compare(index, full, result.metrics).to_json(),
        }
        if full is None:
            _warn(
                result,
                progress,
                f"no full-precision run of {record.revision} to compare {record.precision} "
                "with; run it without --precision to see the metric change",
            )
    return pruning, precision


def _warn(result: ExecResult, progress: Progress, message: str) -> None:
    result.warnings.append(message)
    progress.warn(message)
