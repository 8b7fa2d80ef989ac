"""What earlier runs of one commit say: its last good run, and data that moved under it.

A commit pins its code and the files it tracks, but not data files it leaves to the
working tree (large, ignored, or not added yet): a run of an old commit reads those from
the working tree as they are *now*. The content hash of every such file is recorded with
each run (``data:<path>`` in the operator's parts), so a run of the same commit can say
which of them changed since that commit last ran, and why its metrics may differ.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from helixvcs.graph import Dag
from helixvcs.index import Index
from helixvcs.vcs import Version

_LAST_OK = (
    "SELECT run_id FROM runs WHERE status = 'ok' AND \"commit\" = ? AND fingerprint IS NULL "
    "AND kind = 'commit' ORDER BY started DESC, run_id DESC LIMIT 1"
)
_DATA = "data:"


def last_ok_run(index: Index, commit: str) -> str | None:
    """The newest successful run of exactly ``commit`` (not of an uncommitted edit of it)."""
    rows = index.select(_LAST_OK, [commit])
    return str(rows[0][0]) if rows else None


def untracked_data_warnings(index: Index, dag: Dag, version: Version, worktree: Path) -> list[str]:
    """One warning per working-tree data file of commit ``version`` that changed since the
    commit's last good run (edited, added to a glob, or gone)."""
    worktree = worktree.resolve()
    sources = [n for n in dag if n.input_root is not None and n.input_root == worktree]
    if version.commit is None or not sources:
        return []
    last = last_ok_run(index, version.commit)
    if last is None:
        return []
    before = {op.name: op.parts for op in index.operators(last)}
    warnings = []
    for node in sources:
        if node.name not in before:
            continue
        old, new = _data(before[node.name]), _data(node.parts)
        for rel in sorted(old.keys() | new.keys()):
            if old.get(rel) == new.get(rel):
                continue
            change = "is new" if rel not in old else "is gone" if rel not in new else "changed"
            warnings.append(
                f"{rel} is not tracked by commit {version.revision} and is read from the "
                f"working tree; it {change} since that commit's last run ({last}), "
                "so results may differ from it"
            )
    return warnings


def _data(parts: Mapping[str, str]) -> dict[str, str]:
    return {k.removeprefix(_DATA): v for k, v in parts.items() if k.startswith(_DATA)}


_BASELINES = (
    "SELECT \"commit\", run_id FROM runs WHERE status = 'ok' AND kind = 'commit' "
    'AND workflow = ? AND "commit" IS NOT NULL ORDER BY started DESC, run_id DESC'
)
_WORKTREE_RUN = (
    "SELECT run_id FROM runs WHERE status = 'ok' AND kind = 'commit' AND workflow = ? "
    'AND "commit" IS NULL ORDER BY started DESC, run_id DESC LIMIT 1'
)
ANCESTORS_SEARCHED = 1000  # first-parent ancestors of HEAD that status looks through


def baseline_run(
    index: Index, root: Path, workflow: str, head: str | None
) -> tuple[str, int] | None:
    """The run the working tree is compared with, and how many first-parent steps its
    commit is behind HEAD (0: a run of HEAD itself, clean or with uncommitted edits).

    It is HEAD's latest complete run -- status ``ok``, which a run records only after
    every value it kept is written and recorded -- else the latest of HEAD's nearest
    first-parent ancestor that has one; never a run of another branch or of a commit
    ahead of HEAD. Before the first commit, the latest run of the working tree."""
    from helixvcs.vcs import first_parents

    if head is None:
        rows = index.select(_WORKTREE_RUN, [workflow])
        return (str(rows[0][0]), 0) if rows else None
    latest: dict[str, str] = {}
    for commit, run_id in index.select(_BASELINES, [workflow]):
        latest.setdefault(str(commit), str(run_id))
    if not latest:
        return None
    if head in latest:
        return latest[head], 0
    for steps, sha in enumerate(first_parents(root, head, ANCESTORS_SEARCHED), start=1):
        if sha in latest:
            return latest[sha], steps
    return None
