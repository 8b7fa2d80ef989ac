"""``helix run``: compile, plan, execute, record.

The run is registered in the index as ``running`` before anything executes, so a
concurrent ``helix log`` shows it and a killed run is later marked ``interrupted``;
everything else about it is written in one short transaction at the end.

Every run is a variant of one version (``variants``): the version as it is, on a sample
of its rows, or with constants set by exploration. ``run`` runs what ``RunOptions``
name; ``run_variant`` is the one entry for any ``RunVariant``, and can return a recorded
run of the variant instead of running it again (what exploration wants).

Metrics of per-row scores (``@wf.metric(per_row=True)``) get a bootstrap confidence
interval over the rows (``exec.scores``), seeded with the run's seed.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from helixvcs.errors import UserInputError
from helixvcs.exec import ExecResult, OperatorFailure, Progress, RunSettings, execute, get_executor
from helixvcs.exec.budget import FixedBudget
from helixvcs.exec.scores import NotScores, intervals
from helixvcs.graph import Dag
from helixvcs.graph.variants import PRECISIONS
from helixvcs.hashing import SampleSpec, StatCache
from helixvcs.index import NodeRecord, ObjectRecord, OperatorRecord, RunRecord
from helixvcs.plan import COMPUTE, LOAD, MaterializePolicy, Plan, make_plan
from helixvcs.plan.benefit import default_probability, survival_probabilities
from helixvcs.plan.costs import STORE_THROUGHPUT, CostModel, replanned
from helixvcs.repo import reduced, zero_weight
from helixvcs.repo.budget import StoreBudget, pack_when_many_loose
from helixvcs.repo.cluster import (
    cluster_remote,
    open_cluster_store,
    publish,
    remote_model,
    shipped,
)
from helixvcs.repo.context import (
    as_previous_operators,
    compile_version,
    cost_model,
    previous_nodes,
)
from helixvcs.repo.records import untracked_data_warnings
from helixvcs.repo.remotes import (
    keys_to_compute,
    offer_remote,
    remember_throughput,
    remote_throughput,
)
from helixvcs.repo.variants import RunVariant, recorded_run
from helixvcs.vcs import MergeInProgress, Version, merge_in_progress

if TYPE_CHECKING:
    from helixvcs.exec.cutoff import Previous
    from helixvcs.repo import Repo

#: The budget of a run whose store is a remote: no limit, nothing is evicted from it.
REMOTE_ROOM = 2**62


@dataclass(frozen=True)
class RunOptions:
    rev: str | None = None  # a commit to run; None runs the working tree
    materialize: str | None = None
    budget: int | None = None
    executor: str | None = None
    scheduler: str | None = None  # a Dask scheduler's address; implies the dask executor
    remote: str | None = None  # a remote that Dask workers use as their store (``cluster``)
    sample: float | None = None  # run on this fraction of every source's rows (0 < F < 1)
    seed: int | None = None  # which rows a sample keeps (default 0)
    precision: str | None = None  # cast float64 values to this (float32)
    prune_zero_weight: bool = False  # leave out feature blocks of zero weight
    prune_tolerance: float | None = None  # metric change a pruned run warns above

    def precision_spec(self) -> str | None:
        """The low precision to run at, or None for full precision; bad values are exit 2."""
        if self.precision is not None and self.precision not in PRECISIONS:
            raise UserInputError(
                f"bad --precision {self.precision!r}: use {', '.join(PRECISIONS)}, or leave "
                "it out to run at full precision"
            )
        if self.prune_tolerance is not None and not self.prune_tolerance >= 0:
            raise UserInputError(
                f"bad --prune-tolerance {self.prune_tolerance}: give a metric change >= 0, "
                "e.g. 1e-3"
            )
        return self.precision

    def sample_spec(self) -> SampleSpec | None:
        """The sample to run on, or None for the full data; bad values are exit 2."""
        if self.sample is None:
            if self.seed is not None:
                raise UserInputError("--seed N chooses the rows of a sample; give --sample F too")
            return None
        if isinstance(self.sample, bool) or not 0.0 < float(self.sample) < 1.0:
            raise UserInputError(
                f"bad --sample {self.sample}: give a fraction between 0 and 1 (exclusive), "
                "e.g. --sample 0.1; leave it out to run on all the data"
            )
        return SampleSpec(float(self.sample), int(self.seed or 0))

    def variant(self) -> RunVariant:
        """What these options run: ``rev`` as it is, or on the sample they ask for."""
        return RunVariant(
            rev=self.rev,
            sample=self.sample_spec(),
            precision=self.precision_spec(),
            prune_zero_weight=self.prune_zero_weight,
        )


@dataclass
class RunReport:
    run_id: str
    revision: str
    commit: str | None
    status: str
    wall_seconds: float
    saved_seconds: float
    metrics: dict[str, float]
    nodes: list[dict[str, Any]]
    failure: OperatorFailure | None = None
    warnings: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict, repr=False)
    kind: str = "commit"  # commit | sampled | explored
    sample: float | None = None
    seed: int | None = None
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    variant: RunVariant | None = None  # an explored variant: the constants it set
    precision: str | None = None  # a low-precision run: float32
    pruning: dict[str, Any] | None = None  # a pruned run: what it left out, metric change
    precision_change: dict[str, Any] | None = None  # a low-precision run: metric change

    @property
    def approximate(self) -> bool:
        """Metrics from a sample of the rows estimate those of the full data."""
        return self.sample is not None or self.precision is not None

    def to_json(self) -> dict[str, Any]:
        """The ``helix run --json`` document (DESIGN.md, "Machine-readable output")."""
        return {
            "run_id": self.run_id,
            "revision": self.revision,
            "commit": self.commit,
            "status": self.status,
            "wall_seconds": round(self.wall_seconds, 6),
            "saved_seconds": round(self.saved_seconds, 6),
            "sample": self.sample,
            "seed": self.seed,
            "kind": self.kind,
            "approximate": self.approximate,
            "metrics": self.metrics,
            "ci": {name: list(ci) for name, ci in sorted(self.intervals.items())},
            "variant": self.variant.to_json() if self.variant else None,
            "base_run": self.variant.base_run if self.variant else None,
            "cutoff": {"unchanged": self.unchanged_outputs, "reused": self.reused_by_cutoff},
            "precision": self.precision,
            "precision_change": self.precision_change,
            "pruning": self.pruning,
            "nodes": self.nodes,
        }

    def count(self, state: str) -> int:
        return sum(1 for n in self.nodes if n["state"] == state)

    @property
    def unchanged_outputs(self) -> list[str]:
        """Operators recomputed whose value came out equal to their previous one."""
        return [n["name"] for n in self.nodes if n.get("cutoff") and n["state"] == COMPUTE]

    @property
    def reused_by_cutoff(self) -> list[str]:
        """Operators loaded instead of recomputed because their inputs came out equal."""
        return [n["name"] for n in self.nodes if n.get("cutoff") and n["state"] != COMPUTE]

    def summary(self) -> str:
        """One line: counts, wall time and time saved."""
        c, lo, p = self.count("compute"), self.count("load"), self.count("prune")
        return (
            f"{c} computed, {lo} loaded, {p} pruned in {self.wall_seconds:.2f} s "
            f"(saved ~{self.saved_seconds:.2f} s)"
        )


def run(repo: Repo, options: RunOptions, progress: Progress) -> RunReport:
    """Run the version ``options`` name, as it is or on the sample they ask for."""
    return _execute(repo, options.variant(), options, progress)


@dataclass(frozen=True)
class VariantRun:
    """A variant's run: the one just made, or a recorded one whose operators have the keys."""

    run_id: str
    metrics: dict[str, float]
    report: RunReport | None = None  # None: recorded before, not run again


