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

from collections.abc import Mapping, Sequence, Set
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


class Upstream:
    """``recompute_seconds`` for every node of one run: a few bitset operations per edge.

    The rule sums over the *set* of unstored ancestors, so a node's total is not the sum of
    its parents' totals (a shared ancestor would count twice). Each node's set is kept as a
    bitset (a Python int, one bit a node) built from its parents' sets, with the sum over
    it: a parent whose set adds nothing new costs one AND, and otherwise only the smaller of
    the new bits and the overlapping bits is walked, so a fan-in over a shared ancestor
    costs a few big-int operations instead of a walk over every ancestor.

    ``parents``, ``seconds`` and ``stored`` are read live (the run's own mappings); call
    ``changed(name)`` whenever ``name`` is added to or removed from ``stored`` or its
    seconds change. Totals are remembered; a change to a node some remembered total
    depends on forgets them all, which a run's normal order (a node's stored state and
    seconds settle before any descendant asks) never triggers.
    """

    def __init__(
        self,
        parents: Mapping[str, Sequence[str]],
        seconds: Mapping[str, float],
        stored: Set[str],
        loads: Mapping[str, float] | None = None,
    ) -> None:
        self.parents, self.seconds, self.stored = parents, seconds, stored
        self.loads: Mapping[str, float] = loads if loads is not None else {}
        self.bit = {name: 1 << i for i, name in enumerate(parents)}
        self.names = list(parents)
        # name -> (unstored ancestors, their seconds, the stored nodes they read, their loads)
        self.memo: dict[str, tuple[int, float, int, float]] = {}
        self.depends = 0  # every node some remembered total read

    def recompute_seconds(self, name: str) -> float:
        """Exactly ``recompute_seconds(name, parents, seconds, stored)``."""
        return self.seconds.get(name, 0.0) + self._upstream(name)[1]

    def frontier_load_seconds(self, name: str) -> float:
        """What recomputing ``name`` must load: the ``loads`` of the stored nodes that it
        or its unstored ancestors read, each once. Call ``changed`` when a load changes."""
        return self._upstream(name)[3]

    def changed(self, name: str) -> None:
        if self.depends & self.bit[name]:
            self.memo.clear()
            self.depends = 0

    def _upstream(self, name: str) -> tuple[int, float, int, float]:
        memo = self.memo.get(name)
        if memo is not None:
            return memo
        known, stored = self.memo, self.stored
        if all(p in known or p in stored for p in self.parents[name]):  # a run's usual order
            memo = known[name] = self._combine(name)
            return memo
        for node in self._unsolved(name):  # parents first, without recursion
            self.memo[node] = self._combine(node)
        return self.memo[name]

    def _unsolved(self, name: str) -> list[str]:
        """``name`` and its unstored ancestors without a remembered total, parents first."""
        order: list[str] = []
        expanded: set[str] = set()
        stack: list[tuple[str, bool]] = [(name, False)]
        while stack:
            node, done = stack.pop()
            if done:
                order.append(node)
                continue
            if node in expanded:
                continue
            expanded.add(node)
            stack.append((node, True))
            for p in self.parents[node]:
                if p not in expanded and p not in self.stored and p not in self.memo:
                    stack.append((p, False))
        return order

    def _combine(self, name: str) -> tuple[int, float, int, float]:
        mask, total, depends = 0, 0.0, 0  # name's own state and seconds do not count
        f_mask, f_total = 0, 0.0
        for p in self.parents[name]:
            depends |= self.bit[p]
            if p in self.stored:
                if not f_mask & self.bit[p]:
                    f_mask |= self.bit[p]
                    f_total += self.loads.get(p, 0.0)
                continue
            p_mask, p_total, p_f_mask, p_f_total = self.memo[p]
            p_mask |= self.bit[p]
            p_total += self.seconds.get(p, 0.0)
            depends |= p_mask | p_f_mask
            mask, total = self._merge(mask, total, p_mask, p_total, self.seconds)
            f_mask, f_total = self._merge(f_mask, f_total, p_f_mask, p_f_total, self.loads)
        self.depends |= depends
        return mask, total, f_mask, f_total

    def _merge(
        self, mask: int, total: float, p_mask: int, p_total: float, of: Mapping[str, float]
    ) -> tuple[int, float]:
        """The union of two sets of nodes and the sum of ``of`` over it, from each set's
        sum: only the smaller of the new and the shared bits is walked."""
        overlap = mask & p_mask
        if not overlap:
            total += p_total
        elif overlap != p_mask:
            new = p_mask & ~mask
            if new.bit_count() <= overlap.bit_count():
                total += self._sum(new, of)
            else:
                total += p_total - self._sum(overlap, of)
        return mask | p_mask, total

    def _sum(self, mask: int, of: Mapping[str, float]) -> float:
        total, seconds, names = 0.0, of, self.names
        if mask.bit_count() < 32:  # few bits: peel them off
            while mask:
                low = mask & -mask
                total += seconds.get(names[low.bit_length() - 1], 0.0)
                mask ^= low
            return total
        data = mask.to_bytes((mask.bit_length() + 7) // 8, "little")
        for i, byte in enumerate(data):  # many: a byte at a time
            if byte:
                for j in _BITS[byte]:
                    total += seconds.get(names[8 * i + j], 0.0)
        return total


_BITS = [tuple(j for j in range(8) if byte >> j & 1) for byte in range(256)]


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
