"""One operator's work, wherever it runs: ``run_task(task, *parent_results)``.

The driver turns each planned node into a ``Task``: a small, picklable description (the
node, what to do with it, and what deciding to keep its value needs). ``run_task`` does
the work in whichever process the executor chose: a load reads the store (a corrupt or
missing object is reported, not raised); a compute calls the operator with its parents'
values, times it, and writes the value to the store if the materialization rule keeps
it; a save writes a value that finished before a failure. It returns a ``TaskResult``:
the value, which stays where it was computed, and a small ``TaskMeta`` that goes back to
the driver (timings, sizes, the object written, metric values, the user's traceback).

Where the operator's function comes from: in the driver's process, the compiled
workflow registered by ``in_process``; in any other process, the source snapshot taken
at compile time (``helixvcs.graph.snapshot``), never the repository's files.
Where the store is: in the driver's process, the driver's own; in any other, the disk
store at ``store_root`` (a shared file system), or the remote ``remote`` (workers that
share no disk with the driver; a source then reads its files as ``shipping`` fetched
them).
"""

from __future__ import annotations

import math
import os
import pickle
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from helixvcs.exec import features, precision, sampling, scores, shipping
from helixvcs.exec.guard import FREEZE_CHECKS, fingerprint, frozen_copy, immutable
from helixvcs.graph import Node
from helixvcs.graph.snapshot import SourceSnapshot, import_snapshot, snapshot_functions
from helixvcs.hashing import SampleSpec
from helixvcs.plan import (
    COMPUTE,
    LOAD,
    MaterializePolicy,
    estimate_load_seconds,
    should_materialize,
)
from helixvcs.plan.costs import STORE_THROUGHPUT
from helixvcs.store import (
    CorruptObject,
    DiskObjectStore,
    MissingObject,
    ObjectInfo,
    ObjectStore,
    StoreUnavailable,
    UnstorableValue,
    decode,
    estimate_size,
)
from helixvcs.store.objectfile import Encoded, Packed, encode_value
from helixvcs.store.remote import RemoteSpec
from helixvcs.store.writer import BackgroundWriter

SAVE = "save"  # keep a value that finished before the run failed
_PACKAGE_DIR = str(Path(__file__).resolve().parents[1])


@dataclass(frozen=True)
class OperatorFailure:
    name: str
    message: str
    traceback: str


@dataclass(frozen=True)
class Keep:
    """What the materialization rule needs, known when the task is submitted."""

    policy: MaterializePolicy
    probability: float  # P(the key survives the next iteration)
    upstream_seconds: float  # ancestors that would be recomputed without this value
    is_output: bool
    room: int | None = None  # bytes the driver reserved for it; None: no limit
    load_throughput: float = STORE_THROUGHPUT  # decoded bytes per second a load gives


@dataclass(frozen=True)
class Task:
    name: str
    key: str
    kind: str
    state: str  # compute | load | save
    run: str  # the run's id: names the task for a scheduler, finds the in-process context
    store_root: str | None  # the store, for processes other than the driver's
    code: SourceSnapshot | None  # the workflow's source, for processes other than the driver's
    params: tuple[str, ...] = ()  # the parameter each parent result is passed as
    source: tuple[str, str | list[str]] | None = None  # a source's (parameter, path or paths)
    keep: Keep | None = None  # None: never write the value (stored already, or policy none)
    checksum: str | None = None  # a load: the checksum the index recorded for the object
    watch: tuple[str, ...] = ()  # parameters whose values other operators receive too
    checked_by: int = 0  # how many children will fingerprint this task's value (``watch``)
    sample: SampleSpec | None = None  # a source of a sampled run: the rows to keep
    constants: Mapping[str, Any] = field(default_factory=dict)  # an explored variant's
    per_row: bool = False  # a metric returning per-row scores (``@wf.metric(per_row=True)``)
    previous: tuple[str, str] | None = None  # early cutoff: (previous key, its checksum)
    blocks: tuple[str, ...] = ()  # a feature assembly: its blocks, in parameter order
    dropped: tuple[str, ...] = ()  # a pruned run's assembly: the blocks left out
    precision: str | None = None  # a low-precision run: cast float64 values to this
    estimator: bool = False  # a child of a feature assembly: read its weights
    inputs_seen: tuple[tuple[str, int, int, int], ...] = ()
    """A source: (path, size, mtime_ns, inode) of each file as its key's digest saw it."""
    remote: RemoteSpec | None = None  # the store, when it is a remote (``shipping``)
    data: tuple[str, tuple[str, ...]] | None = None
    """A source: the folder its path is under and the files it reads, relative to it."""
    shipped: tuple[tuple[str, str], ...] = ()
    """A source whose files went through the remote: (path under ``data``'s folder,
    digest) of each; the worker reads its own copies (``shipping.fetch``)."""