def run_variant(
    repo: Repo,
    variant: RunVariant,
    options: RunOptions,
    progress: Progress,
    *,
    reuse: tuple[Dag, Version] | None = None,
) -> VariantRun:
    """Run ``variant`` (``options`` say how: materialize, budget, executor; the variant
    says what). With ``reuse``, the variant's version as compiled, a successful recorded
    run of the variant with the same keys is returned instead of running it again."""
    if reuse is not None:
        found = recorded_run(repo.index, variant, *reuse)
        if found is not None:
            return VariantRun(found, repo.index.metrics(found))
    report = _execute(repo, variant, options, progress)
    return VariantRun(report.run_id, report.metrics, report)


@dataclass(frozen=True)
class _Prepared:
    """What a run reads before it starts: its compiled version, plan, and the index's
    answers to every question the run's execution and record ask."""

    dag: Dag
    version: Version
    notes: list[str]
    checksums: dict[str, str]
    model: CostModel
    plan: Plan
    previous: dict[str, Previous]
    probabilities: dict[str, float]
    room: StoreBudget
    keep_throughput: float
    measured: dict[str, float]  # seconds computing each key took in an ok run


def _execute(repo: Repo, variant: RunVariant, options: RunOptions, progress: Progress) -> RunReport:
    layout, index, store = repo.layout, repo.index, repo.store
    rev, sample = variant.rev, variant.sample
    config = layout.read_config()
    policy = _policy(options.materialize or config.materialize)
    spec = cluster_remote(layout, options.remote) if options.remote is not None else None
    executor = get_executor(
        options.executor or ("dask" if options.scheduler else config.executor),
        options.scheduler,
        spec,
    )
    cluster = open_cluster_store(spec) if spec is not None else None  # exit 2 if unusable
    budget = options.budget if options.budget is not None else config.max_store_bytes
    if rev is None and merge_in_progress(layout.root):
        raise MergeInProgress(layout.root)

    asked, zero, created = variant, None, None
    stats = StatCache(layout.stat_cache)  # the compile's: what it saw, the sources check

    def prepare(reuse: bool) -> _Prepared:
        nonlocal variant, zero, created
        dag, version = compile_version(layout, rev, reuse=reuse, cache=stats)
        with index.reading():  # every question of the run's start, one attach for all
            if created is None:  # both look first, and write only when there is work
                created = index.ensure()
                index.mark_interrupted()
            notes = untracked_data_warnings(index, dag, version, layout.root) if rev else []
            if asked.prune_zero_weight:  # decided from the weights recorded for these keys
                zero = zero_weight.find(index, asked.dag(dag))
                variant = asked.pruning(zero.drop, zero.weights_run)
            dag = variant.dag(dag)
            keys = list(dag.keys().values())
            known = index.objects(keys)
            checksums = recorded_checksums(index, store, known, progress)
            model = cost_model(dag, index, store, known)
            previous = previous_nodes(index, store, dag.workflow)  # reasons, and cutoff
            probabilities = survival_probabilities(index.key_history(dag.workflow))
            room = StoreBudget(
                budget,
                store,
                index,
                protected=set(keys) | index.running_keys(),
                probabilities=probabilities,
                current_keys=dag.keys(),
            )
            return _Prepared(
                dag=dag,
                version=version,
                notes=notes,
                checksums=checksums,
                model=model,
                plan=make_plan(dag, model, as_previous_operators(previous)),
                previous=previous,
                probabilities=probabilities,
                room=room,
                keep_throughput=_keep_throughput(index, store),
                measured=index.computed_by_ok_runs(keys),
            )

    # An unchanged working tree is planned from its last compile, without importing the
    # workflow (``graph.cache``); as soon as anything must be computed, it is imported.
    ready = prepare(reuse=executor.in_process)
    if ready.dag.from_cache and any(p.state == COMPUTE for p in ready.plan.nodes.values()):
        ready = prepare(reuse=False)
    dag, version, checksums, model, plan = (
        ready.dag, ready.version, ready.checksums, ready.model, ready.plan
    )  # fmt: skip
    previous, probabilities = ready.previous, ready.probabilities
    if created and next(iter(store.keys()), None) is not None:
        progress.warn(
            f"the run index {layout.index} was missing; started a new one (earlier runs are "
            "gone from helix log; stored intermediates are kept and reused)"
        )
    for note in ready.notes:
        progress.warn(note)
    run_store: Any = store  # the local store, or it with the default remote's values
    cutoff_from = previous  # early cutoff links stored values: not on a remote (relayed)
    if cluster is not None:  # workers load from the remote, never from the local store
        dag, run_store, cutoff_from, checksums = shipped(dag), cluster.store, {}, {}
        model = remote_model(layout, cluster, dag, model)
        plan = make_plan(dag, model, as_previous_operators(previous))
    offer = None
    if executor.in_process:
        offer = offer_remote(
            layout, dag, model, keys_to_compute(dag, plan.states()), store, checksums, progress
        )
    if offer is not None:
        run_store, model = offer.store, offer.model
        plan = make_plan(dag, model, as_previous_operators(previous))
    room: StoreBudget | FixedBudget = ready.room
    if cluster is not None:  # the local budget is for the local store; the remote has none
        room = FixedBudget(REMOTE_ROOM)
    record = _run_record(dag, version, policy, executor.name, variant)
    executor.open(run_store)  # workers unreachable, or blind to the store: exit 2, nothing recorded
    try:
        index.begin_run(record, operator_records(dag))
    except BaseException:
        executor.close()
        raise
    started = time.perf_counter()
    status, result, error = "failed", None, None
    try:
        result = execute(
            dag,
            plan.states(),
            store=run_store,
            executor=executor,
            replan=lambda held, lost: make_plan(dag, replanned(model, held, lost)).states(),
            compute_estimates={name: p.compute_cost for name, p in plan.nodes.items()},
            settings=RunSettings(
                policy=policy,
                budget=room,
                probabilities=probabilities,
                default_probability=default_probability(),
                checksums=checksums,
                previous=cutoff_from,
                load_throughput=ready.keep_throughput
                if cluster is None
                else remote_throughput(layout, cluster.spec.name),
                inputs_seen=_inputs_seen(stats, dag),
                load_estimates={
                    name: p.load_cost for name, p in plan.nodes.items() if p.load_cost is not None
                },
            ),
            progress=progress,
            run_id=record.run_id,
        )
        status = "ok" if result.failure is None else "failed"
    except Exception as exc:  # the store refused a write (disk full), a bug: the run failed
        error = str(exc) or type(exc).__name__
        raise
    finally:
        wall = time.perf_counter() - started
        if result is None:  # interrupted (KeyboardInterrupt) or failed: never leave 'running'
            index.finish_run(
                record.run_id,
                status="interrupted" if error is None else "failed",
                finished=_now(),
                wall_seconds=wall,
                saved_seconds=0.0,
                nodes=[],
                metrics={},
                error=error or "interrupted",
            )
            index.mark_store_unreconciled()  # it may have written objects it never recorded
        executor.close()
    saved = _saved_seconds(plan, result, ready.measured) if status == "ok" else 0.0
    cis = _intervals(dag, result, sample) if status == "ok" else {}
    fetched = offer.store.fetched if offer is not None else {}
    if offer is not None:
        remember_throughput(layout, offer.store.remote.spec.name, offer.store.transfer.throughput)
    evicted = room.evicted if isinstance(room, StoreBudget) else []
    local = cluster is None
    _record(index, record, result, status, wall, saved, evicted, cis, model.hot, fetched, local)
    if cluster is not None and status == "ok":
        publish(index, cluster, record, result, progress)
    zero_weight.record_features(index, dag, record.run_id, result.outcomes)
    pack_when_many_loose(store, index)
    pruning = precision = None
    if status == "ok":
        pruning, precision = reduced.report(
            index, record, zero, result, _tolerance(options, config), progress
        )
    return RunReport(
        run_id=record.run_id,
        revision=record.revision,
        commit=version.commit if not version.dirty and not variant.explored else None,
        status=status,
        wall_seconds=wall,
        saved_seconds=saved,
        metrics=result.metrics,
        nodes=[_node_json(dag, o) for o in result.outcomes.values()],
        failure=result.failure,
        warnings=[*ready.notes, *result.warnings],
        outputs=result.outputs,
        kind=record.kind,
        sample=record.sample,
        seed=record.seed,
        intervals=cis,
        variant=variant if variant.explored else None,
        precision=variant.precision,
        pruning=pruning,
        precision_change=precision,
    )


