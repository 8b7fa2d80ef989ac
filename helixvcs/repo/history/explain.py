"""``helix explain M A B``: a path through recorded versions that accounts for M's gap.

Every version with a successful run that measured M is a point: each commit, each
uncommitted edit that ran (a *variant*: HEAD plus a fingerprint of the changes), and each
variant ``helix explore`` ran (labelled ``<short>[model.C=0.1]``). Sampled runs are not
points: their metrics are estimates. The
newest successful run stands for its version. ``graph.versions.explain_path`` picks the
path from A to B (shortest logical distance, then through the most versions, then the
most monotone in M); each step lists its edits and the change of M.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from helixvcs.errors import UserInputError
from helixvcs.graph.diff import DagDiff, diff_operators, operators_of
from helixvcs.graph.versions import OperatorPool, VersionPoint, explain_path
from helixvcs.repo.history.iterations import SHORT, is_worktree
from helixvcs.vcs import first_parent_history, resolve, resolve_range, working_version

if TYPE_CHECKING:
    from helixvcs.repo import Repo

_VERSIONS = """
SELECT run_id, "commit", fingerprint, subject, kind, revision FROM (
    SELECT *, row_number() OVER (
        PARTITION BY "commit", fingerprint ORDER BY started DESC, run_id DESC) AS newest
    FROM runs WHERE status = 'ok' AND workflow = ? AND sample IS NULL)
WHERE newest = 1 ORDER BY started, run_id
"""
_WORKFLOW = (
    "SELECT workflow FROM runs WHERE status = 'ok' AND \"commit\" IS NOT DISTINCT FROM ? "
    "AND fingerprint IS NOT DISTINCT FROM ? AND kind = 'commit' ORDER BY started DESC LIMIT 1"
)


@dataclass(frozen=True)
class VersionInfo:
    id: str  # the commit sha, or "<short>+dirty:<fingerprint>" for a variant
    commit: str | None
    fingerprint: str | None
    subject: str | None
    run_id: str
    value: float
    kind: str = "commit"  # or "explored": a variant exploration derived from a version

    @property
    def label(self) -> str:
        if self.fingerprint is None and self.commit is not None:
            return self.commit[:SHORT]
        return self.id

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.label,
            "commit": self.commit if self.fingerprint is None else None,
            "subject": self.subject,
            "run_id": self.run_id,
            "metric": self.value,
            "kind": self.kind,
        }


@dataclass(frozen=True)
class Step:
    a: VersionInfo
    b: VersionInfo
    diff: DagDiff
    first: VersionInfo  # the first version (in history order) with b's operators
    backward: bool = False  # b is older than a in HEAD's history: the step undoes a's edits

    @property
    def delta(self) -> float:
        return self.b.value - self.a.value

    @property
    def subject(self) -> str | None:
        """The subject of the commit whose edits the step makes: b's going forward, a's
        (whose edits it undoes) going back in history."""
        return self.a.subject if self.backward else self.b.subject

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.a.label,
            "to": self.b.label,
            "subject": self.subject,
            "backward": self.backward,
            "first_with_these_operators": self.first.label,
            "distance": self.diff.distance,
            "delta": self.delta,
            "a": self.a.value,
            "b": self.b.value,
            "changes": self.diff.to_json(),
        }


@dataclass(frozen=True)
class ExplainReport:
    metric: str
    a: VersionInfo
    b: VersionInfo
    steps: list[Step]
    versions: int  # recorded versions considered

    @property
    def distance(self) -> int:
        return sum(s.diff.distance for s in self.steps)

    def to_json(self) -> dict[str, Any]:
        """The ``helix explain --json`` document (docs/history.md)."""
        return {
            "metric": self.metric,
            "a": self.a.to_json(),
            "b": self.b.to_json(),
            "gap": self.b.value - self.a.value,
            "distance": self.distance,
            "versions": self.versions,
            "path": [self.a.label, *(s.b.label for s in self.steps)],
            "steps": [s.to_json() for s in self.steps],
        }


def explain(repo: Repo, metric: str, a: str, b: str) -> ExplainReport:
    index = repo.index
    start, end = _version_key(repo, a), _version_key(repo, b)
    workflow = _workflow(repo, a, start)  # the workflow A ran; B's must be the same one
    position = _history_positions(repo)
    rows = _in_history_order(position, index.select(_VERSIONS, [workflow]))
    values = index.metrics_for([str(r[0]) for r in rows])
    infos: dict[str, VersionInfo] = {}
    for run_id, commit, fingerprint, subject, kind, revision in rows:
        value = values.get(run_id, {}).get(metric)
        if value is None:
            continue
        vid = revision if kind == "explored" else _id(commit, fingerprint)
        infos[vid] = VersionInfo(vid, commit, fingerprint, subject, run_id, value, kind)
    for rev, key in ((a, start), (b, end)):
        if _id(*key) not in infos:
            raise UserInputError(
                f"{rev} has no successful run with a metric named {metric!r}; "
                f"run it first ({_run_hint(rev)}) or check the name with `helix log`"
            )
    distinct, listing = index.operator_sets([v.run_id for v in infos.values()])
    shared = operators_of(distinct)  # one object per distinct operator, shared by versions
    pool = OperatorPool(shared)
    points = [
        VersionPoint(v.id, tuple(map(shared.__getitem__, listing[v.run_id])), v.value, pool)
        for v in infos.values()
    ]
    by_id = {p.id: p for p in points}
    first: dict[frozenset[tuple[str, str]], str] = {}
    for p in points:  # in history order
        first.setdefault(p.identity, p.id)
    path = explain_path(points, _id(*start), _id(*end))
    full = index.operators_for([infos[v].run_id for v in path])  # with source, for the diffs
    steps = [
        Step(
            infos[u],
            infos[v],
            diff_operators(
                operators_of(full[infos[u].run_id]), operators_of(full[infos[v].run_id])
            ),
            infos[first[by_id[v].identity]],
            _older(position, infos[v], infos[u]),
        )
        for u, v in pairwise(path)
    ]
    return ExplainReport(metric, infos[path[0]], infos[path[-1]], steps, len(points))


def _history_positions(repo: Repo) -> dict[str, int]:
    """Each commit of HEAD's first-parent history by its position, the oldest 0."""
    try:
        chain = first_parent_history(repo.root, resolve_range(repo.root, None).end)
    except UserInputError:  # no commit yet
        chain = []
    return {c.sha: i for i, c in enumerate(chain)}