@dataclass(frozen=True)
class TaskMeta:
    """What the driver learns about a finished task; small, whatever the value's size."""

    name: str
    state: str
    seconds: float = 0.0  # computing or loading (or writing, for a save)
    bytes: int | None = None  # on disk: the object loaded or written
    size: int | None = None  # estimated size of a computed value, when it could be kept
    recompute: float | None = None  # its seconds plus its upstream's, when it could be kept
    info: ObjectInfo | None = None  # the object this task wrote
    metrics: Mapping[str, float] = field(default_factory=dict)
    failure: OperatorFailure | None = None
    lost: str | None = None  # a load found no valid object: what to tell the user
    warning: str | None = None
    wants_room: bool = False  # worth keeping, but larger than the room reserved for it
    cutoff: bool = False  # equal to the previous value: stored under the new key by a link
    writing: bool = False  # kept: being written by the run's ``BackgroundWriter``
    columns: features.Columns | None = None  # a feature assembly: the columns of each block
    weights: features.Weights | None = None  # an estimator's non-zero weights


class TaskResult:
    """A task's value and meta. Pickled, the value travels as bytes that are unpickled
    only by ``value``, after ``run_task`` imported the workflow's snapshot: a value of a
    class that the workflow defines can only be rebuilt once that module exists."""

    __slots__ = ("_fixed", "_frozen", "_seal", "_value", "meta")

    def __init__(self, value: Any, meta: TaskMeta) -> None:
        self._value, self.meta = value, meta
        self._frozen: tuple[bytes, list[Any]] | None = None
        # (value, its fingerprint) as the last child that checked it left it: the next
        # child's "before" (see ``_fingerprint_before``); never pickled with the result
        self._seal: tuple[Any, bytes | None] | None = None
        # (value, whether it is ``guard.immutable``): asked once per value, not per child
        self._fixed: tuple[Any, bool] | None = None

    @property
    def value(self) -> Any:
        if self._frozen is not None:
            data, buffers = self._frozen
            self._value, self._frozen = pickle.loads(data, buffers=buffers), None
        return self._value

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        data, buffers = self._frozen if self._frozen is not None else _freeze(self._value)
        if isinstance(protocol, int) and protocol >= 5:  # buffers travel out of band
            return _thaw, (self.meta, data, [pickle.PickleBuffer(b) for b in buffers])
        return _thaw, (self.meta, data, [bytearray(memoryview(b)) for b in buffers])


def _freeze(value: Any) -> tuple[bytes, list[Any]]:
    """Pickle ``value``; large buffers (arrays, Arrow data) stay out of band, uncopied."""
    buffers: list[Any] = []
    try:
        data = pickle.dumps(value, protocol=5, buffer_callback=buffers.append)
    except (pickle.PicklingError, TypeError, AttributeError):
        import cloudpickle  # what a scheduler falls back to as well: lambdas, local classes

        buffers.clear()
        data = cloudpickle.dumps(value, protocol=5, buffer_callback=buffers.append)
    return data, buffers


