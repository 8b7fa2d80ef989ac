"""OPT-MAT-PLAN, online: keep a freshly computed value if reloading it beats recomputing.

Decided right after an operator finishes (Helix, VLDB 2019): materialize n when

    P(n survives) * (c_n + sum(c_a for ancestors a recomputed without n)) > 2 * l_n

and its bytes fit the storage budget, or can be made to fit by evicting stored objects
worth less per byte (``benefit``). ``P(n survives)`` goes beyond the paper: the
probability that n's key is still current at the next iteration, learnt from history.

Outputs (metrics and declared outputs) are always kept when there is room: they are what
the user looks at, they are small, and keeping them lets an unchanged iteration finish
without computing anything. ``all`` keeps everything that fits (evicting nothing) and
``none`` keeps nothing, for comparison.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum


class MaterializePolicy(StrEnum):
    HELIX = "helix"
    ALL = "all"
    NONE = "none"


def recompute_seconds(
    name: str,
    parents: Mapping[str, Sequence[str]],
    compute_seconds: Mapping[str, float],
    stored: set[str],
) -> float:
    """c_n plus the compute cost of every ancestor reachable without crossing a stored node."""
    total = compute_seconds.get(name, 0.0)
    seen: set[str] = set()
    stack = [p for p in parents[name] if p not in stored]
    while stack:
        a = stack.pop()
        if a in seen:
            continue
        seen.add(a)
        total += compute_seconds.get(a, 0.0)
        stack.extend(p for p in parents[a] if p not in stored)
    return total


def should_materialize(
    policy: MaterializePolicy,
    *,
    recompute: float,
    load_estimate: float,
    probability: float = 1.0,
    is_output: bool = False,
) -> tuple[bool, str]:
    """Whether a value is worth keeping (room in the budget is checked separately).

    ``probability`` is the chance that the operator's key survives the next iteration
    (see ``benefit``): the paper's rule, weighted by how likely the value is reused.
    """
    if policy is MaterializePolicy.NONE:
        return False, "materialize=none"
    if policy is MaterializePolicy.ALL:
        return True, "materialize=all"
    if is_output:
        return True, "an output"
    expected = probability * recompute
    if expected > 2 * load_estimate:
        return True, f"expected recompute {expected:.3g} s > 2 x load {load_estimate:.3g} s"
    return False, f"expected recompute {expected:.3g} s <= 2 x load {load_estimate:.3g} s"
