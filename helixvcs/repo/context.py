"""What several verbs share: compiling the working tree and reading history for the planner."""

from __future__ import annotations

from collections.abc import Mapping

from helixvcs.graph import Dag, compile_workflow, find_workflow_file
from helixvcs.hashing import StatCache
from helixvcs.index import Index
from helixvcs.plan import CostModel
from helixvcs.plan.costs import StoredObject
from helixvcs.plan.explain import PreviousOperator
from helixvcs.repo.layout import Layout
from helixvcs.store import ObjectStore


def compile_tree(layout: Layout) -> Dag:
    """Compile the working tree's workflow, refreshing the stat cache of source files."""
    cache = StatCache(layout.stat_cache if layout.exists() else None)
    dag = compile_workflow(layout.root, find_workflow_file(layout.root), cache)
    if layout.exists():
        cache.save()
    return dag


def cost_model(dag: Dag, index: Index, store: ObjectStore) -> CostModel:
    keys = [n.key for n in dag]
    by_key, by_name = index.compute_seconds(keys, [n.name for n in dag])
    known = index.objects(keys)
    stored: dict[str, StoredObject] = {}
    for key in keys:
        if not store.has(key):
            continue
        rec = known.get(key)
        if rec is not None:
            stored[key] = StoredObject(bytes=rec.bytes, load_seconds=rec.load_seconds)
        else:
            info = store.info(key)
            stored[key] = StoredObject(bytes=info.bytes if info else 0)
    return CostModel(by_key=by_key, by_name=by_name, stored=stored)


def previous_operators(index: Index, workflow: str) -> Mapping[str, PreviousOperator]:
    last = index.last_run(status="ok", workflow=workflow)
    if last is None:
        return {}
    return {op.name: PreviousOperator(op.key, op.parts) for op in index.operators(last.run_id)}
