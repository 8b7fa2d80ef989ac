"""``helix run``: compile, plan, execute, record.

The run is registered in the index as ``running`` before anything executes, so a
concurrent ``helix log`` shows it and a killed run is later marked ``interrupted``;
everything else about it is written in one short transaction at the end.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from helixvcs.exec import ExecResult, OperatorFailure, Progress, RunSettings, execute, get_executor
from helixvcs.graph import Dag
from helixvcs.index import NodeRecord, ObjectRecord, OperatorRecord, RunRecord
from helixvcs.plan import COMPUTE, LOAD, MaterializePolicy, Plan, make_plan
from helixvcs.plan.benefit import default_probability, survival_probabilities
from helixvcs.plan.costs import replanned
from helixvcs.repo.budget import StoreBudget
from helixvcs.repo.context import compile_version, cost_model, previous_operators
from helixvcs.repo.history import untracked_data_warnings
from helixvcs.vcs import MergeInProgress, Version, merge_in_progress

if TYPE_CHECKING:
    from helixvcs.repo import Repo


@dataclass(frozen=True)
class RunOptions:
    rev: str | None = None  # a commit to run; None runs the working tree
    materialize: str | None = None
    budget: int | None = None
    executor: str | None = None
    scheduler: str | None = None  # a Dask scheduler's address; implies the dask executor


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

    def to_json(self) -> dict[str, Any]:
        """The ``helix run --json`` document (DESIGN.md, "Machine-readable output")."""
        return {
            "run_id": self.run_id,
            "revision": self.revision,
            "commit": self.commit,
            "status": self.status,
            "wall_seconds": round(self.wall_seconds, 6),
            "saved_seconds": round(self.saved_seconds, 6),
            "sample": None,
            "metrics": self.metrics,
            "nodes": self.nodes,
        }

    def count(self, state: str) -> int:
        return sum(1 for n in self.nodes if n["state"] == state)

    def summary(self) -> str:
        """One line: counts, wall time and time saved."""
        c, lo, p = self.count("compute"), self.count("load"), self.count("prune")
        return (
            f"{c} computed, {lo} loaded, {p} pruned in {self.wall_seconds:.2f} s "
            f"(saved ~{self.saved_seconds:.2f} s)"
        )


def run(repo: Repo, options: RunOptions, progress: Progress) -> RunReport:
    layout, index, store = repo.layout, repo.index, repo.store
    config = layout.read_config()
    policy = _policy(options.materialize or config.materialize)
    executor = get_executor(
        options.executor or ("dask" if options.scheduler else config.executor), options.scheduler
    )
    budget = options.budget if options.budget is not None else config.max_store_bytes
    index.ensure()
    index.mark_interrupted()
    if options.rev is None and merge_in_progress(layout.root):
        raise MergeInProgress(layout.root)
    dag, version = compile_version(layout, options.rev)
    notes = untracked_data_warnings(index, dag, version, layout.root) if options.rev else []
    for note in notes:
        progress.warn(note)
    model = cost_model(dag, index, store)
    plan = make_plan(dag, model, previous_operators(index, dag.workflow))
    probabilities = survival_probabilities(index.key_history(dag.workflow))
    room = StoreBudget(
        budget,
        store,
        index,
        protected=set(dag.keys().values()) | index.running_keys(),
        probabilities=probabilities,
        current_keys=dag.keys(),
    )
    record = _run_record(dag, version, policy, executor.name)
    executor.open(store)  # workers unreachable, or blind to the store: exit 2, nothing recorded
    try:
        index.begin_run(record, operator_records(dag))
    except BaseException:
        executor.close()
        raise
    started = time.perf_counter()
    status, result = "failed", None
    try:
        result = execute(
            dag,
            plan.states(),
            store=store,
            executor=executor,
            replan=lambda held, lost: make_plan(dag, replanned(model, held, lost)).states(),
            compute_estimates={name: p.compute_cost for name, p in plan.nodes.items()},
            settings=RunSettings(
                policy=policy,
                budget=room,
                probabilities=probabilities,
                default_probability=default_probability(),
            ),
            progress=progress,
            run_id=record.run_id,
        )
        status = "ok" if result.failure is None else "failed"
    finally:
        wall = time.perf_counter() - started
        if result is None:  # interrupted (KeyboardInterrupt) or a bug: never leave 'running'
            index.finish_run(
                record.run_id,
                status="interrupted",
                finished=_now(),
                wall_seconds=wall,
                saved_seconds=0.0,
                nodes=[],
                metrics={},
                error="interrupted",
            )
        executor.close()
    saved = _saved_seconds(plan, result) if status == "ok" else 0.0
    _record(index, record, result, status, wall, saved, room.evicted)
    return RunReport(
        run_id=record.run_id,
        revision=version.revision,
        commit=version.commit if not version.dirty else None,
        status=status,
        wall_seconds=wall,
        saved_seconds=saved,
        metrics=result.metrics,
        nodes=[_node_json(dag, o) for o in result.outcomes.values()],
        failure=result.failure,
        warnings=[*notes, *result.warnings],
        outputs=result.outputs,
    )


def _policy(name: str) -> MaterializePolicy:
    from helixvcs.errors import UserInputError

    try:
        return MaterializePolicy(name)
    except ValueError:
        raise UserInputError(
            f"unknown materialize policy {name!r}; use helix, all or none"
        ) from None


def _run_record(dag: Dag, version: Version, policy: MaterializePolicy, executor: str) -> RunRecord:
    return RunRecord(
        run_id=new_run_id(),
        started=_now(),
        finished=None,
        status="running",
        revision=version.revision,
        commit=version.commit,
        fingerprint=version.fingerprint,
        branch=version.branch,
        subject=version.subject if not version.dirty else None,
        author=version.author,
        workflow=dag.workflow,
        sample=None,
        materialize=policy.value,
        executor=executor,
        pid=os.getpid(),
        host=socket.gethostname(),
        wall_seconds=None,
        saved_seconds=None,
        error=None,
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


def _saved_seconds(plan: Plan, result: ExecResult) -> float:
    """Estimated seconds to compute every needed node, minus what this run spent."""
    spent = sum(o.seconds for o in result.outcomes.values() if o.state in (COMPUTE, LOAD))
    full = 0.0
    for name, p in plan.nodes.items():
        out = result.outcomes[name]
        if p.state != "prune" or p.reason.startswith("pruned: a loaded"):
            full += out.seconds if out.state == COMPUTE and out.status == "ok" else p.compute_cost
    return max(0.0, full - spent)


def _record(
    index: Any,
    record: RunRecord,
    result: ExecResult,
    status: str,
    wall: float,
    saved: float,
    evicted: list[str],
) -> None:
    now = _now()
    index.forget_objects(evicted)
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
    ]
    index.record_objects(objects)
    index.record_loads(
        {
            o.key: o.load_seconds
            for o in result.outcomes.values()
            if o.state == LOAD and o.status == "ok" and o.load_seconds is not None
        }
    )
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
    )


def _node_json(dag: Dag, o: Any) -> dict[str, Any]:
    return {
        "name": o.name,
        "key": o.key,
        "state": o.state,
        "seconds": round(o.seconds, 6),
        "bytes": o.bytes,
        "materialized": o.materialized,
    }