def _thaw(meta: TaskMeta, data: bytes, buffers: list[Any]) -> TaskResult:
    result = TaskResult(None, meta)
    result._frozen = (data, buffers)
    return result


def task_meta(result: TaskResult) -> TaskMeta:
    return result.meta


def variant_fields(node: Node, state: str) -> dict[str, Any]:
    """What a task of ``node`` needs beyond its name and key: the rows a sampled source
    keeps, the constants an explored variant sets, whether a metric gives per-row scores."""
    return {
        "sample": node.sample if state == COMPUTE else None,
        "constants": dict(node.overrides) if state == COMPUTE else {},
        "per_row": bool(node.spec.options.get("per_row")),
        "blocks": node.blocks if node.kind == "features" and state == COMPUTE else (),
        "dropped": node.dropped if state == COMPUTE else (),
        "precision": node.precision if state == COMPUTE else None,
    }


# -- where the work happens ----------------------------------------------------------------


@dataclass(frozen=True)
class _InProcess:
    functions: Mapping[str, Callable[..., Any]]
    store: ObjectStore
    writer: BackgroundWriter | None = None


_contexts: dict[str, _InProcess] = {}
_stores: dict[str, ObjectStore] = {}
_stores_lock = threading.Lock()


@contextmanager
def in_process(
    run: str,
    functions: Mapping[str, Callable[..., Any]],
    store: ObjectStore,
    writer: BackgroundWriter | None = None,
) -> Iterator[None]:
    """While the run goes, tasks of ``run`` in this process use the driver's own objects
    (and hand the values they keep to ``writer``, when there is one)."""
    _contexts[run] = _InProcess(functions, store, writer)
    try:
        yield
    finally:
        _contexts.pop(run, None)


def run_task(task: Task, *parents: TaskResult) -> TaskResult:
    """Do ``task``; user errors and lost objects are reported in the result's meta."""
    context = _contexts.get(task.run)
    if context is not None:
        store = context.store
    elif task.remote is not None:  # workers that share no disk with the driver
        store = shipping.remote_store(task.remote)
    else:
        store = _disk_store(task.store_root)
    if context is None and task.code is None:
        raise RuntimeError(f"task {task.name} has neither an in-process workflow nor a snapshot")
    try:
        function = _function(task, context)
    except Exception as exc:  # the workflow does not import here: the user's error
        return TaskResult(None, TaskMeta(task.name, task.state, failure=_import_failure(task, exc)))
    if task.state == LOAD:
        return _load(task, store)
    if task.state == SAVE:
        return _save(task, store, parents[0].value)
    assert function is not None
    return _compute(task, store, function, parents, context.writer if context else None)


def _function(task: Task, context: _InProcess | None) -> Callable[..., Any] | None:
    if context is not None:
        return context.functions.get(task.name)
    assert task.code is not None
    if task.state != COMPUTE:
        import_snapshot(task.code)  # stored values may be of the workflow's own classes
        return None
    return snapshot_functions(task.code)[task.name]


def _disk_store(root: str | None) -> ObjectStore:
    if root is None:
        raise RuntimeError("no store root for a task outside the driver's process")
    with _stores_lock:
        if root not in _stores:
            if not os.path.isdir(root):  # never create an empty store where none is shared
                raise StoreUnavailable(Path(root), FileNotFoundError(2, "no such folder", root))
            _stores[root] = DiskObjectStore(root)
        return _stores[root]


def _load(task: Task, store: ObjectStore) -> TaskResult:
    start = time.perf_counter()
    try:
        value = store.get(task.key, checksum=task.checksum)
    except (CorruptObject, MissingObject) as exc:
        lost = (
            str(exc)
            if isinstance(exc, CorruptObject)
            else f"the stored value of {task.name} vanished; recomputing it"
        )
        return TaskResult(None, TaskMeta(task.name, LOAD, time.perf_counter() - start, lost=lost))
    seconds = time.perf_counter() - start
    info = store.info(task.key)
    meta = TaskMeta(task.name, LOAD, seconds, bytes=info.bytes if info else None)
    if task.estimator:
        meta = replace(meta, weights=features.weights(value))
    return TaskResult(value, _with_metrics(task, value, meta))


