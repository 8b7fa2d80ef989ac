"""Run a DAG that is no commit's (a hybrid of two versions) without recording a run.

The plan is the usual optimal one, so everything the store holds under the hybrid's
keys is loaded. Nothing new is stored and nothing is written to the index: a hybrid is a
question asked of history, not an iteration, and it must not become the "last run" that
``helix status`` and the planner compare against.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from helixvcs.exec import Progress, RunSettings, execute, get_executor
from helixvcs.graph import Dag
from helixvcs.plan import COMPUTE, MaterializePolicy, make_plan
from helixvcs.plan.costs import replanned
from helixvcs.repo.context import cost_model

if TYPE_CHECKING:
    from helixvcs.repo import Repo


@dataclass(frozen=True)
class Replay:
    metrics: dict[str, float]
    computed: int  # operators computed (the rest were loaded or pruned)
    error: str | None  # the failure message when an operator raised


def replay(repo: Repo, dag: Dag, progress: Progress) -> Replay:
    model = cost_model(dag, repo.index, repo.store)
    plan = make_plan(dag, model)
    executor = get_executor("local")
    try:
        result = execute(
            dag,
            plan.states(),
            store=repo.store,
            executor=executor,
            replan=lambda held, lost: make_plan(dag, replanned(model, held, lost)).states(),
            compute_estimates={name: p.compute_cost for name, p in plan.nodes.items()},
            settings=RunSettings(policy=MaterializePolicy.NONE),
            progress=progress,
        )
    finally:
        executor.close()
    computed = sum(1 for o in result.outcomes.values() if o.state == COMPUTE)
    error = result.failure.message if result.failure else None
    return Replay(result.metrics, computed, error)