def _tolerance(options: RunOptions, config: Any) -> float:
    """``--prune-tolerance``, else ``prune_tolerance`` in config.toml (default 1e-3)."""
    return config.prune_tolerance if options.prune_tolerance is None else options.prune_tolerance


def _intervals(
    dag: Dag, result: ExecResult, sample: SampleSpec | None
) -> dict[str, tuple[float, float]]:
    """Bootstrap intervals of the metrics declared ``per_row=True``."""
    seed = sample.seed if sample is not None else 0
    found: dict[str, tuple[float, float]] = {}
    for node in dag:
        per_row = node.kind == "metric" and node.spec.options.get("per_row")
        if per_row and node.name in result.outputs:
            try:
                found.update(intervals(node.name, result.outputs[node.name], seed))
            except NotScores:
                continue
    return found


def recorded_checksums(
    index: Any, store: Any, known: Mapping[str, ObjectRecord], progress: Progress
) -> dict[str, str]:
    """The checksum the index recorded (``known``) for each stored object of a run: a load
    refuses an object that is not the one recorded. A recorded object that is gone from
    the store is reported and forgotten (its value will be computed again)."""
    held = store.has_many(known)
    missing = [k for k in known if k not in held]
    for key in missing:
        progress.warn(
            f"stored object {key[:12]} of operator '{known[key].name}' is missing from the "
            "store; it will be recomputed"
        )
    index.forget_objects(missing)
    return {k: r.checksum for k, r in known.items()}


