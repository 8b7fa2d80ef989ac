"""``helix status``: which operators changed since HEAD's last run, and what a run would do.

The working tree is compared with HEAD's latest complete run (``records.baseline_run``),
or with its nearest ancestor's when HEAD never ran: runs of other revisions (``helix run
HEAD~3``, a bisect) are never the baseline, so status lists only changes HEAD's history
does not have.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from helixvcs.plan import COMPUTE, LOAD, make_plan
from helixvcs.plan.explain import PreviousOperator, describe_changes
from helixvcs.repo.context import compile_version, cost_model
from helixvcs.repo.records import baseline_run

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
    last_commit: str | None = None  # the commit the compared run ran
    behind: int = 0  # first-parent steps from HEAD back to that commit (0: HEAD itself)

    @property
    def baseline(self) -> str:
        """Which version the run is of: ``HEAD``, ``HEAD~N`` (an ancestor), or the worktree."""
        if self.last_commit is None:
            return "the working tree"
        return "HEAD" if self.behind == 0 else f"HEAD~{self.behind}"

    def to_json(self) -> dict[str, Any]:
        return {
            "last_run": self.last_run,
            "last_revision": self.last_revision,
            "baseline": None
            if self.last_run is None
            else {
                "run_id": self.last_run,
                "revision": self.last_revision,
                "commit": self.last_commit,
                "of": "head" if self.behind == 0 else "ancestor",
                "behind": self.behind,
            },
            "changed": [{"name": k, "reason": v} for k, v in self.changed.items()],
            "removed": self.removed,
            "would_compute": self.compute,
            "would_load": self.load,
            "running": self.running,
        }


def status(repo: Repo) -> StatusReport:
    index = repo.index
    dag, version = compile_version(repo.layout, None, reuse=True)
    with index.reading():  # six questions, one attach of the index for all of them
        found = baseline_run(index, repo.root, dag.workflow, version.commit)
        last = index.run(found[0]) if found else None
        previous = (
            {op.name: PreviousOperator(op.key, op.parts) for op in index.operators(last.run_id)}
            if last
            else {}
        )
        model = cost_model(dag, index, repo.store)
        running = [r.run_id for r in index.runs(status="running")]
    changes = {k: v for k, v in describe_changes(dag, previous).items() if v is not None}
    plan = make_plan(dag, model, previous)
    return StatusReport(
        last_run=last.run_id if last else None,
        last_revision=last.revision if last else None,
        last_commit=last.commit if last else None,
        behind=found[1] if found else 0,
        changed=changes,
        removed=sorted(set(previous) - set(dag.nodes)),
        compute=[n for n, p in plan.nodes.items() if p.state == COMPUTE],
        load=[n for n, p in plan.nodes.items() if p.state == LOAD],
        running=running,
    )