def _compute(
    task: Task,
    store: ObjectStore,
    function: Callable[..., Any],
    parents: tuple[TaskResult, ...],
    writer: BackgroundWriter | None = None,
) -> TaskResult:
    received = dict(zip(task.params, parents, strict=True))
    kwargs = {p: r.value for p, r in received.items()}
    if task.source is not None:
        try:
            kwargs[task.source[0]] = _source_argument(task)
        except OSError as exc:  # its data files cannot be fetched from the remote
            failure = OperatorFailure(task.name, f"source '{task.name}': {exc}", "")
            return TaskResult(None, TaskMeta(task.name, COMPUTE, failure=failure))
    # constants are the function's own defaults (the text that made the key), except
    # those an explored variant sets, which are in its key instead
    kwargs.update(task.constants)
    if task.dropped:  # a pruned run: the dropped blocks come as zero-width placeholders
        rows = next(
            (n for r in received.values() if (n := features.rows_of(r.value)) is not None), 0
        )
        kwargs.update(dict.fromkeys(task.dropped, features.placeholder(rows)))
    before = {
        p: _fingerprint_before(r)
        for p, r in received.items()
        if p in task.watch and not _immutable(r)
    }
    for p, r in received.items():
        if p not in task.watch:  # this child may change it: the next must look afresh
            r._seal = None
    start = time.perf_counter()
    moved = moved_input(task)
    if moved is not None:
        return TaskResult(None, TaskMeta(task.name, COMPUTE, failure=moved))
    try:
        value = function(**kwargs)
    except (Exception, SystemExit) as exc:  # sys.exit() in an operator fails the run
        for r in received.values():  # it may have stopped halfway through a change
            r._seal = None
        failure = _user_failure(task.name, exc)
        return TaskResult(None, TaskMeta(task.name, COMPUTE, _since(start), failure=failure))
    warning = None
    if task.sample is not None:
        value, why = sampling.rows(value, task.sample)
        warning = None if why is None else f"source {task.name} {why}"
    columns = weights = None
    if task.blocks:
        try:
            value, columns = features.assemble(task.name, task.blocks, value, task.dropped)
        except features.AssemblyError as exc:
            failure = OperatorFailure(task.name, str(exc), "")
            return TaskResult(None, TaskMeta(task.name, COMPUTE, _since(start), failure=failure))
    if task.precision is not None:
        value = precision.cast(value, task.precision)
    if task.estimator:
        weights = features.weights(value)
    seconds = _since(start)
    moved = moved_input(task)
    if moved is not None:
        return TaskResult(None, TaskMeta(task.name, COMPUTE, seconds, failure=moved))
    changed = [p for p, d in before.items() if not _unchanged(received[p], d)]
    if changed:
        failure = OperatorFailure(task.name, _mutation_message(task.name, changed[0]), "")
        return TaskResult(None, TaskMeta(task.name, COMPUTE, seconds, failure=failure))
    size = recompute = None
    if task.keep is not None and task.previous is None:  # no early cutoff may come first
        size, recompute = estimate_size(value), seconds + task.keep.upstream_seconds
    meta = TaskMeta(
        task.name,
        COMPUTE,
        seconds,
        size=size,
        recompute=recompute,
        warning=warning,
        columns=columns,
        weights=weights,
    )
    meta = _with_metrics(task, value, meta)
    packed = None
    if meta.failure is None and task.previous is not None:
        meta, packed = _compare(task.key, task.previous, store, value, meta)
    handed = value
    if meta.failure is None and task.keep is not None and not meta.cutoff:
        meta, handed, packed = _materialize(task, task.keep, store, value, meta, packed, writer)
    if meta.failure is None and task.checked_by >= FREEZE_CHECKS:
        handed = frozen_copy(handed)
    result = TaskResult(handed, meta)
    if task.checked_by and handed is value and isinstance(packed, Encoded) and packed.checksums:
        # its first child's "before", from the checksums its encoding took just now
        result._seal = (value, fingerprint(value, known=packed.checksums))
    return result