def _policy(name: str) -> MaterializePolicy:
    try:
        return MaterializePolicy(name)
    except ValueError:
        raise UserInputError(
            f"unknown materialize policy {name!r}; use helix, all or none"
        ) from None


def _run_record(
    dag: Dag,
    version: Version,
    policy: MaterializePolicy,
    executor: str,
    variant: RunVariant,
) -> RunRecord:
    sample = variant.sample
    # an explored variant is a version of its own: never taken for the commit's (or the
    # dirty tree's) run
    explored = variant if variant.explored else None
    return RunRecord(
        run_id=new_run_id(),
        started=_now(),
        finished=None,
        status="running",
        revision=variant.revision(version),
        commit=version.commit,
        fingerprint=variant.fingerprint(version),
        branch=version.branch,
        subject=version.subject if not version.dirty else None,
        author=version.author,
        workflow=dag.workflow,
        sample=sample.fraction if sample else None,
        materialize=policy.value,
        executor=executor,
        pid=os.getpid(),
        host=socket.gethostname(),
        wall_seconds=None,
        saved_seconds=None,
        error=None,
        kind=variant.kind,
        seed=sample.seed if sample else None,
        base_run=variant.base_run or variant.pruned_from,
        variant=json.dumps(explored.to_json(), sort_keys=True, default=repr) if explored else None,
        precision=variant.precision,
        pruned=json.dumps({a: list(b) for a, b in sorted(variant.pruned.items())})
        if variant.pruned
        else None,
    )


