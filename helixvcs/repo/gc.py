"""``helix gc``: drop the stored intermediates least likely to pay off, to fit a size.

Objects are dropped in order of expected benefit per byte, lowest first; an object that
a run in progress may load is never dropped. Before that, small loose objects are packed
and packs whose objects were mostly dropped are rewritten (``DiskObjectStore.repack``),
so the size counted is what the store takes on disk. A dropped object is only a cache miss: the
next run that needs it recomputes it. Scratch trees of commits (``.helix/trees/``) that
no run in progress uses are removed too; they are re-read from git when needed.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from helixvcs.plan.benefit import eviction_order, survival_probabilities
from helixvcs.repo.budget import reconcile, stored_values

if TYPE_CHECKING:
    from helixvcs.repo import Repo

TREE_GRACE_SECONDS = 3600


@dataclass(frozen=True)
class GcReport:
    target_bytes: int
    before_bytes: int
    after_bytes: int
    dropped: list[dict[str, Any]] = field(default_factory=list)
    trees_removed: int = 0
    dry_run: bool = False

    @property
    def freed_bytes(self) -> int:
        return self.before_bytes - self.after_bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "target_bytes": self.target_bytes,
            "before_bytes": self.before_bytes,
            "after_bytes": self.after_bytes,
            "freed_bytes": self.freed_bytes,
            "dropped": self.dropped,
            "trees_removed": self.trees_removed,
        }


def gc(repo: Repo, max_size: int | None = None, dry_run: bool = False) -> GcReport:
    index, store = repo.index, repo.store
    target = max_size if max_size is not None else repo.layout.read_config().max_store_bytes
    index.mark_interrupted()  # a dead run's keys are not protected, its objects not its own
    last = index.last_run(status="ok")
    current = {op.name: op.key for op in index.operators(last.run_id)} if last else {}
    history = index.key_history(last.workflow) if last else []
    freed = 0
    if not dry_run:  # small loose objects into packs; packs mostly dead rewritten
        repacked = store.repack()
        index.resize_objects(repacked.sizes)
        freed = repacked.freed
    keys = list(store.keys())
    totals = reconcile(store, index, keys)  # the running totals, checked against the store
    before = totals.used
    size, dropped = before, []
    fits = before <= target  # then nothing is dropped, and nothing need be valued
    candidates = (
        []
        if fits
        else stored_values(
            store,
            index,
            protected=index.running_keys(),
            probabilities=survival_probabilities(history),
            current_keys=current,
            keys=keys,
        )
    )
    for obj in eviction_order(candidates):
        if size <= target:
            break
        if not dry_run:
            store.delete(obj.key)
        size -= obj.bytes
        dropped.append(
            {"key": obj.key, "name": obj.name, "bytes": obj.bytes, "benefit": obj.benefit}
        )
    if not dry_run:
        index.forget_objects([str(d["key"]) for d in dropped])
        if dropped:  # packs whose objects were dropped: rewritten without them
            index.resize_objects(store.repack().sizes)
        if any(d["name"] == "?" for d in dropped):  # unrecorded objects dropped: count again
            reconcile(store, index)
    trees = 0 if dry_run else _remove_trees(repo)
    return GcReport(target, before + freed, size, dropped, trees, dry_run)


def _remove_trees(repo: Repo) -> int:
    root = repo.layout.trees
    if not root.is_dir():
        return 0
    busy = {r.commit for r in repo.index.runs(status="running")}
    recent = time.time() - TREE_GRACE_SECONDS  # a run may be compiling from it right now
    removed = 0
    for tree in root.iterdir():
        commit = tree.name.partition("-")[0]  # <sha>-<checkout settings>
        if commit not in busy and tree.stat().st_mtime < recent:
            shutil.rmtree(tree, ignore_errors=True)
            removed += 1
    return removed
