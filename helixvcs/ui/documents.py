"""The documents the UI's API serves: the ``--json`` documents of the CLI, from the same code.

Each function calls the ``Repo`` verb the matching command calls and returns its
``to_json()``; where a page needs more than one command prints (the shape of both DAGs
of a comparison, the kind of change per iteration without drawing a picture), the extra
data sits beside the unchanged document, never inside it. docs/ui.md lists them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from helixvcs.graph.diff import Operator, operators_of_dag
from helixvcs.repo.context import compile_version
from helixvcs.repo.history.iterations import is_worktree, operators_at
from helixvcs.repo.history.metrics import check_metric
from helixvcs.repo.history.plot import plot_points
from helixvcs.repo.history.reports import recorded
from helixvcs.ui.version import change_of
from helixvcs.vcs import resolve

if TYPE_CHECKING:
    from helixvcs.repo import Repo


def log_document(repo: Repo) -> list[dict[str, Any]]:
    """``helix log --json``: every run, newest first."""
    return [entry.to_json() for entry in repo.log()]


def plot_document(repo: Repo, metric: str) -> dict[str, Any]:
    """``helix plot METRIC --json`` without ``output``: the browser draws the points.
    A name that no run recorded and the workflow does not declare is ``UnknownMetric``
    (404)."""
    check_metric(repo, metric)
    points, missing = plot_points(repo, metric, None)
    return {"metric": metric, "points": [p.to_json() for p in points], "missing": missing}


def compare_document(repo: Repo, a: str, b: str) -> dict[str, Any]:
    """``helix diff A B --json`` as ``diff``, and ``nodes``: both versions' operators on one
    DAG, each with its ``change`` (added, removed, changed, recomputed, renamed or null)."""
    diff = repo.diff(a, b).to_json()
    before, after = _operators(repo, a), _operators(repo, b)
    change = {name: "removed" for name in diff["removed"]} | change_of(diff)
    names = {op.name for op in after}
    shown = [*after, *(op for op in before if op.name not in names)]
    nodes = [
        {
            "name": op.name,
            "kind": op.kind,
            "parents": list(op.parents),
            "change": change.get(op.name),
        }
        for op in shown
    ]
    return {"diff": diff, "nodes": nodes}


def explain_document(repo: Repo, metric: str, a: str, b: str) -> dict[str, Any]:
    """``helix explain METRIC A B --json``."""
    return repo.explain(metric, a, b).to_json()


def reports_document(repo: Repo) -> list[dict[str, Any]]:
    """The recorded ``helix bisect --json`` and ``helix blame-metric --json`` documents,
    newest first, each in its envelope (verb, time, options)."""
    repo.log(limit=1)  # the same check as every verb: .helix/ must exist
    return [report.to_json() for report in recorded(repo)]


def _operators(repo: Repo, rev: str) -> list[Operator]:
    if is_worktree(rev):
        dag, _ = compile_version(repo.layout, None)
        return operators_of_dag(dag)
    commit = resolve(repo.root, rev).commit
    found = operators_at(repo, commit) if commit else None
    return found or []