def new_run_id() -> str:
    """Sortable by time, unique across processes: 20261128T204301-1a2b3c."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def operator_records(dag: Dag) -> list[OperatorRecord]:
    return [
        OperatorRecord(
            name=n.name,
            kind=n.kind,
            key=n.key,
            code_hash=n.code.hash,
            parents=n.parents,
            position=i,
            file=n.file,
            line=n.line,
            source=n.code.source,
            parts=dict(n.parts),
        )
        for i, n in enumerate(dag)
    ]


def _inputs_seen(cache: StatCache, dag: Dag) -> dict[str, tuple[tuple[str, int, int, int], ...]]:
    """What each source's files were (size, mtime, inode) when the compile took the digests
    in their keys, from the stat cache the compile used."""
    seen: dict[str, tuple[tuple[str, int, int, int], ...]] = {}
    for node in dag:
        if node.kind != "source":
            continue
        base = node.input_root or dag.root
        files = []
        for rel in node.inputs:
            stat = cache.seen(base / rel)
            if stat is None:
                break  # not taken through the cache: nothing to compare with
            files.append((str(base / rel), *stat))
        else:
            seen[node.name] = tuple(files)
    return seen


def _keep_throughput(index: Any, store: Any) -> float:
    """What a kept value's next load will run at, for the keep rule: the hot tier's speed
    while it holds what runs store (a warm server runs, or one this command saw starting:
    the store hands it what it keeps meanwhile), else the store's measured one."""
    from helixvcs.store.hot import HOT_THROUGHPUT, coming

    measured = index.load_throughput(raw=True) or STORE_THROUGHPUT
    hot = getattr(store, "hot", None) is not None or coming()
    return max(measured, HOT_THROUGHPUT) if hot else measured


