"""A Dask run whose workers use a remote as their store: ``helix run --remote NAME``.

On a cluster whose machines share no disk with the ``helix`` process (nor with one
another), the remote is where values live: workers load the values they need from it
and write the values the run keeps to it, so the ``helix`` process never relays a value
(it receives the small record of each task, and the values of the outputs it reports).
What else a worker needs comes with its tasks or through the remote: the repository's
Python modules, in the source snapshot (``graph.snapshot.with_tree``), and the sources'
data files, content-addressed under ``files/`` (``exec.shipping``).

So that the run is the same as a local one:

* the plan loads what the remote holds (priced at its measured throughput), never what
  only the local store holds, which the workers cannot reach;
* loads keep the remote's trust rules: from a remote that is not trusted, nothing that
  would unpickle Python code is loaded (it is recomputed); values a worker computed in
  this run reach the next operator in memory;
* the run is recorded in the local index as usual, and its records are published to the
  remote as ``helix push`` would (a clean commit's successful run), so ``helix pull
  --objects`` brings its values here, as for a teammate's run. The local store's
  objects and its budget are untouched: the remote holds the values.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from helixvcs.graph.snapshot import with_tree
from helixvcs.plan import LOAD, CostModel
from helixvcs.repo.layout import Layout
from helixvcs.repo.remotes import priced, push_records, read_remotes
from helixvcs.store.remote import Remote, RemoteError, RemoteSpec
from helixvcs.store.remote_store import RemoteObjectStore

if TYPE_CHECKING:
    from helixvcs.exec import ExecResult, Progress
    from helixvcs.graph import Dag
    from helixvcs.index import Index, RunRecord


@dataclass(frozen=True)
class ClusterStore:
    """The remote that a run's workers use as their store."""

    spec: RemoteSpec
    store: RemoteObjectStore

    @property
    def remote(self) -> Remote:
        return self.store.remote


def cluster_remote(layout: Layout, name: str) -> RemoteSpec:
    """The configured remote called ``name``; exit 2 when there is none."""
    return read_remotes(layout).get(name)


def open_cluster_store(spec: RemoteSpec) -> ClusterStore:
    """``spec``'s remote, reached and checked now: a remote that is unreachable, refuses
    the credentials or has no bucket is exit 2 before anything is recorded."""
    return ClusterStore(spec, RemoteObjectStore(Remote.open(spec)))


def shipped(dag: Dag) -> Dag:
    """``dag`` with every Python module of its repository in its source snapshot."""
    assert dag.sources is not None, "compiled without its source"
    return dataclasses.replace(dag, sources=with_tree(dag.sources))


def remote_model(layout: Layout, cluster: ClusterStore, dag: Dag, model: CostModel) -> CostModel:
    """``model`` with the remote's objects as the stored ones: what the workers can load."""
    keys = [n.key for n in dag]
    sizes = cluster.remote.object_sizes(keys)
    cluster.store.remember(sizes, [k for k in keys if k not in sizes])
    stored = priced(layout, cluster.spec, model, sizes)
    return dataclasses.replace(model, stored=stored, hot=frozenset(), in_memory=frozenset())


def publish(
    index: Index,
    cluster: ClusterStore,
    record: RunRecord,
    result: ExecResult,
    progress: Progress,
) -> None:
    """Send the run's records to the remote, as ``helix push`` would, when a push would
    send this run (a clean commit's successful run, not a sample's or a variant's)."""
    if record.kind != "commit" or record.fingerprint is not None or record.sample is not None:
        return
    objects: dict[str, dict[str, Any]] = {}
    for o in result.outcomes.values():
        if o.info is not None:  # kept by this run: written to the remote by a worker
            objects[o.key] = {
                "name": o.name,
                "bytes": o.info.bytes,
                "codec": o.info.codec,
                "checksum": o.info.checksum,
                "compute_seconds": o.seconds,
            }
        elif o.state == LOAD and o.status == "ok":  # on the remote already
            objects[o.key] = {"name": o.name, "bytes": o.bytes}
    try:
        push_records(index, cluster.remote, record.run_id, objects)
    except RemoteError as exc:
        progress.warn(f"{exc}; the run's records were not published (`helix push` sends them)")
