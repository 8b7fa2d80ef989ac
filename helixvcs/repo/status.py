"""``helix status``: which operators changed since the last run, and what a run would do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from helixvcs.plan import COMPUTE, LOAD, make_plan
from helixvcs.plan.explain import describe_changes
from helixvcs.repo.context import compile_tree, cost_model, previous_operators

if TYPE_CHECKING:
    from helixvcs.repo import Repo


@dataclass(frozen=True)
class StatusReport:
    last_run: str | None
    last_revision: str | None
    changed: dict[str, str]  # operator -> what changed
    removed: list[str]
    compute: list[str]
    load: list[str]
    running: list[str]  # run ids in progress

    def to_json(self) -> dict[str, Any]:
        return {
            "last_run": self.last_run,
            "last_revision": self.last_revision,
            "changed": [{"name": k, "reason": v} for k, v in self.changed.items()],
            "removed": self.removed,
            "would_compute": self.compute,
            "would_load": self.load,
            "running": self.running,
        }


def status(repo: Repo) -> StatusReport:
    index = repo.index
    dag = compile_tree(repo.layout, reuse=True)
    previous = previous_operators(index, dag.workflow)
    last = index.last_run(status="ok", workflow=dag.workflow)
    changes = {k: v for k, v in describe_changes(dag, previous).items() if v is not None}
    plan = make_plan(dag, cost_model(dag, index, repo.store), previous)
    return StatusReport(
        last_run=last.run_id if last else None,
        last_revision=last.revision if last else None,
        changed=changes,
        removed=sorted(set(previous) - set(dag.nodes)),
        compute=[n for n, p in plan.nodes.items() if p.state == COMPUTE],
        load=[n for n, p in plan.nodes.items() if p.state == LOAD],
        running=[r.run_id for r in index.runs(status="running")],
    )
