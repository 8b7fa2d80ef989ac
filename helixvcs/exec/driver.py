"""The generic run loop: submit each planned node once its parents are done, account, keep.

Policy lives here and nowhere else: what state each node is in (the plan, and new plans
when stored objects turn out bad), what the budget allows, what the run records. The
executor only decides where ``run_task`` runs (``executor.py``); ``run_task`` does one
node's work and decides, by the materialization rule, whether to write its value
(``task.py``). The loop is the same for every executor: with ``local``, whose ``submit``
returns when the task is done, it walks the plan in topological order, one node at a
time; with the others, every node whose parents are done is in flight at once.

Glossary of the state it keeps:

* ``states``    -- name -> compute | load | prune: the current plan;
* ``ready``     -- planned nodes whose parents are done, a heap by topological position;
* ``waiting``   -- name -> how many of its parents a planned node still waits for;
* ``consumers`` -- name -> how many of its children the plan computes;
* ``handles``   -- name -> future of the ``TaskResult`` of a node done in this run (the
  value stays where it was computed; only targets are brought back, at the end);
* ``inflight``  -- name -> ``Task`` submitted and not finished;
* ``outcomes``  -- name -> ``NodeOutcome``: what happened to each node (the run record);
* ``stored``    -- names whose key is in the store (grows as values are kept);
* ``unsaved``   -- names computed this run and not in the store;
* ``lost``      -- keys whose object turned out missing or corrupt;
* ``writing``   -- (name, meta) of each computed value being written in the background,
  oldest first.

Values that a run keeps are written in the background (``store/writer.py``) when the
operators run in the driver's process: an operator's children start as soon as its value
is encoded, and the driver accounts each write (budget, ``stored``) when it is done. The
run waits for all of them before it returns, so the run record only ever names complete
objects. Executors whose operators run in other processes write as part of the task.

A load that finds its object corrupt or gone does not fail the run: the store has
already dropped the object; the driver lets the tasks in flight finish, asks for a new
plan in which every value it holds loads for free, and carries on. An operator that
raises stops the run: nothing more is submitted, the tasks in flight finish, and every
value that finished is kept in the store, where it lives, so the next run resumes from it.
"""

from __future__ import annotations

import gc
import heapq
import queue
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from helixvcs.errors import UserInputError
from helixvcs.exec import cutoff
from helixvcs.exec.budget import Budget, FixedBudget
from helixvcs.exec.executor import Executor
from helixvcs.exec.progress import Progress
from helixvcs.exec.task import (
    SAVE,
    Keep,
    OperatorFailure,
    Task,
    TaskMeta,
    in_process,
    variant_fields,
    with_overhead,
)
from helixvcs.graph import Dag, Node, source_argument
from helixvcs.plan import COMPUTE, LOAD, PRUNE, MaterializePolicy, estimate_load_seconds
from helixvcs.plan.costs import STORE_THROUGHPUT
from helixvcs.plan.materialize import Upstream
from helixvcs.store import DiskObjectStore, ObjectInfo, ObjectStore
from helixvcs.store.remote_store import RemoteObjectStore
from helixvcs.store.writer import BackgroundWriter

Replanner = Callable[[frozenset[str], frozenset[str]], Mapping[str, str]]
"""Given the keys held in memory and the keys found missing or corrupt, a fresh plan."""

__all__ = [
    "ExecResult",
    "NodeOutcome",
    "OperatorFailure",
    "Replanner",
    "RunSettings",
    "execute",
    "host_froze_heap",
]


