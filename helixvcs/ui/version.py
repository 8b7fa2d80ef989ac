"""One version as the Version page shows it: a recorded run, its DAG, and what changed.

A version is named by a run id (or a unique prefix of one) or by a revision (a sha,
branch, tag, ``HEAD~2``), which stands for the newest run of that commit. Its parent is
the commit's first parent, or, for a run of an uncommitted edit, the commit it was made
on; "changed since the parent" is the logical diff of their operator sets
(``graph.diff``, the core of ``helix diff --json``), when the parent has a recorded run:
reading a version never imports workflow code.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from helixvcs.errors import UserInputError
from helixvcs.graph.diff import diff_operators, operators_of
from helixvcs.graph.stages import stages
from helixvcs.index import NodeRecord, OperatorRecord, RunRecord
from helixvcs.repo.history.iterations import SHORT, recorded_operators
from helixvcs.repo.records import last_ok_run
from helixvcs.vcs import first_parent, resolve

if TYPE_CHECKING:
    from helixvcs.repo import Repo

_RUN_ID = re.compile(r"\d{8}T\d{0,6}(-[0-9a-f]{0,6})?")  # 20250101T120000-1a2b3c
_NEWEST_RUN = (
    'SELECT run_id FROM runs WHERE "commit" = ? AND fingerprint IS NULL '
    "ORDER BY sample IS NOT NULL, started DESC, run_id DESC LIMIT 1"
)


class UnknownVersion(UserInputError):
    """No recorded run answers to a version id (the pages show a 404)."""


def find_run(repo: Repo, ident: str) -> RunRecord:
    """The run a version id names: a run id (or prefix), else a revision's newest run."""
    index = repo.index
    if _RUN_ID.fullmatch(ident):
        run = index.run(ident)
        if run is not None:
            return run
    try:
        commit = resolve(repo.root, ident).commit
    except UserInputError:
        commit = None
    rows = index.select(_NEWEST_RUN, [commit]) if commit else []
    if rows:
        found = index.run(str(rows[0][0]))
        if found is not None:
            return found
    if commit:
        raise UnknownVersion(
            f"commit {commit[:SHORT]} has no recorded run; run it with `helix run {ident}`"
        )
    raise UnknownVersion(
        f"no run or revision {ident!r} in this repository; pick a version on the Iterations page"
    )


def version_document(repo: Repo, ident: str) -> dict[str, Any]:
    """``run``: the run's ``helix log --json`` entry; ``nodes``: each operator of the run with
    what it did (the fields of ``helix run --json``'s nodes) and its place in the DAG;
    ``parent`` and ``diff``: the version it is compared with, and the logical diff."""
    run = find_run(repo, ident)
    entry = next((e for e in repo.log() if e.run_id == run.run_id), None)
    if entry is None:  # gone since find_run looked
        raise UnknownVersion(f"run {run.run_id} is no longer in the index")
    index = repo.index
    operators = index.operators(run.run_id)
    done = {n.name: n for n in index.nodes(run.run_id)}
    parent_sha = _parent(repo, run)
    # recorded operators only: a GET never compiles (imports) a version's workflow code
    before = recorded_operators(repo.index, parent_sha) if parent_sha else None
    diff = diff_operators(before, operators_of(operators)) if before is not None else None
    change = change_of(diff.to_json()) if diff else {}
    stage = stages(
        {op.name: op.parents for op in operators},
        {op.name: op.kind for op in operators},
        [op.name for op in operators],
    )
    nodes = [
        _node(op, done.get(op.name), stage.get(op.name), change.get(op.name)) for op in operators
    ]
    return {
        "run": entry.to_json(),
        "workflow": run.workflow,
        "error": run.error,
        "nodes": nodes,
        "parent": _parent_json(repo, parent_sha),
        "diff": diff.to_json() if diff else None,
    }


def _node(
    op: OperatorRecord, node: NodeRecord | None, stage: str | None, change: str | None
) -> dict[str, Any]:
    """One operator: what it did in the run (None while the run is in progress) and where
    it sits in the DAG."""
    return {
        "name": op.name,
        "kind": op.kind,
        "key": op.key,
        "parents": list(op.parents),
        "stage": stage,
        "state": node.state if node else None,
        "status": node.status if node else None,
        "seconds": node.seconds if node else None,
        "load_seconds": node.load_seconds if node else None,
        "bytes": node.bytes if node else None,
        "materialized": node.materialized if node else None,
        "change": change,
        "file": op.file,
        "line": op.line,
        "source": op.source,
    }


def _parent(repo: Repo, run: RunRecord) -> str | None:
    if run.commit is None:
        return None
    if run.fingerprint is not None:  # an uncommitted edit: compare with what it edited
        return run.commit
    return first_parent(repo.root, run.commit)


def _parent_json(repo: Repo, sha: str | None) -> dict[str, Any] | None:
    if sha is None:
        return None
    run_id = last_ok_run(repo.index, sha)
    return {
        "revision": sha[:SHORT],
        "commit": sha,
        "run_id": run_id,
        "metrics": repo.index.metrics(run_id) if run_id else {},
    }


def change_of(diff: dict[str, Any]) -> dict[str, str]:
    """Operator -> how a diff document says it changed (removed operators aside)."""
    change = {name: "added" for name in diff["added"]}
    change.update({new: "renamed" for _, new in diff["renamed"]})
    for entry in diff["changed"]:
        change[entry["name"]] = "changed" if entry["direct"] else "recomputed"
    return change
