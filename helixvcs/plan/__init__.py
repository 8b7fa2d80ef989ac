"""Deciding what to do: compute, load or prune each operator, and what to keep.

Pure functions over plain mappings (no I/O): the cost model turns history into
seconds, ``optimal_states`` solves OPT-EXEC-PLAN exactly as a minimum s-t cut, and the
materialization policy decides online, right after an operator finishes, whether its
value is worth its bytes in the store.
"""

from __future__ import annotations

from helixvcs.plan.costs import CostModel, estimate_load_seconds
from helixvcs.plan.explain import NodePlan, Plan, make_plan
from helixvcs.plan.materialize import MaterializePolicy, should_materialize
from helixvcs.plan.optimizer import COMPUTE, LOAD, PRUNE, optimal_states, plan_cost

__all__ = [
    "COMPUTE",
    "LOAD",
    "PRUNE",
    "CostModel",
    "MaterializePolicy",
    "NodePlan",
    "Plan",
    "estimate_load_seconds",
    "make_plan",
    "optimal_states",
    "plan_cost",
    "should_materialize",
]