def _older(position: dict[str, int], b: VersionInfo, a: VersionInfo) -> bool:
    """Whether commit ``b`` comes before commit ``a`` in HEAD's history."""
    pb, pa = position.get(b.commit or ""), position.get(a.commit or "")
    return pb is not None and pa is not None and pb < pa


def _in_history_order(position: dict[str, int], rows: list[tuple]) -> list[tuple]:
    """Versions in HEAD's first-parent order (others after, by run time), so that of
    versions with the same operators the first commit that had them stands for them."""
    ranked = sorted(
        enumerate(rows),
        key=lambda item: (position.get(item[1][1], len(position)), item[1][2] is not None, item[0]),
    )
    return [row for _, row in ranked]


def _version_key(repo: Repo, rev: str) -> tuple[str | None, str | None]:
    """(commit, fingerprint) of a revision, or of the working tree as it is now."""
    if is_worktree(rev):
        version = working_version(repo.root)
        return version.commit, version.fingerprint
    return resolve(repo.root, rev).commit, None


def _id(commit: str | None, fingerprint: str | None) -> str:
    if fingerprint is None and commit is not None:
        return commit
    base = (commit or "worktree")[:SHORT]
    return f"{base}+dirty:{(fingerprint or '')[:8]}"


def _run_hint(rev: str) -> str:
    return "`helix run`" if is_worktree(rev) else f"`helix run {rev}`"


def _workflow(repo: Repo, rev: str, key: tuple[str | None, str | None]) -> str:
    rows = repo.index.select(_WORKFLOW, list(key))
    if not rows:
        raise UserInputError(f"{rev} has no successful run; run it first ({_run_hint(rev)})")
    return str(rows[0][0])
