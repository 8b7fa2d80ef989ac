"""What the history verbs share: a commit's recorded run, its operators, its metric.

A commit's metric comes from its newest successful run (of exactly that commit, not of an
uncommitted edit of it). ``measure`` runs a commit that has none, through ``Repo.run``
like ``helix run SHA``: the run is recorded, and it reuses every stored intermediate, so
it computes only what no earlier version computed. A commit whose workflow does not
compile or fails has no metric; history verbs skip it, as ``git bisect skip`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from helixvcs.errors import HelixError, UserInputError
from helixvcs.exec import Progress
from helixvcs.graph.diff import Operator, operators_of, operators_of_dag
from helixvcs.index import Index, RunRecord
from helixvcs.repo.context import compile_version
from helixvcs.repo.records import last_ok_run

if TYPE_CHECKING:
    from helixvcs.repo import Repo

WORKTREE = "WORKTREE"
SHORT = 7  # characters of a short sha, as git and `helix log` print them
_LAST_RUN = (
    'SELECT run_id FROM runs WHERE "commit" IS NOT DISTINCT FROM ? AND fingerprint {} '
    "AND status IN ({}) AND kind = 'commit' ORDER BY started DESC, run_id DESC LIMIT 1"
)


@dataclass(frozen=True)
class Measurement:
    """A commit's value of one metric, and how it was obtained."""

    commit: str
    value: float | None  # None: the commit has no such metric, or could not run
    run_id: str | None
    ran: bool  # this call ran the commit (it had no successful run before)
    computed: int  # operators that run computed (0 when nothing ran)
    error: str | None = None  # why there is no value

    @property
    def short(self) -> str:
        return self.commit[:SHORT]


def measure(repo: Repo, sha: str, metric: str, progress: Progress) -> Measurement:
    """The commit's value of ``metric`` from its last good run, running it if it has none."""
    from helixvcs.repo.run import RunOptions

    index = repo.index
    run_id = last_ok_run(index, sha)
    if run_id is not None:
        value = index.metrics(run_id).get(metric)
        error = None if value is not None else f"its run {run_id} has no metric {metric}"
        return Measurement(sha, value, run_id, False, 0, error)
    try:
        report = repo.run(RunOptions(rev=sha), progress)
    except HelixError as exc:  # does not compile, or no workflow at that commit
        return Measurement(sha, None, None, False, 0, str(exc))
    computed = report.count("compute")
    if report.failure is not None:
        return Measurement(sha, None, report.run_id, True, computed, report.failure.message)
    value = report.metrics.get(metric)
    error = None if value is not None else f"the workflow has no metric {metric}"
    return Measurement(sha, value, report.run_id, True, computed, error)


_NEWEST_RUNS = """
SELECT "commit", run_id FROM (
    SELECT "commit", run_id, row_number() OVER (
        PARTITION BY "commit" ORDER BY started DESC, run_id DESC) AS newest
    FROM runs WHERE "commit" = ANY(?::VARCHAR[]) AND fingerprint IS NULL
    AND status IN ({}) AND kind = 'commit')
WHERE newest = 1
"""


def recorded_measurements(index: Index, shas: Sequence[str], metric: str) -> dict[str, Measurement]:
    """``measure`` of every commit of ``shas`` that has a successful run, in two queries;
    the others are not in the result (``measure`` runs them)."""
    rows = index.select(_NEWEST_RUNS.format("'ok'"), [list(shas)])
    runs = {str(sha): str(run_id) for sha, run_id in rows}
    values = index.metrics_for(list(runs.values()))
    found = {}
    for sha, run_id in runs.items():
        value = values.get(run_id, {}).get(metric)
        error = None if value is not None else f"its run {run_id} has no metric {metric}"
        found[sha] = Measurement(sha, value, run_id, False, 0, error)
    return found


def recorded_operators_for(index: Index, shas: Sequence[str]) -> dict[str, list[Operator]]:
    """``recorded_operators`` of several commits in two queries, without their source
    text; commits that never ran are not in the result."""
    rows = index.select(_NEWEST_RUNS.format("'ok', 'failed', 'interrupted'"), [list(shas)])
    runs = {str(sha): str(run_id) for sha, run_id in rows}
    records = index.operators_for(list(runs.values()), with_source=False)
    return {sha: operators_of(records[run_id]) for sha, run_id in runs.items() if records[run_id]}


def last_run(index: Index, commit: str | None, fingerprint: str | None) -> RunRecord | None:
    """The newest successful run of a version: a commit, or an uncommitted edit of one."""
    match = "= ?" if fingerprint is not None else "IS NULL"
    params: list[object] = [commit, *([fingerprint] if fingerprint is not None else [])]
    rows = index.select(_LAST_RUN.format(match, "'ok'"), params)
    return index.run(str(rows[0][0])) if rows else None


def recorded_operators(index: Index, sha: str) -> list[Operator] | None:
    """The operators of commit ``sha`` as its newest run recorded them (ok or not)."""
    rows = index.select(_LAST_RUN.format("IS NULL", "'ok', 'failed', 'interrupted'"), [sha])
    if not rows:
        return None
    records = index.operators(str(rows[0][0]))
    return operators_of(records) if records else None


def operators_at(repo: Repo, sha: str) -> list[Operator] | None:
    """Commit ``sha``'s operators: recorded if it ever ran, else compiled; None if it
    does not compile."""
    recorded = recorded_operators(repo.index, sha)
    if recorded is not None:
        return recorded
    try:
        dag, _ = compile_version(repo.layout, sha)
    except UserInputError:
        return None
    return operators_of_dag(dag)


def is_worktree(rev: str | None) -> bool:
    return rev is None or rev == WORKTREE