@dataclass(frozen=True)
class RunSettings:
    policy: MaterializePolicy = MaterializePolicy.HELIX
    budget: Budget = field(default_factory=lambda: FixedBudget(5 * 2**30))
    probabilities: Mapping[str, float] = field(default_factory=dict)  # P(key survives)
    default_probability: float = 1.0
    checksums: Mapping[str, str] = field(default_factory=dict)  # key -> checksum in the index
    load_throughput: float = STORE_THROUGHPUT
    """Decoded bytes per second that loading from the store gives (measured, once known):
    what the materialization rule compares a value's in-memory size against."""
    previous: Mapping[str, cutoff.Previous] = field(default_factory=dict)
    """The last run of the workflow, by operator name: what early cutoff compares with."""
    inputs_seen: Mapping[str, tuple[tuple[str, int, int, int], ...]] = field(default_factory=dict)
    """Sources: (path, size, mtime_ns, inode) of each file as the compile's digest saw
    it; a source whose file no longer matches fails instead of storing other data."""
    load_estimates: Mapping[str, float] = field(default_factory=dict)
    """What loading each stored value costs (the plan's estimates): recomputing a value
    that was not kept means loading the stored values it is computed from."""


@dataclass
class NodeOutcome:
    name: str
    key: str
    state: str
    seconds: float = 0.0
    load_seconds: float | None = None
    bytes: int | None = None
    materialized: bool = False
    status: str = "skipped"  # ok | failed | skipped (| running, while in flight)
    note: str = ""
    info: ObjectInfo | None = None
    recompute_seconds: float | None = None
    cutoff: bool = False  # computed, and equal to its previous value; or reused thanks to one
    columns: Any = None  # a feature assembly computed: the columns of each block
    weights: Any = None  # an estimator trained on an assembly: its non-zero weights


@dataclass
class ExecResult:
    outcomes: dict[str, NodeOutcome]
    metrics: dict[str, float] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    failure: OperatorFailure | None = None
    warnings: list[str] = field(default_factory=list)


def execute(
    dag: Dag,
    states: Mapping[str, str],
    *,
    store: ObjectStore,
    executor: Executor,
    replan: Replanner,
    compute_estimates: Mapping[str, float],
    settings: RunSettings,
    progress: Progress,
    targets: Sequence[str] | None = None,
    run_id: str | None = None,
) -> ExecResult:
    """Run ``states``; ``targets`` names the nodes whose values to return (default: outputs)."""
    if not executor.in_process and dag.sources is None:
        raise UserInputError(
            f"the {executor.name} executor runs operators in other processes, which need the "
            "workflow's compiled source; this graph has none (use --executor local)"
        )
    executor.open(store)
    run_id = run_id or uuid.uuid4().hex[:12]
    wanted = frozenset(dag.outputs if targets is None else targets)
    writer = BackgroundWriter(store) if executor.in_process else None
    run = _Run(dag, store, executor, compute_estimates, settings, progress, run_id, wanted)
    run.writer = writer
    functions = {n.name: n.spec.func for n in dag}
    finished = False
    try:
        with in_process(run_id, functions, store, writer), _older_objects_left_alone():
            result = run.go(dict(states), replan)
        finished = True
        return result
    finally:
        if writer is not None:  # interrupted: let a write in progress end, drop the rest
            writer.close(cancel=not finished)


@contextmanager
def _older_objects_left_alone() -> Iterator[None]:
    """While the run goes, the cyclic garbage collector skips every object that existed
    before it (``gc.freeze``): the compiled workflow, its modules, what the process
    imported. Each full collection would otherwise walk all of them again (0.1-0.2 s at
    10,000 operators), and land in the seconds of whichever operator triggered it.
    Garbage among them is collected after the run, as before; except in a process whose
    objects were frozen already (a command forked by ``helix server``, which froze its
    preloaded modules): unfreezing would put those back under the collector too, and that
    process ends with its command."""
    gc.freeze()
    try:
        yield
    finally:
        if not _host_froze:
            gc.unfreeze()


_host_froze = False


def host_froze_heap() -> None:
    """Say that this process froze its heap before forking the process that runs (``helix
    server``), so a run leaves it frozen. (``gc.get_freeze_count`` could tell, but it walks
    every frozen object: 35 ms, and a write to each one's page in a forked child.)"""
    global _host_froze
    _host_froze = True


