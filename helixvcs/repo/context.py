"""What several verbs share: compiling the working tree and reading history for the planner."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from helixvcs.errors import UserInputError
from helixvcs.graph import Dag, compile_cached, compile_workflow, find_workflow_file
from helixvcs.hashing import StatCache, digest
from helixvcs.index import Index, ObjectRecord
from helixvcs.plan import CostModel
from helixvcs.plan.costs import STORE_THROUGHPUT, StoredObject
from helixvcs.plan.explain import PreviousOperator
from helixvcs.repo.layout import Layout
from helixvcs.servers import private_folder, user_folder
from helixvcs.store import ObjectStore
from helixvcs.vcs import Version, export_tree, resolve, working_version

if TYPE_CHECKING:
    from helixvcs.exec.cutoff import Previous


def compile_tree(layout: Layout, reuse: bool = False) -> Dag:
    """Compile the working tree's workflow, refreshing the stat cache of source files."""
    return compile_version(layout, None, reuse=reuse)[0]


def compile_version(
    layout: Layout, rev: str | None, reuse: bool = False, cache: StatCache | None = None
) -> tuple[Dag, Version]:
    """Compile the working tree (``rev`` None) or commit ``rev`` read into a scratch tree.

    A commit's files come from git's object database, never from a checkout; data files
    the commit does not track are read from the working tree. ``reuse`` allows the working
    tree's last compile to be served without importing the workflow when nothing it
    depends on changed (``helixvcs.graph.cache``): keys and structure only, for callers
    that may not need to run anything. ``cache``: the stat cache to use (and save), when
    the caller wants to read what the compile saw in it afterwards.
    """
    if cache is None:
        cache = StatCache(layout.stat_cache if layout.exists() else None)
    if rev is None:
        return _compile_working_tree(layout, cache, reuse)
    version = resolve(layout.root, rev)
    assert version.commit is not None
    root = export_tree(layout.root, version.commit, layout.trees)
    try:
        workflow = find_workflow_file(root)
    except UserInputError as exc:
        raise UserInputError(f"revision {rev} ({version.revision}): {exc}") from None
    dag = compile_workflow(root, workflow, cache, data_root=layout.root)
    if layout.exists():
        cache.save()
    return dag, version


_TREE_ATTEMPTS = 3


def _packages_file() -> Path | None:
    """Where this interpreter's installed packages and their versions are kept between
    processes: in the user's private helixvcs folder, shared by every repository that
    runs with the same interpreter (a first command in a new clone finds them)."""
    folder = user_folder() / "packages"
    if not private_folder(folder):
        return None
    return folder / f"{digest('interpreter', sys.executable, sys.prefix)[:16]}.json"


def _compile_working_tree(layout: Layout, cache: StatCache, reuse: bool) -> tuple[Dag, Version]:
    """The working tree's workflow and the version it is, read as one: the version is read
    again after the compile, and a tree that changed in between (an editor saving, a
    commit, a checkout) is compiled again, so a run never records code under a version
    that does not hold it."""
    root = layout.root
    for _ in range(_TREE_ATTEMPTS):
        version = working_version(root, cache.file_digest)
        workflow = find_workflow_file(root)
        if layout.exists():
            dag = compile_cached(
                root, workflow, cache, layout.compiled, reuse=reuse, packages=_packages_file()
            )
        else:
            dag = compile_workflow(root, workflow, cache)
        if working_version(root, cache.file_digest) == version:
            if layout.exists():
                cache.save()
            return dag, version
    raise UserInputError(
        f"the working tree of {root} kept changing while helix read it "
        f"({_TREE_ATTEMPTS} tries); run again once your files are saved"
    )


def cost_model(
    dag: Dag,
    index: Index,
    store: ObjectStore,
    known: Mapping[str, ObjectRecord] | None = None,
) -> CostModel:
    """Costs for planning ``dag``; ``known`` is the index's records of its objects, when
    the caller has read them already."""
    keys = [n.key for n in dag]
    by_key, by_name = index.compute_seconds(keys, [n.name for n in dag])
    if known is None:
        known = index.objects(keys)
    stored: dict[str, StoredObject] = {}
    hot: set[str] = set()
    held = store.has_many(keys)
    for key in keys:
        if key not in held:
            continue
        rec = known.get(key)
        seconds = store.hot_load_seconds(key)  # held in memory: what that load really costs
        if seconds is not None:
            hot.add(key)
        elif rec is not None:
            seconds = rec.load_seconds
        info = None if rec is not None else store.info(key)
        nbytes = rec.bytes if rec is not None else info.bytes if info else 0
        stored[key] = StoredObject(bytes=nbytes, load_seconds=seconds)
    throughput = index.load_throughput() or STORE_THROUGHPUT
    return CostModel(
        by_key=by_key, by_name=by_name, stored=stored, throughput=throughput, hot=frozenset(hot)
    )


def previous_nodes(index: Index, store: ObjectStore, workflow: str) -> dict[str, Previous]:
    """The last run of ``workflow``, by operator name, for early cutoff
    (``helixvcs.exec.cutoff``): keys, identities and checksums of stored values."""
    from helixvcs.exec.cutoff import Previous  # only runs need it: status imports no exec

    last = index.last_run(status="ok", workflow=workflow)
    if last is None:
        return {}
    ops = index.operators(last.run_id)
    known = index.objects([op.key for op in ops])
    held = store.has_many(known)
    found = {}
    for op in ops:
        rec = known.get(op.key)
        checksum = rec.checksum if rec is not None and op.key in held else None
        found[op.name] = Previous(
            op.key, op.kind, op.code_hash, tuple(op.parents), dict(op.parts), checksum
        )
    return found


def previous_operators(index: Index, workflow: str) -> Mapping[str, PreviousOperator]:
    last = index.last_run(status="ok", workflow=workflow)
    if last is None:
        return {}
    return {op.name: PreviousOperator(op.key, op.parts) for op in index.operators(last.run_id)}


def as_previous_operators(previous: Mapping[str, Previous]) -> dict[str, PreviousOperator]:
    """``previous_nodes`` as the plan's reasons want them, without reading them again."""
    return {name: PreviousOperator(p.key, p.parts) for name, p in previous.items()}
