"""``helix plot M [RANGE] -o FILE``: metric M across the iterations of first-parent history.

Each commit of the range with a successful run that measured M is a point, annotated
with its short sha and subject; commits that never ran are left out (``helix run SHA``
or ``helix blame-metric`` runs them). A point's colour is the kind of change the commit
made against its first parent: the stage (``graph.stages``) of every operator it edited
-- pre-processing, learning or evaluation; ``mixed`` when the edits span stages;
``none`` when it edited no operator (documentation, comments, untracked data); ``first``
for a root commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from helixvcs.errors import UserInputError
from helixvcs.graph.diff import REMOVED, Operator, diff_operators
from helixvcs.graph.stages import change_kind, stages
from helixvcs.repo.history.drawing import IMAGE_FORMATS, ChartPoint, metric_chart
from helixvcs.repo.history.iterations import SHORT, operators_at, recorded_operators
from helixvcs.repo.records import last_ok_run
from helixvcs.vcs import CommitInfo, first_parent_history, resolve_range, shallow_note

if TYPE_CHECKING:
    from helixvcs.repo import Repo


@dataclass(frozen=True)
class PlotPoint:
    commit: str
    subject: str
    value: float
    kind: str  # pre-processing | learning | evaluation | mixed | none | first
    edited: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "commit": self.commit,
            "subject": self.subject,
            "value": self.value,
            "kind": self.kind,
            "edited": self.edited,
        }


@dataclass(frozen=True)
class PlotReport:
    metric: str
    output: Path
    points: list[PlotPoint]
    missing: list[str]  # commits of the range without a recorded value
    note: str | None = None  # where a shallow clone cut the history short

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "output": str(self.output),
            "points": [p.to_json() for p in self.points],
            "missing": self.missing,
            "note": self.note,
        }


def check_format(output: Path, formats: tuple[str, ...]) -> str:
    """The file format named by ``output``'s suffix, if it is one of ``formats``."""
    suffix = output.suffix.lstrip(".").lower()
    if suffix not in formats:
        wanted = ", ".join(f".{f}" for f in formats)
        raise UserInputError(f"cannot write {output}: give a file name ending in {wanted}")
    return suffix


def plot(repo: Repo, metric: str, spec: str | None, output: Path) -> PlotReport:
    fmt = check_format(output, IMAGE_FORMATS)
    span = resolve_range(repo.root, spec)
    history = first_parent_history(repo.root, span.end, span.start)
    points, missing = plot_points(repo, metric, spec, history)
    if not points:
        raise UserInputError(
            f"no commit in {spec or 'HEAD'} has a recorded run with a metric named "
            f"{metric!r}; run some (`helix run SHA`, or `helix blame-metric {metric}`)"
        )
    chart = [
        ChartPoint(i, p.value, p.kind, f"{p.commit[:SHORT]} {p.subject}")
        for i, p in enumerate(points)
    ]
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(metric_chart(chart, metric, fmt))
    return PlotReport(metric, output, points, missing, shallow_note(repo.root, history))


def plot_points(
    repo: Repo, metric: str, spec: str | None, history: list[CommitInfo] | None = None
) -> tuple[list[PlotPoint], list[str]]:
    """The points of the plot, oldest first, and the commits of the range without a value
    (``helix ui`` draws the same points in the browser); ``history``: the range's
    commits, when the caller has walked them already."""
    if history is None:
        span = resolve_range(repo.root, spec)
        history = first_parent_history(repo.root, span.end, span.start)
    points, missing = [], []
    for commit in history:
        run_id = last_ok_run(repo.index, commit.sha)
        value = repo.index.metrics(run_id).get(metric) if run_id else None
        if value is None:
            missing.append(commit.sha)
            continue
        kind, edited = _kind(repo, commit)
        points.append(PlotPoint(commit.sha, commit.subject, value, kind, edited))
    return points, missing


def _kind(repo: Repo, commit: CommitInfo) -> tuple[str, list[str]]:
    after = recorded_operators(repo.index, commit.sha)
    if commit.parent is None or after is None:
        return "first", []
    before = operators_at(repo, commit.parent)
    if before is None:
        return "first", []
    edits = diff_operators(before, after, with_source=False).edits
    stage_after, stage_before = _stages(after), _stages(before)
    found = [
        (stage_before if e.change == REMOVED else stage_after).get(e.name, "evaluation")
        for e in edits
    ]
    return change_kind(found), [e.name for e in edits]


def _stages(ops: list[Operator]) -> dict[str, str]:
    order = [op.name for op in ops]
    return stages({op.name: op.parents for op in ops}, {op.name: op.kind for op in ops}, order)