def _saved_seconds(plan: Plan, result: ExecResult, measured: Mapping[str, float]) -> float:
    """Seconds to compute every needed node, minus what this run spent. A value reused
    counts what computing it took in a run that ended ``ok`` (``measured``, by key): the
    work of failed or interrupted runs, and estimates of work never measured, are not
    time saved."""
    spent = sum(o.seconds for o in result.outcomes.values() if o.state in (COMPUTE, LOAD))
    needed = {
        name: p
        for name, p in plan.nodes.items()
        if p.state != "prune" or p.reason.startswith("pruned: a loaded")
    }
    full = 0.0
    for name, p in needed.items():
        out = result.outcomes[name]
        if out.state == COMPUTE:
            full += out.seconds if out.status == "ok" else p.compute_cost
        else:
            full += measured.get(p.key, 0.0)
    return max(0.0, full - spent)


def _record(
    index: Any,
    record: RunRecord,
    result: ExecResult,
    status: str,
    wall: float,
    saved: float,
    evicted: list[str],
    intervals: dict[str, tuple[float, float]],
    hot: frozenset[str],
    fetched: Mapping[str, Any],
    local: bool = True,
) -> None:
    """Write the run's record; ``local``: its values went to the local store (else to a
    remote, whose objects the local index does not list)."""
    now = _now()
    objects = [
        ObjectRecord(
            key=o.key,
            name=o.name,
            bytes=o.info.bytes,
            raw_bytes=o.info.raw_bytes,
            codec=o.info.codec,
            checksum=o.info.checksum,
            compute_seconds=o.seconds,
            load_seconds=None,
            created=now,
            last_used=now,
            recompute_seconds=o.recompute_seconds,
        )
        for o in result.outcomes.values()
        if o.info is not None
    ] + [  # loaded from a remote: now in the local store
        ObjectRecord(
            key=o.key,
            name=o.name,
            bytes=fetched[o.key].bytes,
            raw_bytes=fetched[o.key].raw_bytes,
            codec=fetched[o.key].codec,
            checksum=fetched[o.key].checksum,
            compute_seconds=0.0,
            load_seconds=None,
            created=now,
            last_used=now,
            recompute_seconds=None,
        )
        for o in result.outcomes.values()
        if o.info is None and o.key in fetched
    ]
    loads = {  # what loading from the store costs: loads from memory say nothing
        o.key: o.load_seconds
        for o in result.outcomes.values()
        if o.state == LOAD and o.status == "ok" and o.load_seconds is not None
        if o.key not in hot and o.key not in fetched
    }
    index.finish_run(
        record.run_id,
        status=status,
        finished=now,
        wall_seconds=wall,
        saved_seconds=saved,
        nodes=[
            NodeRecord(
                name=o.name,
                key=o.key,
                state=o.state,
                seconds=o.seconds,
                load_seconds=o.load_seconds,
                bytes=o.bytes,
                materialized=o.materialized,
                status=o.status,
            )
            for o in result.outcomes.values()
        ],
        metrics=result.metrics,
        error=result.failure.message if result.failure else None,
        intervals=intervals,
        objects=objects if local else (),
        loads=loads if local else None,
        forget=evicted,
    )


def _node_json(dag: Dag, o: Any) -> dict[str, Any]:
    return {
        "name": o.name,
        "key": o.key,
        "state": o.state,
        "seconds": round(o.seconds, 6),
        "bytes": o.bytes,
        "materialized": o.materialized,
        "cutoff": o.cutoff,
    }