class _Run:
    def __init__(
        self,
        dag: Dag,
        store: ObjectStore,
        executor: Executor,
        estimates: Mapping[str, float],
        settings: RunSettings,
        progress: Progress,
        run_id: str,
        targets: frozenset[str],
    ) -> None:
        self.dag, self.store, self.executor = dag, store, executor
        self.settings, self.progress, self.budget = settings, progress, settings.budget
        self.id, self.targets = run_id, targets
        self.store_root = str(store.root) if isinstance(store, DiskObjectStore) else None
        self.remote = store.remote.spec if isinstance(store, RemoteObjectStore) else None
        self.seconds = dict(estimates)  # compute seconds: measured this run, else estimated
        self.parents = dag.parents()
        self.children = dag.children()
        self.states: dict[str, str] = {}
        self.position = {name: i for i, name in enumerate(dag.nodes)}
        self.ready: list[tuple[int, str]] = []  # (topological position, name), a heap
        self.waiting: dict[str, int] = {}  # planned, not submitted yet: parents not done
        self.consumers: dict[str, int] = {}
        self.handles: dict[str, Any] = {}
        self.inflight: dict[str, Task] = {}
        self.submitted: dict[str, Any] = {}  # name -> handle, while in flight
        self.finished: queue.SimpleQueue[tuple[Task, TaskMeta | BaseException]] = (
            queue.SimpleQueue()
        )
        self.sizes: dict[str, int] = {}  # estimated bytes of computed values
        self.unsaved: set[str] = set()
        self.lost: set[str] = set()
        self.nondeterministic: set[str] = set()  # names that stored a different value
        self.reserved = 0  # bytes reserved for tasks in flight (see _keep)
        self.reservations: dict[str, int] = {}
        self.pending: dict[str, tuple[Any, float, float]] = {}  # saving: handle, recompute, worth
        self.replan_needed = False
        self.errors: list[BaseException] = []  # not the user's: raised once the run drained
        held = store.has_many(n.key for n in dag)
        self.stored = {n.name for n in dag if n.key in held}
        self.loads = dict(settings.load_estimates)  # of stored values, as they get stored
        self.load_throughput = settings.load_throughput
        self.upstream = Upstream(self.parents, self.seconds, self.stored, self.loads)
        self.result = ExecResult(outcomes={n.name: NodeOutcome(n.name, n.key, PRUNE) for n in dag})
        self.equal = cutoff.unchanged(dag, settings.previous)  # values equal to last run's
        self.aliased: set[str] = set()  # stored under their new key by early cutoff
        self.writer: BackgroundWriter | None = None
        self.writing: deque[tuple[str, TaskMeta]] = deque()  # kept values being written
        self.taken = 0  # writes taken from the writer

    # -- the loop --------------------------------------------------------------------------

    def go(self, states: dict[str, str], replan: Replanner) -> ExecResult:
        self._plan(states)
        while True:
            self._drive()
            self._drain()
            if self.errors:
                raise self.errors[0]
            if self.result.failure is not None:
                break
            if not self.replan_needed:
                if self.waiting:  # a node whose parents no plan state provides
                    never = sorted(self.waiting, key=self.position.__getitem__)
                    raise RuntimeError(f"the plan never reaches {', '.join(never)}")
                break
            at_hand = set(self.handles) | self.aliased  # aliased: stored, and cheap to load
            held = frozenset(self.dag[n].key for n in at_hand)
            self._plan(dict(replan(held, frozenset(self.lost))))
        self._written(block=True)
        if self.errors:
            raise self.errors[0]
        if self.result.failure is not None:
            self._keep_finished()
        self._warn_unsteady()
        self.result.outputs = self._outputs()
        for name, outcome in self.result.outcomes.items():
            if outcome.status == "skipped":  # planned but never reached when a run fails
                outcome.state = PRUNE if self.result.failure else self.states.get(name, PRUNE)
        return self.result

    def _outputs(self) -> dict[str, Any]:
        """The targets' values, brought to the driver (what finished, if the run failed)."""
        wanted = {n: self.handles[n] for n in self.targets if n in self.handles}
        try:
            return {n: r.value for n, r in self.executor.results(wanted).items()}
        except Exception:
            if self.result.failure is None:
                raise
            return {}  # e.g. lost with a dead worker: the failure is what the user needs

    def _plan(self, states: dict[str, str]) -> None:
        """Take a new plan: what waits for which parents, and who consumes what."""
        self.states, self.replan_needed = states, False
        self.ready, self.waiting = [], {}
        self.consumers = dict.fromkeys(self.dag.nodes, 0)
        for node in self.dag:
            state = states[node.name]
            if state == COMPUTE:
                for p in node.parents:
                    self.consumers[p] += 1
            if state == PRUNE or node.name in self.handles:
                continue
            waits = 0 if state == LOAD else sum(p not in self.handles for p in node.parents)
            self.waiting[node.name] = waits
            if not waits:
                self.ready.append((self.position[node.name], node.name))
        heapq.heapify(self.ready)

    def _hand(self, name: str, handle: Any) -> None:
        """``name``'s value is at hand: the children it was the last wait of are ready."""
        if name in self.handles:
            self.handles[name] = handle
            return
        self.handles[name] = handle
        for child in self.children[name]:
            waits = self.waiting.get(child)
            if waits is None or self.states[child] == LOAD:
                continue
            self.waiting[child] = waits - 1
            if waits == 1:
                heapq.heappush(self.ready, (self.position[child], child))

    def _stopping(self) -> bool:
        return bool(self.result.failure or self.replan_needed or self.errors)

    def _drive(self) -> None:
        """Submit every node whose parents are done, in topological order, until none is left."""
        while True:
            self._collect(block=False)
            if self._stopping():
                return
            name = self._next_ready()
            if name is not None:
                self._submit(self.dag[name])
            elif self.inflight:
                self._collect(block=True)
            else:
                return

    def _drain(self) -> None:
        while self.inflight:
            self._collect(block=True)

    def _next_ready(self) -> str | None:
        """The first planned node, in topological order, whose parents are done."""
        if not self.ready:
            return None
        _, name = heapq.heappop(self.ready)
        del self.waiting[name]
        return name

    def _collect(self, block: bool) -> None:
        """Account for every task that finished (waiting for one first when ``block``)."""
        if block:
            self._finish(*self.finished.get())
        while True:
            try:
                item = self.finished.get_nowait()
            except queue.Empty:
                break
            self._finish(*item)
        self._written(block=False)

    def _submit(self, node: Node) -> None:
        state = self.states[node.name]
        task = self._task(node, state)
        out = self.result.outcomes[node.name]
        out.state, out.status = state, "running"
        self.progress.start(node.name, state)
        parents = [self.handles[p] for p in node.parents] if state == COMPUTE else []
        self.inflight[node.name] = task
        self.submitted[node.name] = self.executor.submit(task, parents, self._done)

    def _done(self, task: Task, outcome: TaskMeta | BaseException) -> None:
        self.finished.put((task, outcome))  # from any thread; accounted in the driver's

    def _task(self, node: Node, state: str, keep: Keep | None = None) -> Task:
        source = data = None
        if node.kind == "source" and state == COMPUTE:
            source = (node.spec.params[0], source_argument(node, self.dag.root))
            if self.remote is not None:  # its files go to the workers through the remote
                data = (str(node.input_root or self.dag.root), node.inputs)
        if state == COMPUTE and node.name not in self.stored:
            keep = self._keep(node)
        watch = tuple(p for p in node.parents if self._shared(p)) if state == COMPUTE else ()
        previous = None
        if state == COMPUTE and self._children_compute(node.name):
            before = cutoff.trigger(node, self.settings.previous)
            previous = (before.key, before.checksum) if before and before.checksum else None
        return Task(
            name=node.name,
            key=node.key,
            kind=node.kind,
            state=state,
            run=self.id,
            store_root=self.store_root,
            code=self.dag.sources,
            params=node.parents if state == COMPUTE else (),
            source=source,
            keep=keep,
            checksum=self.settings.checksums.get(node.key) if state == LOAD else None,
            watch=watch,
            checked_by=self.consumers[node.name] if state == COMPUTE else 0,
            previous=previous,
            estimator=any(self.dag[p].kind == "features" for p in node.parents),
            inputs_seen=self.settings.inputs_seen.get(node.name, ()) if source else (),
            remote=self.remote,
            data=data,
            **variant_fields(node, state),
        )

    def _children_compute(self, name: str) -> bool:
        return self.consumers[name] > 0

    def _shared(self, name: str) -> bool:
        """Whether other operators (or the run's results) receive ``name``'s value too:
        then a child must not change it in place, and the task checks that it did not."""
        return self.consumers[name] > 1 or name in self.targets

    def _keep(self, node: Node) -> Keep | None:
        if self.settings.policy is MaterializePolicy.NONE:
            return None
        own = self.seconds.get(node.name, 0.0)
        total = self.upstream.recompute_seconds(node.name)
        # the room this task may write into without asking: reserved until it finishes,
        # so tasks in flight together can never overfill the store
        # (local only: a parallel task that had to hand its value back for a save would
        # leave it on a worker that may die before the save; there, write-then-account)
        room = None
        if self.executor.name == "local":
            room = max(self.budget.free() - self.reserved, 0)
            self.reserved += room
            self.reservations[node.name] = room
        return Keep(
            policy=self.settings.policy,
            probability=self._probability(node.name),
            upstream_seconds=max(total - own, 0.0) + self.upstream.frontier_load_seconds(node.name),
            is_output=node.is_output,
            room=room,
            load_throughput=self.settings.load_throughput,
        )

    def _probability(self, name: str) -> float:
        return self.settings.probabilities.get(name, self.settings.default_probability)

    # -- results -----------------------------------------------------------------------------

    def _finish(self, task: Task, outcome: TaskMeta | BaseException) -> None:
        del self.inflight[task.name]
        handle = self.submitted.pop(task.name)
        held = self.reservations.pop(task.name, 0)
        self.reserved -= held
        if isinstance(outcome, TaskMeta) and outcome.writing and outcome.size is not None:
            need = min(held, with_overhead(outcome.size))  # reserved until it is written
            self.reservations[task.name] = need
            self.reserved += need
        if task.state == SAVE:
            self._saved(task, outcome)
            return
        out = self.result.outcomes[task.name]
        if isinstance(outcome, BaseException):
            out.status = "failed"
            self.errors.append(outcome)
            return
        meta = outcome
        if meta.failure is not None:
            out.status, out.seconds = "failed", meta.seconds
            self.progress.finish(task.name, "failed", meta.seconds)
            if self.result.failure is None:
                self.result.failure = meta.failure
            return
        if meta.lost is not None:
            self._lost(task, meta, out)
            return
        self.result.metrics.update(meta.metrics)
        if meta.warning:
            self._warn(meta.warning)
        out.status, out.seconds = "ok", meta.seconds
        out.columns, out.weights = meta.columns, meta.weights
        note = ""
        if task.state == LOAD:
            out.load_seconds, out.bytes = meta.seconds, meta.bytes
        else:
            self.seconds[task.name] = meta.seconds
            self.upstream.changed(task.name)
            if meta.cutoff and meta.info is not None:  # stored under its new key: a link
                recompute = self.upstream.recompute_seconds(task.name)
                worth = recompute / max(meta.info.raw_bytes, 1)
                self._stored(task.name, meta.info, recompute, worth)
                self._cut_off(task.name)
            if task.name not in self.stored:
                self.unsaved.add(task.name)
            if meta.size is not None:
                self.sizes[task.name] = meta.size
            if meta.wants_room and self._save_later(task, meta, handle):
                self.progress.finish(task.name, task.state, meta.seconds, "kept")
                return  # children wait until the value is written: none may change it first
            if meta.writing:  # encoded already: its children may have it now
                self.writing.append((task.name, meta))
                self.stored.add(task.name)  # for its children's keep decisions, as if written
                if meta.size is not None:
                    load = estimate_load_seconds(meta.size, self.load_throughput)
                    self.loads.setdefault(task.name, load)
                self.upstream.changed(task.name)
                note = "kept"
            else:
                note = self._account(task.name, meta)
        self._hand(task.name, handle)
        self.progress.finish(task.name, task.state, meta.seconds, note)

    def _written(self, block: bool) -> None:
        """Account for the background writes that are done (all of them when ``block``),
        in the order they were handed over, as they would have been written in place."""
        if self.writer is None or (not block and self.writer.settled == self.taken):
            return  # nothing written since the last look (a look per task costs locks)
        while self.writing:  # the oldest first
            name, meta = self.writing[0]
            key = self.dag[name].key
            if not block:
                pending = self.writer.peek(key)
                if pending is not None and not pending.done():
                    return
            future = self.writer.take(key)
            self.taken += 1
            self.writing.popleft()
            self.reserved -= self.reservations.pop(name, 0)
            try:
                info = future.result()
            except Exception as exc:  # the store refused it (a full disk): the run fails
                self.stored.discard(name)
                self.upstream.changed(name)
                self.errors.append(exc)
                continue
            if self._account(name, replace(meta, info=info)) != "kept":
                self.stored.discard(name)  # over the budget after all: deleted
                self.upstream.changed(name)

    def _cut_off(self, name: str) -> None:
        """``name`` came out equal to its previous value: what only depended on equal
        values is its previous value too; stored ones are linked under their new keys
        and a new plan loads them instead of recomputing them (``cutoff``)."""
        self.result.outcomes[name].cutoff = True
        self.equal.add(name)
        busy = set(self.handles) | set(self.inflight)
        linked = False
        for other in cutoff.equivalents(self.dag, self.settings.previous, self.equal):
            before = self.settings.previous[other]
            if other in busy or not self.store.has(before.key):
                continue
            info = self.store.alias(self.dag[other].key, before.key)
            if info is None:
                continue
            out = self.result.outcomes[other]
            out.cutoff, out.info, out.materialized, out.bytes = True, info, True, info.bytes
            out.recompute_seconds = self.seconds.get(other)
            self.aliased.add(other)
            self.stored.add(other)
            self.upstream.changed(other)
            linked = True
        if linked:
            self.replan_needed = True

    def _save_later(self, task: Task, meta: TaskMeta, handle: Any) -> bool:
        """Make room for a value worth keeping that did not fit, and have it written."""
        assert meta.size is not None and meta.recompute is not None
        worth = self._probability(task.name) * meta.recompute / max(meta.size, 1)
        if not self._room(with_overhead(meta.size), worth):
            return False
        self.pending[task.name] = (handle, meta.recompute, worth)
        save = self._task(self.dag[task.name], SAVE)
        self.inflight[task.name] = save
        self.submitted[task.name] = self.executor.submit(save, [handle], self._done)
        return True

    def _saved(self, task: Task, outcome: TaskMeta | BaseException) -> None:
        handle, recompute, worth = self.pending.pop(task.name)
        self._hand(task.name, handle)  # its children may run now
        if isinstance(outcome, BaseException):
            self.errors.append(outcome)
            return
        if outcome.warning:
            self._warn(outcome.warning)
        if outcome.info is not None:
            self._stored(task.name, outcome.info, recompute, worth)

    def _lost(self, task: Task, meta: TaskMeta, out: NodeOutcome) -> None:
        out.state, out.status = PRUNE, "skipped"
        self.stored.discard(task.name)
        self.upstream.changed(task.name)
        if task.key in self.lost:  # a plan must never load a lost key twice
            self.errors.append(RuntimeError(f"planner chose to load lost object {task.key}"))
            return
        self.lost.add(task.key)
        self.replan_needed = True
        self.progress.finish(task.name, "lost", meta.seconds)
        self._warn(meta.lost or "")

    def _account(self, name: str, meta: TaskMeta) -> str:
        """Budget a value a task wrote: keep it, make room for it, or delete it."""
        if meta.info is None or meta.recompute is None:
            return ""
        worth = self._probability(name) * meta.recompute / max(meta.size or 0, 1)
        if self._stored(name, meta.info, meta.recompute, worth):
            return "kept"
        return "no room in the budget"

    def _stored(self, name: str, info: ObjectInfo, recompute: float, worth: float) -> bool:
        known = self.settings.checksums.get(info.key)
        if known is not None and known != info.checksum:
            self._unsteady(name)
        self.budget.added(info.key, name, info.bytes, recompute)
        if self.budget.free() < 0 and not self._room(0, worth):
            self.store.delete(info.key)  # over budget, and nothing worth less to evict
            self.budget.removed(info.key, info.bytes)
            return False
        out = self.result.outcomes[name]
        out.materialized, out.bytes, out.info = True, info.bytes, info
        out.recompute_seconds = recompute
        if name not in self.stored or name not in self.loads:  # else as the keep rule saw it
            self.stored.add(name)
            load = estimate_load_seconds(info.raw_bytes, self.load_throughput)
            self.loads.setdefault(name, load)
            self.upstream.changed(name)
        self.unsaved.discard(name)
        return True

    def _unsteady(self, name: str) -> None:
        """``name`` stored a value other than the one stored under its key before."""
        self.nondeterministic.add(name)

    def _warn_unsteady(self) -> None:
        """Warn of each operator that stored a value other than the one stored under its
        key before, unless an ancestor did too (then its inputs differed, not its code)."""
        order = {name: i for i, name in enumerate(self.dag.nodes)}
        for name in sorted(self.nondeterministic, key=order.__getitem__):
            if self.dag.ancestors(name) & self.nondeterministic:
                continue
            self._warn(
                f"operator '{name}' is not deterministic: it computed a different value for "
                f"key {self.dag[name].key[:12]} than the one stored before; runs that reuse "
                "it may not reproduce (seed its randomness, or make it depend only on its "
                "inputs)"
            )

    def _room(self, nbytes: int, worth: float) -> bool:
        if nbytes <= self.budget.free():
            return True
        if self.settings.policy is MaterializePolicy.ALL:
            return False  # keep-everything keeps what fits, first come first served
        return self.budget.make_room(nbytes, worth)

    # -- after a failure -------------------------------------------------------------------

    def _keep_finished(self) -> None:
        """After a failure: keep the values that finished, so the next run resumes from them.

        Only values that no child has received yet: a child may have changed its input in
        place, and a value stored under its key must be exactly what the operator returned.
        Children that did run are kept themselves, so the frontier survives either way.
        Each value is written where it lives, by a save task.
        """
        if self.settings.policy is MaterializePolicy.NONE:
            return
        children = self.dag.children()
        for node in self.dag:
            if node.name not in self.unsaved or node.name not in self.sizes:
                continue
            if any(self._received(c) for c in children[node.name]):
                continue
            size = self.sizes[node.name]
            recompute = self.upstream.recompute_seconds(node.name)
            worth = recompute / max(size, 1)
            if self._room(size, worth):
                self._save(node, recompute, worth)

    def _save(self, node: Node, recompute: float, worth: float) -> None:
        task = self._task(node, SAVE)
        self.inflight[node.name] = task
        self.submitted[node.name] = self.executor.submit(
            task, [self.handles[node.name]], self._done
        )
        saved, outcome = self.finished.get()
        del self.inflight[saved.name]
        self.submitted.pop(saved.name)
        if isinstance(outcome, BaseException):
            raise outcome
        if outcome.warning:
            self._warn(outcome.warning)
        if outcome.info is not None:
            self._stored(node.name, outcome.info, recompute, worth)

    def _received(self, child: str) -> bool:
        out = self.result.outcomes[child]
        return out.state == COMPUTE and out.status != "skipped"

    def _warn(self, message: str) -> None:
        self.result.warnings.append(message)
        self.progress.warn(message)
