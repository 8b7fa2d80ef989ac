"""OPT-MAT-PLAN, online: keep a freshly computed value if reloading it beats recomputing.

Decided right after an operator finishes (Helix, VLDB 2019): materialize n when

    c_n + sum(c_a for ancestors a that would have to be recomputed without n) > 2 * l_n

and its bytes fit the remaining storage budget. Outputs (metrics and declared outputs)
are always kept when they fit: they are what the user looks at, they are small, and
keeping them lets an unchanged iteration finish without computing anything. ``all``
keeps everything that fits and ``none`` keeps nothing, for comparison.
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
    nbytes: int,
    free_bytes: int,
    is_output: bool = False,
) -> tuple[bool, str]:
    """The decision and its reason, in words for ``helix plan`` and the run record."""
    if policy is MaterializePolicy.NONE:
        return False, "materialize=none"
    if nbytes > free_bytes:
        return False, f"{nbytes} bytes exceed the remaining budget ({free_bytes} bytes)"
    if policy is MaterializePolicy.ALL:
        return True, "materialize=all"
    if is_output:
        return True, "an output"
    if recompute > 2 * load_estimate:
        return True, f"recompute {recompute:.3g} s > 2 x load {load_estimate:.3g} s"
    return False, f"recompute {recompute:.3g} s <= 2 x load {load_estimate:.3g} s"