def _source_argument(task: Task) -> str | list[str]:
    """What a source receives: its path(s), or this worker's copies of shipped files."""
    assert task.source is not None
    if not task.shipped:
        return task.source[1]
    assert task.remote is not None and task.data is not None
    return shipping.fetch(task.remote, task.data[0], task.shipped, task.source[1])


def _compare(
    key: str, previous: tuple[str, str], store: ObjectStore, value: Any, meta: TaskMeta
) -> tuple[TaskMeta, Encoded | Packed | None]:
    """Early cutoff (``cutoff.py``): the value packed as the store would write it; if it
    is the previous value byte for byte, its new key names the stored object.

    Cheapest first: a value whose encoded size is not the previous value's (the hot
    entry's, else the stored object's header says it) differs. Then, when the previous
    value is hot, the encoded bytes are compared with the hot entry's, in memory (~40 ms
    for 190 MB, where compressing and checksumming take 0.3-0.4 s on the run's thread): a
    value that differs goes to the writer encoded, and is compressed there, off the run's
    thread. One that equals the hot entry (or, without one, has the same size) is packed
    and checked against the recorded checksum, so what decides is always the stored
    object's checksum (a hot entry could be another run's bytes of a key whose operator
    is not deterministic)."""
    try:
        encoded = encode_value(value)
    except UnstorableValue:
        return meta, None
    hot = getattr(store, "hot", None)
    size = hot.raw_bytes(previous[0]) if hot is not None else None
    if size is None:
        stored = store.info(previous[0])
        size = stored.raw_bytes if stored is not None else None
    if size is not None and size != encoded.raw.nbytes:
        return meta, encoded  # not the same bytes: the writer compresses it, off this thread
    before = hot.payload(previous[0]) if hot is not None else None
    if before is not None and (
        encoded.codec != before[0] or not _same_bytes(encoded.raw, before[1])
    ):
        return meta, encoded
    packed = store.compress(encoded)
    if packed.header.checksum != previous[1]:
        return meta, packed
    info = store.alias(key, previous[0])
    if info is None or info.checksum != previous[1]:
        return meta, packed
    return replace(meta, cutoff=True, info=info, bytes=info.bytes), None


def _same_bytes(a: memoryview, b: memoryview, chunk: int = 1 << 24) -> bool:
    """Whether two buffers hold the same bytes, compared 16 MiB at a time."""
    import numpy as np

    if a.nbytes != b.nbytes:
        return False
    left, right = a.cast("B"), b.cast("B")
    return all(
        np.array_equal(
            np.frombuffer(left[i : i + chunk], np.uint8),
            np.frombuffer(right[i : i + chunk], np.uint8),
        )
        for i in range(0, a.nbytes, chunk)
    )


