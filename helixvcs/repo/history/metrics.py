"""Which metric names a repository knows: checked before a history verb runs anything.

A typo in ``helix blame-metric accuarcy`` must not run a single commit. The known names
are those of recorded runs (``accuracy``, ``scores.f1`` for a dict metric) and the
``@wf.metric`` operators of the workflows at hand (the working tree, the ends of the
range), whose dict keys are only known once they ran: ``scores.<anything>`` is accepted
for a metric operator ``scores``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

from helixvcs.errors import UserInputError
from helixvcs.repo.context import compile_tree
from helixvcs.repo.history.iterations import operators_at

if TYPE_CHECKING:
    from helixvcs.repo import Repo

_RECORDED = "SELECT DISTINCT name FROM metrics ORDER BY name"
_SHOWN = 20


class UnknownMetric(UserInputError):
    """A metric name neither the workflow nor any recorded run has."""


def recorded_metrics(repo: Repo) -> list[str]:
    return [str(row[0]) for row in repo.index.select(_RECORDED)]


def workflow_metrics(repo: Repo, commits: Iterable[str] = ()) -> set[str]:
    """Names of the metric operators of the working tree and of ``commits`` (those that
    compile; recorded operators when the commit ran)."""
    names: set[str] = set()
    with contextlib.suppress(UserInputError):  # if not, the commits and the index tell
        names |= {n.name for n in compile_tree(repo.layout, reuse=True) if n.kind == "metric"}
    for sha in commits:
        ops = operators_at(repo, sha)
        names |= {op.name for op in ops or () if op.kind == "metric"}
    return names


def check_metric(repo: Repo, metric: str, commits: Iterable[str] = ()) -> None:
    """Raise ``UnknownMetric`` (exit 2), listing the known names, unless ``metric`` is a
    recorded metric or one of a workflow's metric operators (or a key of one)."""
    recorded = recorded_metrics(repo)
    if metric in recorded:
        return
    operators = workflow_metrics(repo, commits)
    if metric in operators or any(metric.startswith(f"{op}.") for op in operators):
        return
    known = sorted(set(recorded) | operators)
    listed = ", ".join(known[:_SHOWN]) + (
        f", ... ({len(known)} in all)" if len(known) > _SHOWN else ""
    )
    raise UnknownMetric(
        f"no metric named {metric!r} in the workflow or in any recorded run; "
        + (f"known metrics: {listed}" if known else "the workflow declares no @wf.metric")
    )
