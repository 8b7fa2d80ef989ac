"""``helix plan``: what a run would do, per operator, with the reason and the costs used."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from helixvcs.graph import Dag
from helixvcs.graph.variants import with_sample
from helixvcs.hashing import SampleSpec
from helixvcs.plan import Plan, make_plan
from helixvcs.repo.context import compile_version, cost_model, previous_operators
from helixvcs.repo.records import untracked_data_warnings

if TYPE_CHECKING:
    from helixvcs.repo import Repo


@dataclass(frozen=True)
class PlanReport:
    revision: str
    dag: Dag
    plan: Plan
    warnings: list[str] = field(default_factory=list)  # e.g. untracked data that changed

    def to_json(self) -> dict[str, Any]:
        """The ``helix plan --json`` document (DESIGN.md, "Machine-readable output")."""
        return {
            "revision": self.revision,
            "estimated_seconds": round(self.plan.estimated_seconds, 6),
            "nodes": [
                {
                    "name": p.name,
                    "key": p.key,
                    "state": p.state,
                    "reason": p.reason,
                    "compute_cost": round(p.compute_cost, 6),
                    "load_cost": None if p.load_cost is None else round(p.load_cost, 6),
                    "compute_source": p.compute_source,
                    "load_source": p.load_source,
                }
                for p in self.plan.nodes.values()
            ],
        }


def plan(repo: Repo, rev: str | None = None, sample: SampleSpec | None = None) -> PlanReport:
    index = repo.index
    dag, version = compile_version(repo.layout, rev, reuse=True)
    if sample is not None:
        dag = with_sample(dag, sample)
    result = make_plan(
        dag, cost_model(dag, index, repo.store), previous_operators(index, dag.workflow)
    )
    notes = untracked_data_warnings(index, dag, version, repo.layout.root) if rev else []
    return PlanReport(revision=version.revision, dag=dag, plan=result, warnings=notes)