def _materialize(
    task: Task,
    keep: Keep,
    store: ObjectStore,
    value: Any,
    meta: TaskMeta,
    packed: Encoded | Packed | None = None,
    writer: BackgroundWriter | None = None,
) -> tuple[TaskMeta, Any, Encoded | Packed | None]:
    """OPT-MAT-PLAN, online (``helixvcs.plan.materialize``); the budget is the driver's.

    With a ``writer``, the value is encoded here and written in the background: the
    driver learns what was written when it takes the write (``writing``). Returns the
    meta, the value the children get (``_as_written``) and the encoding (``packed``, or
    the one made here)."""
    size, recompute = meta.size, meta.recompute
    if size is None or recompute is None:  # not sized by ``_compute``: one copy less there
        size, recompute = estimate_size(value), meta.seconds + keep.upstream_seconds
        meta = replace(meta, size=size, recompute=recompute)
    wanted, _why = should_materialize(
        keep.policy,
        recompute=recompute,
        load_estimate=estimate_load_seconds(size, keep.load_throughput),
        probability=keep.probability,
        is_output=keep.is_output,
    )
    if not wanted:
        return meta, value, packed
    if keep.room is not None and with_overhead(size) > keep.room:
        return replace(meta, wants_room=True), value, packed  # the driver makes room, then saves it
    try:
        if writer is not None:
            encoded = packed if packed is not None else encode_value(value, defer_estimators=True)
            writer.put(task.key, encoded)
            return replace(meta, writing=True), _as_written(encoded, value), encoded
        if packed is None:
            info = store.put(task.key, value)
        elif isinstance(packed, Encoded):
            info = store.put_encoded(task.key, packed)
        else:
            info = store.put_packed(task.key, packed)
    except UnstorableValue as exc:
        warning = f"{task.name}: {exc}; it will be recomputed when needed"
        return replace(meta, warning=warning), value, packed
    return replace(meta, info=info, bytes=info.bytes), value, packed


def _as_written(encoded: Encoded | Packed, value: Any) -> Any:
    """A kept Arrow table as its children get it: read back, without a copy, from the
    bytes the writer is writing, as a later run would load it.

    The table equals the operator's, and it is immutable (``guard.immutable``: its
    buffers are slices of bytes nobody writes), so the children share it without a
    fingerprint before and after each of them; the operator's table may have been made
    over memory that can still be written (a numpy array, zero-copy), and would be
    fingerprinted. Other values are handed on as they are."""
    codec = encoded.codec if isinstance(encoded, Encoded) else encoded.header.codec
    raw = encoded.raw
    if codec != "arrow" or raw is None:
        return value
    return decode("arrow", raw)


def with_overhead(size: int) -> int:
    """A bound on a value's bytes on disk: zstd's worst case, our header, a codec header
    (an .npy header is 128 bytes). An Arrow schema with many columns can exceed it: the
    driver's after-the-fact check (``_Run._stored``) catches that rare case."""
    return size + size // 64 + 512


def _save(task: Task, store: ObjectStore, value: Any) -> TaskResult:
    start = time.perf_counter()
    try:
        info = store.put(task.key, value)
    except UnstorableValue as exc:
        warning = f"{task.name}: {exc}; it will be recomputed when needed"
        return TaskResult(None, TaskMeta(task.name, SAVE, _since(start), warning=warning))
    meta = TaskMeta(task.name, SAVE, _since(start), bytes=info.bytes, info=info)
    return TaskResult(None, meta)


def _since(start: float) -> float:
    return time.perf_counter() - start


def _fingerprint_before(parent: TaskResult) -> bytes | None:
    """The parent's value as the last child that checked it left it, else taken now.

    A shared value is fingerprinted once before its first child and once after each
    child, not twice per child: after a child, an unchanged fingerprint is exactly the
    next child's "before". The seal lives on the parent's result, so it lasts as long as
    the value and the run, and names the value object it was taken of. A child that
    receives the value unchecked drops the seal.
    """
    value = parent.value
    seal = parent._seal
    if seal is not None and seal[0] is value:
        return seal[1]
    digest = fingerprint(value)
    parent._seal = (value, digest)
    return digest


def _immutable(parent: TaskResult) -> bool:
    """``guard.immutable`` of the parent's value, once per value object: walking a table's
    buffers (~1 ms for 2,000 chunks) for every child of every parent added up to ~0.07 s
    of a census run; what an object's buffers are never changes."""
    value = parent.value
    fixed = parent._fixed
    if fixed is None or fixed[0] is not value:
        fixed = parent._fixed = (value, immutable(value))
    return fixed[1]


def _unchanged(parent: TaskResult, before: bytes | None) -> bool:
    """Whether the child left the parent's value as it found it (``None``: unchecked)."""
    if before is None:
        return True
    value = parent.value
    after = fingerprint(value)
    if after != before:
        return False
    parent._seal = (value, after)
    return True


def moved_input(task: Task) -> OperatorFailure | None:
    """A failure if a file of a source is no longer the one its key was computed from
    (checked before and after the source reads it): its value would be stored and reused
    under a key that says other data. A file that cannot be read is the operator's to
    report."""
    for path, size, mtime_ns, inode in task.inputs_seen:
        try:
            st = os.stat(path)
        except OSError:
            continue
        if (st.st_size, st.st_mtime_ns, st.st_ino) != (size, mtime_ns, inode):
            message = (
                f"source '{task.name}': {path} changed after this run computed its key "
                "(written while the run went on); its value would not match its key, so "
                "the run stops here: run again once the file is written"
            )
            return OperatorFailure(task.name, message, "")
    return None


def _mutation_message(name: str, param: str) -> str:
    return (
        f"operator '{name}' changed its input '{param}' in place; other operators receive "
        f"the same value, so operators must not modify their parents' values "
        f"(work on a copy, e.g. copy.deepcopy({param}))"
    )


# -- metrics and failures ------------------------------------------------------------------


def _with_metrics(task: Task, value: Any, meta: TaskMeta) -> TaskMeta:
    if task.kind != "metric":
        return meta
    if task.per_row:
        try:
            return replace(meta, metrics=scores.means(task.name, value))
        except scores.NotScores as exc:
            message = (
                f"metric '{task.name}' is declared per_row=True but returned {exc}; "
                "return a 1-D array or list of per-row scores, or a dict of them"
            )
            return replace(meta, failure=OperatorFailure(task.name, message, ""))
    items = (
        {f"{task.name}.{k}": v for k, v in value.items()}
        if isinstance(value, Mapping)
        else {task.name: value}
    )
    metrics = {}
    for name, v in items.items():
        try:
            if isinstance(v, bool | str | bytes) or getattr(v, "dtype", None) == "bool":
                raise TypeError  # a numpy bool too: a verdict, not a measurement
            metrics[name] = float(v)
        except OverflowError:
            message = (
                f"metric '{name}' returned an integer too large for a float; "
                "return a float or a dict of floats"
            )
            return replace(meta, failure=OperatorFailure(task.name, message, ""))
        except (TypeError, ValueError):
            key = f" for key {name.removeprefix(task.name + '.')!r}" if name != task.name else ""
            message = (
                f"metric '{task.name}' returned {type(v).__name__}{key}; "
                "return a float or a dict of floats (a bool is not a metric: "
                "return float(flag) to record it as 0 or 1)"
            )
            return replace(meta, failure=OperatorFailure(task.name, message, ""))
    nan = [name for name, v in metrics.items() if math.isnan(v)]
    if nan:
        note = (
            f"metric {', '.join(nan)} is NaN; it is recorded as NaN, which bisect counts "
            "as bad and no comparison treats as equal"
        )
        meta = replace(meta, warning=f"{meta.warning}; {note}" if meta.warning else note)
    return replace(meta, metrics=metrics)


def _user_failure(name: str, exc: BaseException) -> OperatorFailure:
    """The user's traceback: frames from helixvcs itself are cut off."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        tb = tb.tb_next
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    if isinstance(exc, SystemExit):
        message = f"operator '{name}' called sys.exit({exc.code!r}); raise an exception instead"
        return OperatorFailure(name, message, text)
    return OperatorFailure(name, f"operator '{name}' failed: {type(exc).__name__}: {exc}", text)


def _import_failure(task: Task, exc: BaseException) -> OperatorFailure:
    failure = _user_failure(task.name, exc)
    message = (
        f"operator '{task.name}' failed: importing the workflow in worker process "
        f"{os.getpid()} raised {type(exc).__name__}: {exc}"
    )
    return replace(failure, message=message)
